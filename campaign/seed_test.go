package campaign_test

import (
	"testing"

	"fenxiao/campaign"
	"fenxiao/campaign/seed"
	"fenxiao/wallet"
)

// auditClean fails the test on any violation of the ledger's or the campaigns' invariants,
// the checks "fenxiao audit" runs.
func auditClean(t *testing.T, e *env, when string) {
	t.Helper()
	for _, check := range []func() ([]wallet.Violation, error){
		func() ([]wallet.Violation, error) { return wallet.Audit(ctx, e.db) },
		func() ([]wallet.Violation, error) { return campaign.Audit(ctx, e.db) },
	} {
		vs, err := check()
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			t.Errorf("%s: %s", when, v)
		}
	}
}

// The generator fills a campaign with 2,000 paid orders, some refunded, most attributed, and
// every invariant of the audit holds; the real service then keeps selling, paying and
// refunding on the seeded campaign and the audit stays clean.
func TestSeedKeepsEveryInvariant(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(5)
	res, err := seed.Fill(ctx, e.db, seed.Spec{MerchantID: e.merchant, CampaignID: c.ID, Orders: 2000, RefundEvery: 50, TopUps: 300})
	if err != nil {
		t.Fatal(err)
	}
	if res.Orders != 2000 || res.Commissions != 1800 || res.Refunds != 40 || res.Units != 4001 || res.TopUps != 300 {
		t.Fatalf("seeded %+v", res)
	}
	auditClean(t, e, "after seeding")
	got := e.reload(c)
	if got.Sold != 4001 || got.Stock != 4006 || got.Earned != 4001-sumUnshared(2000) || got.Buyers != 2000 {
		t.Fatalf("counters: stock %d sold %d earned %d buyers %d", got.Stock, got.Sold, got.Earned, got.Buyers)
	}

	// The real path on the seeded campaign: a bound buyer pays, the sharer earns; a refund.
	sharer, buyer := e.user("分享者"), e.user("买家")
	if _, err := e.svc.Bind(ctx, got, buyer, e.svc.ShareToken(c.ID, sharer.ID)); err != nil {
		t.Fatal(err)
	}
	o := e.buy(got, buyer, 2)
	if o.CommissionStatus != "earned" || !o.Commission.Equal(d("4.00")) {
		t.Fatalf("real order on a seeded campaign: %+v", o)
	}
	if _, err := e.svc.Refund(ctx, e.merchant, o.ID, "seed test"); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(o.ID, campaign.Refunded)
	auditClean(t, e, "after the real path")

	// Seeding twice adds to what is there.
	if _, err := seed.Fill(ctx, e.db, seed.Spec{MerchantID: e.merchant, CampaignID: c.ID, Orders: 300, Sharers: 7}); err != nil {
		t.Fatal(err)
	}
	auditClean(t, e, "after seeding again")
}

// sumUnshared is the units of the orders the generator leaves without a sharer.
func sumUnshared(n int) int {
	u := 0
	for g := 10; g <= n; g += 10 {
		u += 1 + g%3
	}
	return u
}
