package campaign_test

import (
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"fenxiao/campaign"
	"fenxiao/campaign/seed"
)

// TestOrderListUsesIndexes: a search by part of a nickname can find the matching users
// through a trigram index, not only by reading every user of the merchant (40-90 ms at 100k
// buyers; with the (merchant, openid) key beside it the planner finds the few matching users
// first), a status filter reads its page off an index by status, and a sharer's orders are
// found from the sharer. Sequential scans are disabled so that the plans show whether an
// index can answer at all.
func TestOrderListUsesIndexes(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(5)
	if _, err := seed.Fill(ctx, e.db, seed.Spec{MerchantID: e.merchant, CampaignID: c.ID, Orders: 2000}); err != nil {
		t.Fatal(err)
	}
	tx, err := e.db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck
	if _, err := tx.ExecContext(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	var plan []string
	if err := sqlx.SelectContext(ctx, tx, &plan, `EXPLAIN SELECT id FROM wechat_users WHERE nickname ILIKE $1`, "%买家777%"); err != nil {
		t.Fatal(err)
	}
	if text := strings.Join(plan, "\n"); !strings.Contains(text, "wechat_users_nickname_trgm") {
		t.Errorf("a nickname search reads every user:\n%s", text)
	}
	// A page of refunded orders is read off an index by status, not found by walking all
	// orders newest first.
	plan = nil
	if err := sqlx.SelectContext(ctx, tx, &plan, `EXPLAIN SELECT id FROM orders WHERE merchant_id = $1 AND status = 'refunded' ORDER BY id DESC LIMIT 51`, e.merchant); err != nil {
		t.Fatal(err)
	}
	if text := strings.Join(plan, "\n"); !strings.Contains(text, "orders_merchant_status") {
		t.Errorf("a page of refunded orders walks the orders:\n%s", text)
	}
	// A sharer's orders are found from the sharer.
	plan = nil
	if err := sqlx.SelectContext(ctx, tx, &plan, `EXPLAIN SELECT id FROM orders WHERE sharer_id = $1`, e.merchant); err != nil {
		t.Fatal(err)
	}
	if text := strings.Join(plan, "\n"); !strings.Contains(text, "orders_sharer") {
		t.Errorf("a sharer's orders are found by reading all orders:\n%s", text)
	}
	p, err := e.svc.Orders(ctx, e.merchant, campaign.OrderFilter{Buyer: "买家777"})
	if err != nil || len(p.Rows) != 1 || p.Rows[0].BuyerName != "买家777" {
		t.Fatalf("orders of 买家777: %+v, %v", p.Rows, err)
	}
}
