package campaign_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"fenxiao/campaign"
	"fenxiao/migrations/dbtest"
	"fenxiao/wallet"
	"fenxiao/wechat/sim"
)

// Each campaign invariant is caught when a row breaks it: on a healthy database of its own,
// one row at a time is broken inside a transaction, the audit must name the check and the
// row's id, and the transaction is rolled back.
func TestAuditCatchesBrokenRows(t *testing.T) {
	db := dbtest.Fresh(t, "campaign_audit")
	svc := newService(t, db)
	w := wallet.NewService(db)
	m, err := svc.Merchants().CreateMerchant(ctx, "审计商家")
	if err != nil {
		t.Fatal(err)
	}
	creds, err := simulator.AddMerchant(sim.MerchantConfig{Name: "审计商家"})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Merchants().SetWeChat(ctx, m, creds); err != nil {
		t.Fatal(err)
	}
	if _, err := w.TopUpAssets(ctx, nil, m, d("100"), "funds", ""); err != nil {
		t.Fatal(err)
	}
	c, err := svc.Create(ctx, m, settings(func(s *campaign.Settings) { s.HoldDays = 7 }), 10)
	if err != nil {
		t.Fatal(err)
	}
	if c, err = svc.Publish(ctx, m, c.ID); err != nil {
		t.Fatal(err)
	}
	user := func(name string) *campaign.User {
		su, err := simulator.AddUser(sim.User{AppID: creds.AppID, Nickname: name})
		if err != nil {
			t.Fatal(err)
		}
		u, err := svc.SignIn(ctx, m, wechatToken(su.OpenID, false), nil)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	pay := func(u *campaign.User, qty int) *campaign.Order {
		co, err := svc.CreateOrder(ctx, c.ID, u, qty, "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		fen, _ := wallet.ToFen(co.Order.Amount)
		if _, err := svc.MarkPaid(ctx, m, co.Order.OutTradeNo, "4200audit"+co.Order.OutTradeNo, fen, time.Time{}); err != nil {
			t.Fatal(err)
		}
		o, err := svc.Order(ctx, m, co.Order.ID)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	a, b := user("甲"), user("乙")
	if _, err := svc.Bind(ctx, c, b, svc.ShareToken(c.ID, a.ID)); err != nil {
		t.Fatal(err)
	}
	own := pay(a, 1)  // no sharer
	held := pay(b, 2) // A's 4.00, held for 7 days
	if held.CommissionStatus != "held" || own.NoCommission != campaign.NoSharer {
		t.Fatalf("fixture: %+v %+v", held, own)
	}
	var pendingVault int64
	if err := db.Get(&pendingVault, `SELECT id FROM accounts WHERE merchant_id = $1 AND kind = 'vault_pending' AND ref_id = $2`, m, a.ID); err != nil {
		t.Fatal(err)
	}
	tu, err := svc.Merchants().StartTopUp(ctx, m, d("50"), "")
	if err != nil {
		t.Fatal(err)
	}
	if vs, err := campaign.Audit(ctx, db); err != nil || len(vs) > 0 {
		t.Fatalf("healthy database: %v %v", vs, err)
	}

	cases := []struct {
		check string
		id    int64
		sql   string
	}{
		{"held commissions equal pending vaults", pendingVault, fmt.Sprintf(`UPDATE orders SET voided_qty = 1 WHERE id = %d`, held.ID)},
		{"settled commission has its settle transfer", held.ID, fmt.Sprintf(`UPDATE orders SET commission_status = 'earned' WHERE id = %d`, held.ID)},
		{"paid order has its commission or a reason", own.ID, fmt.Sprintf(`UPDATE orders SET no_commission = '' WHERE id = %d`, own.ID)},
		{"paid order has its commission or a reason", own.ID, fmt.Sprintf(`UPDATE orders SET transaction_id = NULL WHERE id = %d`, own.ID)},
		{"buyer slots match orders", c.ID, fmt.Sprintf(`UPDATE campaign_buyers SET orders = orders + 1 WHERE buyer_id = %d`, a.ID)},
		{"refunds add up", own.ID, fmt.Sprintf(`UPDATE orders SET refunded = 1 WHERE id = %d`, own.ID)},
		{"refunds add up", own.ID, fmt.Sprintf(`UPDATE orders SET status = 'refunded' WHERE id = %d`, own.ID)},
		{"refunds add up", held.ID, fmt.Sprintf(`UPDATE orders SET voided_qty = 1 WHERE id = %d`, held.ID)},
		{"paid top-up credited once", tu.ID, fmt.Sprintf(`UPDATE topups SET status = 'paid', transaction_id = '4200x' WHERE id = %d`, tu.ID)},
		{"reserve belongs to a campaign", 0, fmt.Sprintf(`INSERT INTO accounts (merchant_id, kind, ref_id) VALUES (%d, 'reserve', 999)`, m)},
		{"stock conserved", c.ID, fmt.Sprintf(`UPDATE campaigns SET sold = sold + 1, stock = stock + 1 WHERE id = %d`, c.ID)},
		// The figures the results page reads (issue 15, goal 4) cannot drift from the orders.
		{"campaign figures match orders", c.ID, fmt.Sprintf(`UPDATE campaigns SET paid_amount = paid_amount + 1 WHERE id = %d`, c.ID)},
		{"campaign figures match orders", c.ID, fmt.Sprintf(`UPDATE campaigns SET refunded_amount = 1, refunded_orders = 1 WHERE id = %d`, c.ID)},
		{"campaign figures match orders", c.ID, fmt.Sprintf(`UPDATE campaigns SET paid_buyers = paid_buyers - 1, paid_orders = paid_orders + 1 WHERE id = %d`, c.ID)},
		{"sales buckets match orders", c.ID, fmt.Sprintf(`UPDATE campaign_sales SET units = units + 1 WHERE campaign_id = %d`, c.ID)},
		{"sales buckets match orders", c.ID, fmt.Sprintf(`UPDATE campaign_sales SET at = at - interval '15 minutes' WHERE campaign_id = %d`, c.ID)},
		{"earning sharers match orders", a.ID, fmt.Sprintf(`UPDATE campaign_sharers SET commission = commission + 1 WHERE sharer_id = %d`, a.ID)},
		{"earning sharers match orders", a.ID, fmt.Sprintf(`DELETE FROM campaign_sharers WHERE sharer_id = %d`, a.ID)},
		{"buyers' paid orders counted", b.ID, fmt.Sprintf(`UPDATE campaign_buyers SET paid = 0 WHERE buyer_id = %d`, b.ID)},
		{"buyers' paid orders counted", b.ID, fmt.Sprintf(`UPDATE bindings SET bought = false WHERE visitor_id = %d`, b.ID)},
	}
	for _, tc := range cases {
		tx := db.MustBegin()
		if tc.id == 0 { // the broken row is the one the statement makes
			if err := tx.Get(&tc.id, tc.sql+` RETURNING id`); err != nil {
				t.Fatal(err)
			}
		} else {
			tx.MustExec(tc.sql)
		}
		vs, err := campaign.Audit(ctx, tx)
		tx.Rollback() //nolint:errcheck
		if err != nil {
			t.Fatalf("%s: %v", tc.sql, err)
		}
		found := false
		for _, v := range vs {
			if v.Check != tc.check {
				continue
			}
			for _, id := range v.IDs {
				found = found || id == tc.id
			}
		}
		if !found {
			t.Errorf("%s\n  not named by %q with id %d; the audit said:\n  %s", tc.sql, tc.check, tc.id, strings.ReplaceAll(fmt.Sprint(vs), "} {", "}\n  {"))
		}
	}
}
