package campaign

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
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
	mac := macOf(s.shareKey, payload)
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

// Bind attaches a visitor to the sharer of a valid share link: the latest sharer whose valid
// link they opened wins, and reports whether this opening changed their binding. Invalid
// links, one's own link and snapshot-mode visitors bind nothing (and are not errors: the page
// simply opens); reopening the link of the sharer they are bound to already changes nothing,
// and within a second of the last opening on this replica costs no query (follower_cache.go).
func (s *Service) Bind(ctx context.Context, c *Campaign, visitor *User, token string) (bool, error) {
	sharer, ok := s.ParseShareToken(c.ID, token)
	if !ok || sharer == visitor.ID || visitor.Snapshot || s.reopened(c, visitor, sharer) {
		return false, nil
	}
	started := time.Now()
	s.followers.binds.Add(1)
	bound, err := s.bind(ctx, s.db, c, visitor, sharer)
	if err == nil {
		s.keepOpened(c, visitor, sharer, started)
	}
	return bound, err
}

// bind records the binding, with the generation the visitor is reached in (the sharer's own
// then, plus one) and whether the visitor has bought (the slot read under a share lock: see
// figures.go), and, in the same statement (so exactly when the binding is
// written), the sharer's "a friend opened my share" notification: once per friend, as its key
// is (campaign, sharer, friend). A visitor already bound to this sharer is left as they are,
// bound_at included (the team list orders friends by when they joined): the statement then
// only reads the binding, so reloads of a shared page take no row lock and write nothing.
func (s *Service) bind(ctx context.Context, q sqlx.QueryerContext, c *Campaign, visitor *User, sharerID int64) (bool, error) {
	key, data, link := s.openedNote(c, visitor, sharerID)
	var n int
	err := sqlx.GetContext(ctx, q, &n, `
WITH sharer AS (SELECT u.id, u.openid FROM wechat_users u WHERE u.id = $4 AND u.merchant_id = $3 AND NOT u.snapshot
    AND NOT EXISTS (SELECT 1 FROM bindings WHERE campaign_id = $1 AND visitor_id = $2 AND sharer_id = $4)),
slot AS (SELECT paid > 0 AS bought FROM campaign_buyers WHERE campaign_id = $1 AND buyer_id = $2 FOR SHARE),
bound AS (
    INSERT INTO bindings (campaign_id, visitor_id, merchant_id, sharer_id, bound_at, gen, bought)
    SELECT $1, $2, $3, sharer.id, $5,
           least(COALESCE((SELECT gen FROM bindings WHERE campaign_id = $1 AND visitor_id = sharer.id), 1) + 1, $9),
           COALESCE((SELECT bought FROM slot), false)
    FROM sharer
    ON CONFLICT (campaign_id, visitor_id) DO UPDATE SET sharer_id = EXCLUDED.sharer_id, bound_at = EXCLUDED.bound_at,
        gen = EXCLUDED.gen, bought = bindings.bought OR EXCLUDED.bought
    RETURNING sharer_id),
told AS (
    INSERT INTO notifications (merchant_id, msg_key, kind, openid, data, link)
    SELECT $3, $6, 'friend_opened', sharer.openid, $7::jsonb, $8 FROM bound JOIN sharer ON sharer.id = bound.sharer_id
    ON CONFLICT (merchant_id, msg_key) DO NOTHING)
SELECT count(*) FROM bound`, c.ID, visitor.ID, c.MerchantID, sharerID, s.now(), key, string(data), link, maxGeneration)
	if err != nil {
		return false, fmt.Errorf("campaign: bind visitor %d to sharer %d: %w", visitor.ID, sharerID, err)
	}
	return n > 0, nil
}

// credit is the outcome of attribution for one paid order.
type credit struct {
	sharerID *int64
	amount   decimal.Decimal
	status   string // none, earned, held
	reason   string
	settleAt *time.Time
	openID   string // the earning sharer's, for the notifications
	// the buyer's, for the notifications ("" for a snapshot-mode buyer: nobody to tell)
	buyerOpenID, buyerName string
}

// attribute decides who earns on a paid order, in the payment's transaction (earn then moves
// the commission). The sharer is the one frozen on the order when it was made (a binding that
// changed while the buyer paid counts only for later orders); whether they earn is decided
// now. Units without an eligible sharer keep their commission frozen in the reserve. Once the
// campaign's reserve has gone back to the merchant (a payment after the release), the sharer
// stays named on the order but earns nothing: the reserve no longer holds it.
func (s *Service) attribute(ctx context.Context, tx *sqlx.Tx, c *Campaign, o *Order, paidAt time.Time) (credit, error) {
	cs, err := s.attributeAll(ctx, tx, c, []paying{{order: o, paidAt: paidAt}})
	if err != nil {
		return credit{}, err
	}
	return cs[0], nil
}

