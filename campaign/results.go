package campaign

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"
)

// Results is what the console's results page draws for one campaign.
type Results struct {
	Stats
	OrderedBuyers  int             // distinct visitors who placed an order, paid or not
	Refunds        int             // refunded orders
	RefundedAmount decimal.Decimal // their amount
	CommissionHeld decimal.Decimal // in a hold period, not yet claimable
	// Claimed is what sharers of the whole shop have claimed as red packets, net of packets
	// returned unopened: a vault pools a sharer's commissions of every campaign, so claims
	// cannot be told apart by campaign.
	Claimed  decimal.Decimal
	Frozen   decimal.Decimal // frozen into the reserve: publish, stock added, voided commissions
	Released decimal.Decimal // released back to the available assets
	Sales    []SalesPoint
	Hourly   bool // Sales are per hour (short campaigns), not per day
	Sharers  []SharerRank
	// Generations are the buyers of each generation of the share tree; see Spread.
	Generations []Generation
	// Viral is the viral coefficient K (see Spread); HasViral is false without buyers.
	Viral    float64
	HasViral bool
}

// SalesPoint is the paid orders of one day (or hour), in the console's time zone.
type SalesPoint struct {
	At     time.Time
	Orders int             `db:"orders"`
	Units  int             `db:"units"`
	Amount decimal.Decimal `db:"amount"`
}

// SharerRank is one line of the sharers leaderboard.
type SharerRank struct {
	SharerID   int64           `db:"sharer_id"`
	Name       string          `db:"name"`
	Avatar     string          `db:"avatar"`
	Bound      int             `db:"bound"` // visitors bound to this sharer
	Orders     int             `db:"orders"`
	Units      int             `db:"units"`
	Commission decimal.Decimal `db:"commission"`
}

// Generation counts the people and buyers at one depth of the share tree.
type Generation struct {
	Gen    int `db:"gen"`
	People int `db:"people"`
	Buyers int `db:"buyers"`
}

const resultsSQL = `
SELECT
  (SELECT count(DISTINCT buyer_id) FROM orders WHERE campaign_id = $1) AS ordered_buyers,
  (SELECT count(*) FROM orders WHERE campaign_id = $1 AND status = 'refunded') AS refunds,
  (SELECT COALESCE(sum(amount), 0) FROM orders WHERE campaign_id = $1 AND status = 'refunded') AS refunded_amount,
  (SELECT COALESCE(sum(commission), 0) FROM orders WHERE campaign_id = $1 AND commission_status = 'held') AS commission_held,
  (SELECT COALESCE(sum(amount) FILTER (WHERE kind = 'claim'), 0) - COALESCE(sum(amount) FILTER (WHERE kind = 'payout_returned'), 0)
     FROM transfers WHERE merchant_id = $2 AND kind IN ('claim', 'payout_returned')) AS claimed,
  (SELECT COALESCE(sum(amount), 0) FROM transfers WHERE merchant_id = $2 AND campaign_id = $1 AND kind IN ('freeze', 'commission_void')) AS frozen,
  (SELECT COALESCE(sum(amount), 0) FROM transfers WHERE merchant_id = $2 AND campaign_id = $1 AND kind = 'release') AS released`

// salesSQL buckets paid orders by day or hour ($3, from a fixed pair) in time zone $2.
const salesSQL = `
SELECT to_char(date_trunc($3, paid_at AT TIME ZONE $2), 'YYYY-MM-DD HH24:00') AS bucket,
       count(*) AS orders, COALESCE(sum(qty), 0) AS units, COALESCE(sum(amount), 0) AS amount
FROM orders WHERE campaign_id = $1 AND status IN ('paid', 'refunded')
GROUP BY 1 ORDER BY 1`

const sharersSQL = `
SELECT o.sharer_id, u.nickname AS name, u.avatar_url AS avatar,
       (SELECT count(*) FROM bindings b WHERE b.campaign_id = $1 AND b.sharer_id = o.sharer_id) AS bound,
       count(*) AS orders, sum(o.qty) AS units, sum(o.commission) AS commission
FROM orders o JOIN wechat_users u ON u.id = o.sharer_id
WHERE o.campaign_id = $1 AND o.commission_status IN ('earned', 'held')
GROUP BY o.sharer_id, u.nickname, u.avatar_url
ORDER BY commission DESC, units DESC, o.sharer_id
LIMIT 10`

// spreadSQL walks the share tree from its roots: everyone who took part (visited, shared,
// was bound or bought) and is bound to no sharer is generation 1; whoever is bound to a
// person of generation g is generation g+1. A binding names one sharer per visitor, so the
// walk reaches each person once. People it never reaches sit on a loop of bindings (A opened
// B's link after B had opened A's, and the first binding was overwritten): they count as
// generation 1, as nobody in the data brought them.
const spreadSQL = `
WITH RECURSIVE people AS (
    SELECT visitor_id AS id FROM visits WHERE campaign_id = $1
    UNION SELECT visitor_id FROM bindings WHERE campaign_id = $1
    UNION SELECT sharer_id FROM bindings WHERE campaign_id = $1
    UNION SELECT buyer_id FROM orders WHERE campaign_id = $1 AND status IN ('paid', 'refunded')
), tree (id, gen) AS (
    SELECT p.id, 1 FROM people p
    WHERE NOT EXISTS (SELECT 1 FROM bindings b WHERE b.campaign_id = $1 AND b.visitor_id = p.id)
    UNION ALL
    SELECT b.visitor_id, t.gen + 1 FROM tree t JOIN bindings b ON b.campaign_id = $1 AND b.sharer_id = t.id
    WHERE t.gen < 100
), buyers AS (
    SELECT DISTINCT buyer_id AS id FROM orders WHERE campaign_id = $1 AND status IN ('paid', 'refunded')
)
SELECT COALESCE(t.gen, 1) AS gen, count(*) AS people, count(b.id) AS buyers
FROM people p LEFT JOIN tree t ON t.id = p.id LEFT JOIN buyers b ON b.id = p.id
GROUP BY 1 ORDER BY 1`

