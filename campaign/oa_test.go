package campaign_test

import (
	"fmt"
	"testing"
	"time"

	"fenxiao/campaign"
	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// enterFresh is the gate for u read afresh from the database, as every H5 request reads it.
func (e *env) enterFresh(c *campaign.Campaign, u *campaign.User, sharerID int64) campaign.Gate {
	e.t.Helper()
	fresh, err := e.svc.User(ctx, e.merchant, u.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	g, err := e.svc.Enter(ctx, c, fresh, "", sharerID)
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

// sceneOf is the QR scene the simulated user followed through.
func sceneOf(appID, openID string) string {
	for _, u := range simulator.Users(appID) {
		if u.OpenID == openID {
			return u.SceneStr
		}
	}
	return ""
}

// A subscribe event — even one that got past the callback's checks — never makes a fan: the
// fans-only gate asks WeChat's user-info API. A real follower passes; a "follows" answer is
// reused for a few minutes, then asked again.
func TestFansOnlyTrustsTheUserInfoAPI(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(5, func(s *campaign.Settings) { s.FansOnly = true })
	stranger := e.user("路人")
	e.svc.HandleOAEvent(ctx, e.merchant, wechat.Event{Type: wechat.EventSubscribe, OpenID: stranger.OpenID})
	if g := e.enterFresh(c, stranger, 0); g.Reason != campaign.NotFan {
		t.Fatalf("a subscribe event alone let a non-fan through: %+v", g)
	}

	if _, err := simulator.Follow(e.creds.AppID, stranger.OpenID, ""); err != nil { // really follows
		t.Fatal(err)
	}
	if g := e.enterFresh(c, stranger, 0); g.Reason != campaign.Open {
		t.Fatalf("a real follower: %+v", g)
	}

	// They unfollow and the event never reaches us: the positive answer is reused for a few
	// minutes only.
	if err := simulator.SetCallbackURL(e.creds.AppID, ""); err != nil {
		t.Fatal(err)
	}
	if err := simulator.Unfollow(e.creds.AppID, stranger.OpenID); err != nil {
		t.Fatal(err)
	}
	if g := e.enterFresh(c, stranger, 0); g.Reason != campaign.Open {
		t.Fatalf("within the cache: %+v", g)
	}
	clock.Advance(6 * time.Minute)
	defer clock.Advance(-6 * time.Minute)
	if g := e.enterFresh(c, stranger, 0); g.Reason != campaign.NotFan {
		t.Fatalf("six minutes after unfollowing: %+v", g)
	}
}

// A follow or scan binds a visitor only through a scene issued to that visitor's openid: a
// SCAN carrying the scene another visitor got for sharer B, or a scene made up in the old
// "fx<campaign>_<sharer>" shape, leaves the buyer with sharer A, and the next order pays A.
func TestFollowSceneBindsOnlyTheVisitorItWasIssuedTo(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(10, func(s *campaign.Settings) { s.FansOnly = true })
	a := e.user("分享者甲", func(u *sim.User) { u.Subscribed = true })
	b := e.user("分享者乙", func(u *sim.User) { u.Subscribed = true })
	buyer, other := e.user("买家"), e.user("别人")

	ga, gb := e.enterFresh(c, buyer, a.ID), e.enterFresh(c, other, b.ID)
	if ga.FollowQR == nil || gb.FollowQR == nil || ga.FollowQR.Ticket == gb.FollowQR.Ticket {
		t.Fatalf("follow QRs %+v %+v", ga.FollowQR, gb.FollowQR)
	}
	if again := e.enterFresh(c, buyer, a.ID); again.FollowQR == nil || again.FollowQR.Ticket != ga.FollowQR.Ticket {
		t.Error("reloading the gate minted another follow QR")
	}
	if reply, err := simulator.Scan(ga.FollowQR.Ticket, buyer.OpenID); err != nil || reply == "" {
		t.Fatalf("buyer follows through A's QR: %q %v", reply, err)
	}
	if reply, err := simulator.Scan(gb.FollowQR.Ticket, other.OpenID); err != nil || reply == "" {
		t.Fatalf("the other visitor follows through B's QR: %q %v", reply, err)
	}
	sceneB := sceneOf(e.creds.AppID, other.OpenID)
	if sceneB == "" {
		t.Fatal("the simulator did not record B's scene")
	}
	for _, scene := range []string{sceneB, fmt.Sprintf("fx%d_%d", c.ID, b.ID)} {
		if reply := e.svc.HandleOAEvent(ctx, e.merchant, wechat.Event{Type: wechat.EventScan, OpenID: buyer.OpenID, Scene: scene}); reply != "" {
			t.Errorf("SCAN of scene %q not issued to the buyer replied %q", scene, reply)
		}
	}
	o := e.buy(c, buyer, 1)
	if o.SharerID == nil || *o.SharerID != a.ID {
		t.Fatalf("the order credits %v, want sharer A %d", o.SharerID, a.ID)
	}

}

// The replay records outlive the 5-minute window only until the purge job runs; by then the
// timestamp alone refuses a replay.
func TestPurgeOACallbacks(t *testing.T) {
	e := newEnv(t, "")
	u := e.user("关注者")
	if _, err := simulator.Follow(e.creds.AppID, u.OpenID, ""); err != nil {
		t.Fatal(err)
	}
	seen := func() int {
		var n int
		if err := e.db.Get(&n, `SELECT count(*) FROM oa_callbacks_seen WHERE merchant_id = $1`, e.merchant); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := e.svc.PurgeOACallbacks(ctx); err != nil || seen() != 1 {
		t.Fatalf("a fresh record was purged (%d left): %v", seen(), err)
	}
	clock.Advance(11 * time.Minute)
	defer clock.Advance(-11 * time.Minute)
	if _, err := e.svc.PurgeOACallbacks(ctx); err != nil || seen() != 0 {
		t.Fatalf("after the window %d records left: %v", seen(), err)
	}
	if _, err := simulator.Redeliver(e.creds.AppID); err == nil {
		t.Fatal("a purged push replayed after the window was accepted")
	}
}
