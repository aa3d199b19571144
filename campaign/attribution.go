package campaign

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"fenxiao/wallet"
)

// Reasons an order earned no commission (orders.no_commission).
const (
	NoSharer        = "no_sharer"         // the buyer came without a share link
	SelfPurchase    = "self_purchase"     // the buyer's own link
	SnapshotSharer  = "snapshot_sharer"   // the sharer is a WeChat snapshot-mode user
	SharerNotBuyer  = "sharer_not_buyer"  // buy-before-sharing and the sharer has no paid, unrefunded order
	SharerNotViable = "sharer_not_viable" // the sharer no longer exists for this merchant
	ReserveReleased = "reserve_released"  // paid after the campaign's reserve went back to the merchant
)

// ShareToken signs (campaign, sharer). It is what a share link carries.
func (s *Service) ShareToken(campaignID, sharerID int64) string {
	payload := strconv.FormatInt(campaignID, 36) + "." + strconv.FormatInt(sharerID, 36)
	mac := macOf(s.keys.share, payload)
	return payload + "." + base64.RawURLEncoding.EncodeToString(mac[:12])
}

// ParseShareToken returns the sharer a token names for campaignID, or false when the token
// is forged, damaged or for another campaign.
func (s *Service) ParseShareToken(campaignID int64, token string) (int64, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return 0, false
	}
	want := s.ShareToken(mustParse36(parts[0]), mustParse36(parts[1]))
	if !hmacEqual(want, token) {
		return 0, false
	}
	c, sharer := mustParse36(parts[0]), mustParse36(parts[1])
	if c != campaignID || sharer <= 0 {
		return 0, false
	}
	return sharer, true
}

func mustParse36(s string) int64 {
	n, err := strconv.ParseInt(s, 36, 64)
	if err != nil {
		return -1
	}
	return n
}

// ShareURL is the link a sharer shares.
func (s *Service) ShareURL(campaignID, sharerID int64) string {
	return fmt.Sprintf("%s/c/%d?s=%s", s.baseURL, campaignID, s.ShareToken(campaignID, sharerID))
}

// CampaignURL is the plain link to a campaign.
func (s *Service) CampaignURL(campaignID int64) string {
	return fmt.Sprintf("%s/c/%d", s.baseURL, campaignID)
}

// Bind attaches a visitor to the sharer of a valid share link: the latest valid link opened
// wins. Invalid links, one's own link and snapshot-mode visitors bind nothing (and are not
// errors: the page simply opens).
func (s *Service) Bind(ctx context.Context, c *Campaign, visitor *User, token string) (bool, error) {
	sharer, ok := s.ParseShareToken(c.ID, token)
	if !ok || sharer == visitor.ID || visitor.Snapshot {
		return false, nil
	}
	return s.bind(ctx, s.db, c, visitor.ID, sharer)
}