// Results gathers a campaign's results; loc is the time zone of the sales buckets.
func (s *Service) Results(ctx context.Context, merchantID, campaignID int64, loc *time.Location) (*Results, error) {
	c, err := s.Get(ctx, merchantID, campaignID)
	if err != nil {
		return nil, err
	}
	r := &Results{}
	if r.Stats, err = s.Stats(ctx, c); err != nil {
		return nil, err
	}
	var extra struct {
		OrderedBuyers  int             `db:"ordered_buyers"`
		Refunds        int             `db:"refunds"`
		RefundedAmount decimal.Decimal `db:"refunded_amount"`
		CommissionHeld decimal.Decimal `db:"commission_held"`
		Claimed        decimal.Decimal `db:"claimed"`
		Frozen         decimal.Decimal `db:"frozen"`
		Released       decimal.Decimal `db:"released"`
	}
	if err := s.db.GetContext(ctx, &extra, resultsSQL, c.ID, merchantID); err != nil {
		return nil, fmt.Errorf("campaign: results of %d: %w", c.ID, err)
	}
	r.OrderedBuyers, r.Refunds, r.RefundedAmount, r.CommissionHeld = extra.OrderedBuyers, extra.Refunds, extra.RefundedAmount, extra.CommissionHeld
	r.Claimed, r.Frozen, r.Released = extra.Claimed, extra.Frozen, extra.Released

	if r.Sales, r.Hourly, err = s.sales(ctx, c, loc); err != nil {
		return nil, err
	}
	if err := s.db.SelectContext(ctx, &r.Sharers, sharersSQL, c.ID); err != nil {
		return nil, fmt.Errorf("campaign: sharers of %d: %w", c.ID, err)
	}
	if r.Generations, err = s.spread(ctx, c.ID); err != nil {
		return nil, fmt.Errorf("campaign: spread of %d: %w", c.ID, err)
	}
	r.Viral, r.HasViral = Spread(r.Generations)
	return r, nil
}

// spread reads the share tree's generations with JIT compilation off: the recursive walk's
// row estimate is wild (billions), which made PostgreSQL spend 300-585 ms compiling a
// query that runs in less at 100k orders.
func (s *Service) spread(ctx context.Context, campaignID int64) ([]Generation, error) {
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck
	if _, err := tx.ExecContext(ctx, `SET LOCAL jit = off`); err != nil {
		return nil, err
	}
	var gens []Generation
	if err := sqlx.SelectContext(ctx, tx, &gens, spreadSQL, campaignID); err != nil {
		return nil, err
	}
	return gens, tx.Commit()
}

// Spread is the viral coefficient K of a share tree: the buyers of generations 2…n divided
// by the buyers of generations 1…n−1, n being the deepest generation with a buyer. If each
// generation had K times the buyers of the one before, this is exactly K: above 1 every
// generation of buyers brings a bigger one (the campaign spreads by itself), below 1 it dies
// out and growth has to come from direct visitors. ok is false when nobody bought.
func Spread(gens []Generation) (k float64, ok bool) {
	last := 0
	for _, g := range gens {
		if g.Buyers > 0 && g.Gen > last {
			last = g.Gen
		}
	}
	if last == 0 {
		return 0, false
	}
	var parents, children int
	for _, g := range gens {
		if g.Gen >= 2 && g.Gen <= last {
			children += g.Buyers
		}
		if g.Gen <= last-1 {
			parents += g.Buyers
		}
	}
	if parents == 0 { // nobody bought directly or in between: K is the count of the deepest
		return float64(children), true
	}
	return float64(children) / float64(parents), true
}

// sales buckets the paid orders per hour for campaigns of up to two days, per day otherwise,
// with empty buckets filled over the whole campaign (the days to come show how far it is).
func (s *Service) sales(ctx context.Context, c *Campaign, loc *time.Location) ([]SalesPoint, bool, error) {
	hourly := c.EndsAt.Sub(c.StartsAt) <= 48*time.Hour
	unit, layout := "day", "2006-01-02 15:04"
	if hourly {
		unit = "hour"
	}
	var rows []struct {
		Bucket string `db:"bucket"`
		SalesPoint
	}
	if err := s.db.SelectContext(ctx, &rows, salesSQL, c.ID, loc.String(), unit); err != nil {
		return nil, false, fmt.Errorf("campaign: sales of %d: %w", c.ID, err)
	}
	byBucket := map[time.Time]SalesPoint{}
	for _, r := range rows {
		at, err := time.ParseInLocation(layout, r.Bucket, loc)
		if err != nil {
			return nil, false, err
		}
		r.SalesPoint.At = at
		byBucket[at] = r.SalesPoint
	}
	trunc := func(t time.Time) time.Time {
		t = t.In(loc)
		if hourly {
			return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, loc)
		}
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	}
	from, to := trunc(c.StartsAt), trunc(c.EndsAt.Add(-time.Nanosecond))
	for at := range byBucket {
		if at.Before(from) {
			from = at
		}
		if at.After(to) {
			to = at
		}
	}
	var out []SalesPoint
	for at := from; !at.After(to) && len(out) < 400; {
		p := byBucket[at]
		p.At = at
		out = append(out, p)
		if hourly {
			at = at.Add(time.Hour)
		} else {
			at = at.AddDate(0, 0, 1)
		}
	}
	return out, hourly, nil
}
