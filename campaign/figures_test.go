package campaign_test

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"fenxiao/campaign"
)

// Migration 0020 computes the stored figures of the data already there: run again over a
// campaign whose figures were wiped, it rebuilds what the payments, refunds and bindings wrote
// (the audit is clean and the share tree's generations, walked recursively, are the same).
func TestFiguresBackfill(t *testing.T) {
	e := newEnv(t, "1000")
	c, _ := spreadCampaign(t, e)
	orders, err := e.svc.Orders(ctx, e.merchant, campaign.OrderFilter{Buyer: "用户G"})
	if err != nil || len(orders.Rows) != 1 {
		t.Fatalf("orders of G: %+v, %v", orders, err)
	}
	if _, err := e.svc.RefundPart(ctx, e.merchant, orders.Rows[0].ID, d("100"), "退一部分"); err != nil {
		t.Fatal(err)
	}
	before, err := e.svc.Results(ctx, e.merchant, c.ID, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	sql, err := os.ReadFile("../migrations/0020_campaign_figures.sql")
	if err != nil {
		t.Fatal(err)
	}
	s := string(sql)
	from, to := strings.Index(s, "-- The figures of what is already there."), strings.Index(s, "-- The spread's aggregate")
	if from < 0 || to < from {
		t.Fatal("the backfill's markers are gone from migration 0020")
	}
	tx := e.db.MustBegin()
	defer tx.Rollback() //nolint:errcheck
	tx.MustExec(`UPDATE campaigns SET paid_orders = 0, paid_amount = 0, refunded_amount = 0, refunded_orders = 0, paid_buyers = 0;
UPDATE campaign_buyers SET paid = 0; UPDATE bindings SET gen = 2, bought = false; DELETE FROM campaign_sales; DELETE FROM campaign_sharers`)
	tx.MustExec(s[from:to])
	if vs, err := campaign.Audit(ctx, tx); err != nil || len(vs) > 0 {
		t.Fatalf("after the backfill: %v %v", vs, err)
	}
	var gens []campaign.Generation
	if err := tx.Select(&gens, `SELECT gen, count(*) AS people, count(*) FILTER (WHERE bought) AS buyers FROM bindings WHERE campaign_id = $1 GROUP BY gen ORDER BY gen`, c.ID); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gens, before.Generations[1:]) {
		t.Errorf("generations after the backfill %v, written as bound %v", gens, before.Generations[1:])
	}
}
