package campaign_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"fenxiao/campaign"
	"fenxiao/wallet"
	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// A→B→C: B buys through A's link (A earns), C buys through B's (only B earns), A buys through
// their own link and a snapshot-mode sharer's link earns nothing. The reserve keeps exactly
// the unearned units' commissions until the release job returns them after the end; the
// audit passes at every step.
func TestAttributionChainAndRelease(t *testing.T) {
	e := newEnv(t, "1000")
	c := e.campaign(20) // commission 2.00 × 20 = 40 frozen
	reserve := wallet.ReserveOf(e.merchant, c.ID)
	equal(t, "reserve after publish", e.balance(reserve), "40")
	equal(t, "available after publish", e.balance(wallet.AvailableOf(e.merchant)), "960")
	audit(t, e.db)

	a, b, cc := e.user("阿明"), e.user("小白"), e.user("陈晨")
	snap := e.user("快照用户")
	snap, err := e.svc.SignIn(ctx, e.merchant, wechat.OAuthToken{OpenID: snap.OpenID, Snapshot: true}, nil)
	if err != nil || !snap.Snapshot {
		t.Fatalf("snapshot sign-in: %+v %v", snap, err)
	}

	// A buys directly: no sharer.
	oa := e.buy(c, a, 1)
	if oa.CommissionStatus != "none" || oa.NoCommission != campaign.NoSharer {
		t.Fatalf("direct purchase: %s %q", oa.CommissionStatus, oa.NoCommission)
	}
	// B opens A's link and buys 3: A earns 3 × 2.00.
	if ok, err := e.svc.Bind(ctx, c, b, e.svc.ShareToken(c.ID, a.ID)); err != nil || !ok {
		t.Fatalf("bind B to A: %v %v", ok, err)
	}
	ob := e.buy(c, b, 3)
	if ob.SharerID == nil || *ob.SharerID != a.ID || !ob.Commission.Equal(d("6")) {
		t.Fatalf("B's order credits %v with %s", ob.SharerID, ob.Commission)
	}
	// C opens B's link and buys: only B earns.
	if _, err := e.svc.Bind(ctx, c, cc, e.svc.ShareToken(c.ID, b.ID)); err != nil {
		t.Fatal(err)
	}
	e.buy(c, cc, 2)
	equal(t, "A's vault", e.balance(wallet.VaultOf(e.merchant, a.ID)), "6")
	equal(t, "B's vault", e.balance(wallet.VaultOf(e.merchant, b.ID)), "4")
	audit(t, e.db)

	// Own link: binds nothing, earns nothing.
	if ok, _ := e.svc.Bind(ctx, c, a, e.svc.ShareToken(c.ID, a.ID)); ok {
		t.Fatal("a user bound to their own link")
	}
	// A forged or foreign token binds nothing.
	if ok, _ := e.svc.Bind(ctx, c, cc, e.svc.ShareToken(c.ID+1, a.ID)); ok {
		t.Fatal("a token of another campaign bound")
	}
	if ok, _ := e.svc.Bind(ctx, c, cc, "1.2.AAAAAAAAAAAAAAAA"); ok {
		t.Fatal("a forged token bound")
	}
	// A snapshot user's link: the binding is refused, so no commission.
	d1 := e.user("丁一")
	if ok, _ := e.svc.Bind(ctx, c, d1, e.svc.ShareToken(c.ID, snap.ID)); ok {
		t.Fatal("bound to a snapshot user")
	}
	od := e.buy(c, d1, 1)
	if od.CommissionStatus != "none" {
		t.Fatalf("snapshot sharer earned: %+v", od)
	}
	// Snapshot visitors cannot be bound either.
	if ok, _ := e.svc.Bind(ctx, c, snap, e.svc.ShareToken(c.ID, a.ID)); ok {
		t.Fatal("a snapshot visitor was bound")
	}

	// Sold 7, earned 5 (B's 3, C's 2): reserve = 2.00 × (20 − 5) = 30.
	c = e.reload(c)
	if c.Sold != 7 || c.Earned != 5 || c.Held != 0 {
		t.Fatalf("sold %d earned %d held %d", c.Sold, c.Earned, c.Held)
	}
	equal(t, "reserve", e.balance(reserve), "30")
	st, err := e.svc.Stats(ctx, c)
	if err != nil || st.Participants != 2 || st.Buyers != 4 || st.UnitsSold != 7 || !st.Commissions.Equal(d("10")) || !st.PaidAmount.Equal(d("616")) {
		t.Fatalf("stats %+v %v", st, err)
	}

	// Release waits for the end.
	if n, err := e.svc.ReleaseEnded(ctx); err != nil || n != 0 {
		t.Fatalf("release before end: %d %v", n, err)
	}
	if _, err := e.svc.EndNow(ctx, e.merchant, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateOrder(ctx, c.ID, a, 1, ""); !errors.Is(err, campaign.ErrNotOpen) {
		t.Fatalf("order after end: %v", err)
	}
	if n, err := e.svc.ReleaseEnded(ctx); err != nil || n != 1 {
		t.Fatalf("release after end: %d %v", n, err)
	}
	equal(t, "reserve after release", e.balance(reserve), "0")
	equal(t, "available after release", e.balance(wallet.AvailableOf(e.merchant)), "990")
	if c = e.reload(c); c.Status != campaign.Ended || c.ReleasedAt == nil {
		t.Fatalf("campaign %s released %v", c.Status, c.ReleasedAt)
	}
	if n, _ := e.svc.ReleaseEnded(ctx); n != 0 {
		t.Fatal("released twice")
	}
	audit(t, e.db)
}

// The whole flow against the simulator, audit after every step: publish, follow through the
// OA's QR (binding the sharer), buy, pay, earn, end, release.
func TestEndToEndWithFollowQR(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(10, func(s *campaign.Settings) { s.FansOnly = true; s.Commission = d("5.50") })
	audit(t, e.db)

	a := e.user("分享者", func(u *sim.User) { u.Subscribed = true })
	e.buy(c, a, 1)
	audit(t, e.db)

	// B is not a fan: the gate shows the follow QR; scanning it in WeChat follows the OA, the
	// callback binds B to A and replies with A's link.
	b := e.user("新粉丝")
	g, err := e.svc.Enter(ctx, c, b, "", a.ID)
	if err != nil || g.Reason != campaign.NotFan || g.FollowQR == nil {
		t.Fatalf("gate for a non-fan: %+v %v", g, err)
	}
	reply, err := simulator.Scan(g.FollowQR.Ticket, b.OpenID)
	if err != nil {
		t.Fatal(err)
	}
	if want := e.svc.ShareURL(c.ID, a.ID); !strings.Contains(reply, want) {
		t.Fatalf("callback reply %q does not carry the share link %s", reply, want)
	}
	if g, err = e.svc.Enter(ctx, c, b, "", a.ID); err != nil || g.Reason != campaign.Open {
		t.Fatalf("gate after following: %+v %v", g, err)
	}
	ob := e.buy(c, b, 2)
	if ob.SharerID == nil || *ob.SharerID != a.ID || !ob.Commission.Equal(d("11")) {
		t.Fatalf("order through the follow QR credits %v %s", ob.SharerID, ob.Commission)
	}
	audit(t, e.db)

	clock.Advance(25 * time.Hour) // past the end
	defer clock.Advance(-25 * time.Hour)
	if n, err := e.svc.ReleaseEnded(ctx); err != nil || n < 1 {
		t.Fatalf("release: %d %v", n, err)
	}
	// 100 − 55 frozen + (10 − 2 earned) × 5.50 released = 89
	equal(t, "available after release", e.balance(wallet.AvailableOf(e.merchant)), "89")
	audit(t, e.db)
}
