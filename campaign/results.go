package campaign

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
	"golang.org/x/sync/errgroup"
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

// NetAmount is what the buyers paid less what was refunded to them: the page's 成交额.
func (r *Results) NetAmount() decimal.Decimal { return r.PaidAmount.Sub(r.RefundedAmount) }

// SalesPoint is the paid orders of one day (or hour), in the console's time zone.
type SalesPoint struct {
	At     time.Time       `db:"at"`
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

// moneySQL sums the campaign's ledger movements the results page shows.
const moneySQL = `
SELECT
  (SELECT COALESCE(sum(amount) FILTER (WHERE kind = 'claim'), 0) - COALESCE(sum(amount) FILTER (WHERE kind = 'payout_returned'), 0)
     FROM transfers WHERE merchant_id = $2 AND kind IN ('claim', 'payout_returned')) AS claimed,
  (SELECT COALESCE(sum(amount), 0) FROM transfers WHERE merchant_id = $2 AND campaign_id = $1 AND kind IN ('freeze', 'commission_void')) AS frozen,
  (SELECT COALESCE(sum(amount), 0) FROM transfers WHERE merchant_id = $2 AND campaign_id = $1 AND kind = 'release') AS released`

// salesSQL sums the campaign's quarter-hour sales buckets (figures.go) by day or hour ($3,
// from a fixed pair) in time zone $2: every zone's offset is whole quarters of an hour.
const salesSQL = `
SELECT date_trunc($3, at, $2) AS at, sum(orders) AS orders, sum(units) AS units, sum(amount) AS amount
FROM campaign_sales WHERE campaign_id = $1
GROUP BY 1 ORDER BY 1`

// sharersSQL ranks the earning sharers (figures.go), then names the ten and counts the
// visitors bound to each (bindings_sharer).
const sharersSQL = `
SELECT o.sharer_id, u.nickname AS name, u.avatar_url AS avatar, o.orders, o.units, o.commission,
       (SELECT count(*) FROM bindings b WHERE b.campaign_id = $1 AND b.sharer_id = o.sharer_id) AS bound
FROM (SELECT sharer_id, orders, units, commission FROM campaign_sharers WHERE campaign_id = $1 AND orders > 0
      ORDER BY commission DESC, units DESC, sharer_id LIMIT 10) o
JOIN wechat_users u ON u.id = o.sharer_id
ORDER BY o.commission DESC, o.units DESC, o.sharer_id`

// spreadSQL counts the bound visitors and their buyers per generation (bindings_spread).
const spreadSQL = `
SELECT gen, count(*) AS people, count(*) FILTER (WHERE bought) AS buyers
FROM bindings WHERE campaign_id = $1 GROUP BY gen ORDER BY gen`

// Results gathers a campaign's results; loc is the time zone of the sales buckets. Its
// queries read different rows and wait on nothing but PostgreSQL: they run at once, on
// connections of their own, so the page takes as long as the slowest rather than their sum.
func (s *Service) Results(ctx context.Context, merchantID, campaignID int64, loc *time.Location) (*Results, error) {
	c, err := s.Get(ctx, merchantID, campaignID)
	if err != nil {
		return nil, err
	}
	r := &Results{}
	var (
		sum   summary
		money struct {
			Claimed  decimal.Decimal `db:"claimed"`
			Frozen   decimal.Decimal `db:"frozen"`
			Released decimal.Decimal `db:"released"`
		}
		bound []Generation
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { sum, err = s.summary(gctx, c); return err })
	g.Go(func() error {
		if err := s.db.GetContext(gctx, &money, moneySQL, c.ID, merchantID); err != nil {
			return fmt.Errorf("campaign: results of %d: %w", c.ID, err)
		}
		return nil
	})
	g.Go(func() (err error) { r.Sales, r.Hourly, err = s.sales(gctx, c, loc); return err })
	g.Go(func() error {
		if err := s.db.SelectContext(gctx, &r.Sharers, sharersSQL, c.ID); err != nil {
			return fmt.Errorf("campaign: sharers of %d: %w", c.ID, err)
		}
		return nil
	})
	g.Go(func() error {
		if err := s.db.SelectContext(gctx, &bound, spreadSQL, c.ID); err != nil {
			return fmt.Errorf("campaign: spread of %d: %w", c.ID, err)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	r.Stats, r.OrderedBuyers, r.Refunds, r.RefundedAmount, r.CommissionHeld = sum.Stats, sum.OrderedBuyers, sum.Refunds, sum.RefundedAmount, sum.CommissionHeld
	r.Claimed, r.Frozen, r.Released = money.Claimed, money.Frozen, money.Released
	r.Generations = generations(r.Visitors, r.Buyers, bound)
	r.Viral, r.HasViral = Spread(r.Generations)
	return r, nil
}

// generations completes the bound generations (2 and on) with generation 1: the visitors
// bound to nobody, and the paid buyers not among the bound ones. Everyone bound opened the
// page through the link that bound them, so they are among the visitors; a binding whose view
// is still on its way in a batch could make the difference short for a moment, hence the
// floor of generation 1's own buyers.
func generations(visitors, buyers int, bound []Generation) []Generation {
	first := Generation{Gen: 1, People: visitors, Buyers: buyers}
	for _, g := range bound {
		first.People -= g.People
		first.Buyers -= g.Buyers
	}
	first.Buyers = max(first.Buyers, 0)
	first.People = max(first.People, first.Buyers)
	if first.People == 0 && len(bound) == 0 {
		return []Generation{}
	}
	return append([]Generation{first}, bound...)
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
	unit := "day"
	if hourly {
		unit = "hour"
	}
	var rows []SalesPoint
	if err := s.db.SelectContext(ctx, &rows, salesSQL, c.ID, loc.String(), unit); err != nil {
		return nil, false, fmt.Errorf("campaign: sales of %d: %w", c.ID, err)
	}
	byBucket := map[time.Time]SalesPoint{}
	for _, r := range rows {
		r.At = r.At.In(loc)
		byBucket[r.At] = r
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
