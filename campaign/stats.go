package campaign

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/lib/pq"
	"github.com/shopspring/decimal"
)

const oneMinute = time.Minute

// Stats are a campaign's key numbers, for the landing page and the console.
type Stats struct {
	Participants int             `db:"participants"` // distinct sharers who earned a commission
	Buyers       int             `db:"buyers"`       // distinct buyers with a paid order
	Views        int             `db:"views"`
	Visitors     int             `db:"visitors"`
	Shares       int             `db:"shares"`
	PaidOrders   int             `db:"paid_orders"`
	UnitsSold    int             `db:"units_sold"`
	PaidAmount   decimal.Decimal `db:"paid_amount"`
	Commissions  decimal.Decimal `db:"commissions"` // earned and held, voids excluded
	Reserve      decimal.Decimal `db:"reserve"`
}

// summarySQL reads a campaign's numbers: the order figures from the campaign row and the
// commissions from the earning sharers' rows (both kept as orders are paid and refunded,
// figures.go), the held commissions from the held orders alone (orders_held_commissions), the visits and
// shares from their own rows.
const summarySQL = `
SELECT
  e.participants, c.paid_buyers AS buyers,
  (SELECT count(*) FROM campaign_buyers WHERE campaign_id = $1) AS ordered_buyers,
  v.views, v.visitors,
  (SELECT count(*) FROM shares WHERE campaign_id = $1) AS shares,
  c.paid_orders, c.sold AS units_sold, c.paid_amount, e.commissions, c.refunded_orders AS refunds, c.refunded_amount,
  (SELECT COALESCE(sum(commission / qty * (qty - voided_qty)), 0) FROM orders WHERE campaign_id = $1 AND commission_status = 'held') AS commission_held,
  (SELECT COALESCE(sum(balance), 0) FROM accounts WHERE merchant_id = $2 AND kind = 'reserve' AND ref_id = $1) AS reserve
FROM campaigns c,
     (SELECT COALESCE(sum(views), 0) AS views, count(*) AS visitors FROM visits WHERE campaign_id = $1) v,
     (SELECT count(*) FILTER (WHERE orders > 0) AS participants, COALESCE(sum(commission), 0) AS commissions
      FROM campaign_sharers WHERE campaign_id = $1) e
WHERE c.merchant_id = $2 AND c.id = $1`

// summary is Stats with the order figures only the results page shows.
type summary struct {
	Stats
	OrderedBuyers  int             `db:"ordered_buyers"`
	Refunds        int             `db:"refunds"`
	RefundedAmount decimal.Decimal `db:"refunded_amount"`
	CommissionHeld decimal.Decimal `db:"commission_held"`
}

func (s *Service) summary(ctx context.Context, c *Campaign) (summary, error) {
	var sum summary
	if err := s.db.GetContext(ctx, &sum, summarySQL, c.ID, c.MerchantID); err != nil {
		return summary{}, fmt.Errorf("campaign: stats of %d: %w", c.ID, err)
	}
	return sum, nil
}

// Stats returns a campaign's key numbers.
func (s *Service) Stats(ctx context.Context, c *Campaign) (Stats, error) {
	sum, err := s.summary(ctx, c)
	return sum.Stats, err
}

// RecordView counts a page view by a signed-in visitor.
func (s *Service) RecordView(ctx context.Context, c *Campaign, visitorID int64) error {
	return s.RecordViews(ctx, []View{{CampaignID: c.ID, MerchantID: c.MerchantID, VisitorID: visitorID}})
}

// View is one page view of a campaign by a signed-in visitor.
type View struct{ CampaignID, MerchantID, VisitorID int64 }

// recordViewsSQL adds each visitor's views in one statement, rows in key order so that two
// replicas writing batches at once lock shared rows in the same order (no deadlock).
const recordViewsSQL = `
INSERT INTO visits (campaign_id, visitor_id, merchant_id, views, first_at, last_at)
SELECT c, v, m, n, $5, $5 FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::int[]) AS t(c, v, m, n) ORDER BY c, v
ON CONFLICT (campaign_id, visitor_id) DO UPDATE SET views = visits.views + EXCLUDED.views, last_at = EXCLUDED.last_at`

// RecordViews counts many page views in one write, as a busy landing page produces them: the
// views of one visitor of one campaign are added up first (a statement may change a row only
// once).
func (s *Service) RecordViews(ctx context.Context, views []View) error {
	type key struct{ campaign, visitor int64 }
	counts := map[key]int{}
	merchant := map[int64]int64{}
	for _, v := range views {
		counts[key{v.CampaignID, v.VisitorID}]++
		merchant[v.CampaignID] = v.MerchantID
	}
	var camps, visitors, merchants, ns []int64
	for k, n := range counts {
		camps, visitors = append(camps, k.campaign), append(visitors, k.visitor)
		merchants, ns = append(merchants, merchant[k.campaign]), append(ns, int64(n))
	}
	if len(ns) == 0 {
		return nil
	}
	_, err := s.db.ExecContext(ctx, recordViewsSQL, pq.Array(camps), pq.Array(visitors), pq.Array(merchants), pq.Array(ns), s.now())
	if err != nil {
		return fmt.Errorf("campaign: record %d views: %w", len(views), err)
	}
	return nil
}

// RecordShare counts a share (chat, moments, poster, link): at most one per sharer and channel
// a minute, so a script posting share events cannot inflate the merchant's numbers. Shares
// past that are dropped without an error: the page has nothing to tell the sharer.
func (s *Service) RecordShare(ctx context.Context, c *Campaign, sharerID int64, channel string) error {
	channel = truncate(channel, 16)
	if ok, _, err := s.allow(ctx, fmt.Sprintf("share:%d:u%d:%s", c.ID, sharerID, channel), sharesPerUserChan); err != nil || !ok {
		return err
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO shares (merchant_id, campaign_id, sharer_id, channel, at) VALUES ($1, $2, $3, $4, $5)`,
		c.MerchantID, c.ID, sharerID, channel, s.now())
	if err != nil {
		return fmt.Errorf("campaign: record share: %w", err)
	}
	return nil
}

// TickerItem is one recent purchase for the landing page, with the buyer's name masked.
type TickerItem struct {
	Name string
	Qty  int
	At   time.Time
}

// Ticker returns the latest purchases, newest first.
func (s *Service) Ticker(ctx context.Context, c *Campaign, limit int) ([]TickerItem, error) {
	rows, err := s.db.QueryxContext(ctx, `
SELECT u.nickname, o.qty, o.paid_at FROM orders o JOIN wechat_users u ON u.id = o.buyer_id
WHERE o.campaign_id = $1 AND o.status IN ('paid', 'refunded') ORDER BY o.paid_at DESC, o.id DESC LIMIT $2`, c.ID, limit)
	if err != nil {
		return nil, fmt.Errorf("campaign: ticker: %w", err)
	}
	defer rows.Close()
	var items []TickerItem
	for rows.Next() {
		var name string
		var it TickerItem
		if err := rows.Scan(&name, &it.Qty, &it.At); err != nil {
			return nil, err
		}
		it.Name = MaskName(name)
		items = append(items, it)
	}
	return items, rows.Err()
}

// MaskName keeps the first character of a nickname: "张三丰" → "张**".
func MaskName(name string) string {
	if name == "" {
		return "微信用户"
	}
	r, _ := utf8.DecodeRuneInString(name)
	return string(r) + "**"
}
