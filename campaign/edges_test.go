package campaign_test

import (
	"testing"
	"time"

	"fenxiao/campaign"
	"fenxiao/wallet"
)

// A draft whose end time has passed is fixed by giving it a new end time, then published.
func TestDraftPastItsEndCanBeFixed(t *testing.T) {
	e := newEnv(t, "100")
	c, err := e.svc.Create(ctx, e.merchant, settings(), 10)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(25 * time.Hour) // past the draft's end
	defer clock.Advance(-25 * time.Hour)
	if _, err := e.svc.Publish(ctx, e.merchant, c.ID); err == nil {
		t.Fatal("published a campaign whose end has passed")
	}
	set := c.Settings
	set.EndsAt = clock.Now().Add(48 * time.Hour)
	if _, err := e.svc.Update(ctx, e.merchant, c.ID, set); err != nil {
		t.Fatalf("a new end time for the draft: %v", err)
	}
	if c, err = e.svc.Publish(ctx, e.merchant, c.ID); err != nil || c.Status != campaign.Published {
		t.Fatalf("publish after the fix: %+v %v", c, err)
	}
	audit(t, e.db)
}

// Ending a campaign that has not started keeps its start time: what was planned stays on
// record; its reserve goes back once the release job runs.
func TestEndNowBeforeTheStart(t *testing.T) {
	e := newEnv(t, "100")
	starts := clock.Now().Add(48 * time.Hour).Truncate(time.Second)
	c := e.campaign(10, func(s *campaign.Settings) { s.StartsAt, s.EndsAt = starts, starts.Add(24*time.Hour) })
	ended, err := e.svc.EndNow(ctx, e.merchant, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !ended.StartsAt.Equal(starts) {
		t.Errorf("start time rewritten from %s to %s", starts, ended.StartsAt)
	}
	if ended.Phase(clock.Now()) != "ended" || ended.EndsAt.After(clock.Now()) {
		t.Errorf("phase %s, ends %s", ended.Phase(clock.Now()), ended.EndsAt)
	}
	if n, err := e.svc.ReleaseEnded(ctx); err != nil || n < 1 {
		t.Fatalf("released %d (%v)", n, err)
	}
	equal(t, "reserve after the release", e.balance(wallet.ReserveOf(e.merchant, c.ID)), "0")
	audit(t, e.db)
}

// Buy-before-sharing needs a paid order that was not refunded: buying and asking for a
// refund does not keep the right to earn.
func TestBuyBeforeSharingNeedsAnUnrefundedOrder(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(10, func(s *campaign.Settings) { s.BuyBeforeShare = true })
	a, b := e.user("甲"), e.user("乙")
	own := e.buy(c, a, 1)
	if _, err := e.svc.Refund(ctx, e.merchant, own.ID, "退掉"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Bind(ctx, c, b, e.svc.ShareToken(c.ID, a.ID)); err != nil {
		t.Fatal(err)
	}
	o := e.buy(c, b, 1)
	if o.CommissionStatus != "none" || o.NoCommission != campaign.SharerNotBuyer {
		t.Fatalf("a sharer whose only order was refunded earned: %s (%s)", o.CommissionStatus, o.NoCommission)
	}
	equal(t, "A's vault", e.balance(wallet.VaultOf(e.merchant, a.ID)), "0")
	audit(t, e.db)
}