func (s *Service) bind(ctx context.Context, q sqlx.ExecerContext, c *Campaign, visitorID, sharerID int64) (bool, error) {
	res, err := q.ExecContext(ctx, `
INSERT INTO bindings (campaign_id, visitor_id, merchant_id, sharer_id, bound_at)
SELECT $1, $2, $3, u.id, $5 FROM wechat_users u WHERE u.id = $4 AND u.merchant_id = $3 AND NOT u.snapshot
ON CONFLICT (campaign_id, visitor_id) DO UPDATE SET sharer_id = EXCLUDED.sharer_id, bound_at = EXCLUDED.bound_at`,
		c.ID, visitorID, c.MerchantID, sharerID, s.now())
	if err != nil {
		return false, fmt.Errorf("campaign: bind visitor %d to sharer %d: %w", visitorID, sharerID, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// credit is the outcome of attribution for one paid order.
type credit struct {
	sharerID *int64
	amount   decimal.Decimal
	status   string // none, earned, held
	reason   string
	settleAt *time.Time
	openID   string // the earning sharer's, for the notification
}

// attribute decides who earns on a paid order, in the payment's transaction (earn then moves
// the commission). The sharer is the one frozen on the order when it was made (a binding that
// changed while the buyer paid counts only for later orders); whether they earn is decided
// now. Units without an eligible sharer keep their commission frozen in the reserve. Once the
// campaign's reserve has gone back to the merchant (a payment after the release), the sharer
// stays named on the order but earns nothing: the reserve no longer holds it.
func (s *Service) attribute(ctx context.Context, tx *sqlx.Tx, c *Campaign, o *Order, paidAt time.Time) (credit, error) {
	none := credit{amount: decimal.Zero, status: "none", sharerID: o.SharerID}
	if o.SharerID == nil {
		none.reason = NoSharer
		return none, nil
	}
	var sharer struct {
		ID       int64  `db:"id"`
		OpenID   string `db:"openid"`
		Snapshot bool   `db:"snapshot"`
		Bought   bool   `db:"bought"`
	}
	err := sqlx.GetContext(ctx, tx, &sharer, `
SELECT u.id, u.openid, u.snapshot,
       EXISTS (SELECT 1 FROM orders p WHERE p.campaign_id = $1 AND p.buyer_id = u.id AND p.status = 'paid') AS bought
FROM wechat_users u WHERE u.id = $2 AND u.merchant_id = $3`, c.ID, *o.SharerID, c.MerchantID)
	switch {
	case isNoRows(err):
		none.sharerID, none.reason = nil, SharerNotViable
		return none, nil
	case err != nil:
		return credit{}, err
	}
	switch {
	case sharer.ID == o.BuyerID:
		none.sharerID, none.reason = nil, SelfPurchase
		return none, nil
	case sharer.Snapshot:
		none.reason = SnapshotSharer
		return none, nil
	case c.BuyBeforeShare && !sharer.Bought:
		none.reason = SharerNotBuyer
		return none, nil
	}
	if c.Status != Published || c.ReleasedAt != nil {
		none.reason = ReserveReleased
		return none, nil
	}
	cr := credit{sharerID: &sharer.ID, amount: c.Commission.Mul(decimalInt(o.Qty)), status: "earned", openID: sharer.OpenID}
	if c.HoldDays > 0 {
		at := paidAt.Add(time.Duration(c.HoldDays) * 24 * time.Hour)
		cr.status, cr.settleAt = "held", &at
	}
	return cr, nil
}

// earn moves an earned commission from the reserve to the sharer's vault (pending while held)
// and tells the sharer through the outbox (sent after the commit, at most once). The caller
// then counts the units as earned on the campaign row.
func (s *Service) earn(ctx context.Context, tx *sqlx.Tx, c *Campaign, o *Order, cr credit) error {
	if cr.status == "none" {
		return nil
	}
	note := wallet.Notification{MerchantID: c.MerchantID, Key: fmt.Sprintf("commission:order:%d", o.ID), Kind: wallet.NoteCommission,
		OpenID: cr.openID, Link: s.CampaignURL(c.ID) + "/commissions",
		Data: map[string]string{"amount": cr.amount.StringFixed(2), "campaign": c.Title, "qty": fmt.Sprint(o.Qty)}}
	if err := wallet.Enqueue(ctx, tx, note); err != nil {
		return err
	}
	_, err := s.wallet.EarnCommission(ctx, tx, wallet.Earning{
		MerchantID: c.MerchantID, CampaignID: c.ID, SharerID: *cr.sharerID, Amount: cr.amount,
		Key: fmt.Sprintf("order:%d:commission", o.ID), Ref: o.OutTradeNo, Held: cr.status == "held",
	})
	return err
}

// voidCommission returns the held commission of units more of o's units to the campaign
// reserve (a refund within the hold period covering them); upTo is the count voided once done,
// which keys the ledger transfer. If the campaign's reserve was already released, the voided
// amount is released too.
func (s *Service) voidCommission(ctx context.Context, tx *sqlx.Tx, o *Order, units, upTo int) error {
	amount := o.Commission.Div(decimalInt(o.Qty)).Mul(decimalInt(units)) // exact: commission = qty × per unit
	e := wallet.Earning{MerchantID: o.MerchantID, CampaignID: o.CampaignID, SharerID: *o.SharerID,
		Amount: amount, Key: fmt.Sprintf("order:%d:void:%d", o.ID, upTo), Ref: o.OutTradeNo}
	if _, err := s.wallet.VoidCommission(ctx, tx, e); err != nil {
		return err
	}
	var released bool
	if err := tx.QueryRowxContext(ctx, `UPDATE campaigns SET earned = earned - $2 WHERE id = $1 RETURNING released_at IS NOT NULL`,
		o.CampaignID, units).Scan(&released); err != nil {
		return err
	}
	if released {
		_, err := s.wallet.ReleaseReserve(ctx, tx, o.MerchantID, o.CampaignID, amount, fmt.Sprintf("order:%d:void-release:%d", o.ID, upTo))
		return err
	}
	return nil
}