// paying is an order of campaign c being paid, at paidAt.
type paying struct {
	order  *Order
	paidAt time.Time
}

// attributeAll is attribute for orders of c paid together (one batch of payments), in their
// order: a sharer whose own order is paid earlier in the batch has bought (buy-before-share)
// for the orders after it, as if each had been paid in its own transaction one after the other.
// The sharers are read in one query.
func (s *Service) attributeAll(ctx context.Context, tx *sqlx.Tx, c *Campaign, ps []paying) ([]credit, error) {
	var ids []int64
	for _, p := range ps {
		ids = append(ids, p.order.BuyerID) // for the buyers' notifications: same query, no round trip more
		if p.order.SharerID != nil {
			ids = append(ids, *p.order.SharerID)
		}
	}
	type sharer struct {
		ID       int64  `db:"id"`
		OpenID   string `db:"openid"`
		Nickname string `db:"nickname"`
		Snapshot bool   `db:"snapshot"`
		Bought   bool   `db:"bought"`
	}
	sharers := map[int64]*sharer{}
	if len(ids) > 0 {
		var rows []sharer
		if err := sqlx.SelectContext(ctx, tx, &rows, `
SELECT u.id, u.openid, u.nickname, u.snapshot,
       EXISTS (SELECT 1 FROM orders p WHERE p.campaign_id = $1 AND p.buyer_id = u.id AND p.status = 'paid') AS bought
FROM wechat_users u WHERE u.id = ANY($2) AND u.merchant_id = $3`, c.ID, pq.Array(ids), c.MerchantID); err != nil {
			return nil, err
		}
		for i := range rows {
			sharers[rows[i].ID] = &rows[i]
		}
	}
	out := make([]credit, len(ps))
	for i, p := range ps {
		o := p.order
		cr := credit{amount: decimal.Zero, status: "none", sharerID: o.SharerID}
		var sh *sharer
		if o.SharerID != nil {
			sh = sharers[*o.SharerID]
		}
		switch {
		case o.SharerID == nil:
			cr.reason = NoSharer
		case sh == nil:
			cr.sharerID, cr.reason = nil, SharerNotViable
		case sh.ID == o.BuyerID:
			cr.sharerID, cr.reason = nil, SelfPurchase
		case sh.Snapshot:
			cr.reason = SnapshotSharer
		case c.BuyBeforeShare && !sh.Bought:
			cr.reason = SharerNotBuyer
		case c.Status != Published || c.ReleasedAt != nil:
			cr.reason = ReserveReleased
		default:
			cr = credit{sharerID: &sh.ID, amount: c.Commission.Mul(decimalInt(o.Qty)), status: "earned", openID: sh.OpenID}
			switch {
			case holdsUntilDone(c):
				cr.status = "held" // no date yet: hold_days from the order's completion (complete)
			case c.HoldDays > 0:
				at := p.paidAt.Add(time.Duration(c.HoldDays) * 24 * time.Hour)
				cr.status, cr.settleAt = "held", &at
			}
		}
		if b := sharers[o.BuyerID]; b != nil && !b.Snapshot {
			cr.buyerOpenID, cr.buyerName = b.OpenID, b.Nickname
		}
		out[i] = cr
		if b := sharers[o.BuyerID]; b != nil {
			b.Bought = true // this buyer has now bought: their own shares count from here on
		}
	}
	return out, nil
}

// earn moves an earned commission from the reserve to the sharer's vault (pending while held)
// and enqueues what the payment tells the buyer and the sharer (sent after the commit, at most
// once). The caller then counts the units as earned on the campaign row.
func (s *Service) earn(ctx context.Context, tx *sqlx.Tx, c *Campaign, o *Order, cr credit, paidAt time.Time) error {
	if err := wallet.EnqueueAll(ctx, tx, s.paidNotes(c, o, cr, paidAt)); err != nil {
		return err
	}
	if cr.status == "none" {
		return nil
	}
	_, err := s.wallet.EarnCommission(ctx, tx, commissionEarning(c, o, cr))
	return err
}

// commissionEarning is the ledger movement of cr: one per order, keyed by it.
func commissionEarning(c *Campaign, o *Order, cr credit) wallet.Earning {
	return wallet.Earning{MerchantID: c.MerchantID, CampaignID: c.ID, SharerID: *cr.sharerID, Amount: cr.amount,
		Key: fmt.Sprintf("order:%d:commission", o.ID), Ref: o.OutTradeNo, Held: cr.status == "held"}
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
