package campaign_test

import (
	"fmt"
	"strings"
	"testing"

	"fenxiao/campaign"
	"fenxiao/wechat/sim"
)

// B came through A's share and is not a fan. The follow QR's scene carries A whether B's page
// has A's token in the address (the first visit) or not (B opened the campaign again, or the
// buy page sent B back to it): following through it binds B to A, never to no one.
func TestFollowSceneCarriesTheSharerTheVisitorCameThrough(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(10, func(s *campaign.Settings) { s.FansOnly = true })
	a := e.user("分享者", func(u *sim.User) { u.Subscribed = true })
	b := e.user("访客")

	snap, err := e.svc.Snapshot(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	token := e.svc.ShareToken(c.ID, a.ID)
	for _, visit := range []struct{ name, token string }{{"with A's token", token}, {"without a token", ""}} {
		l, err := e.svc.Landing(ctx, snap, b, "", visit.token)
		if err != nil || l.Gate.Reason != campaign.NotFan || l.Gate.FollowQR == nil {
			t.Fatalf("%s: gate %+v %v", visit.name, l, err)
		}
		var scene string
		if err := e.db.Get(&scene, `SELECT scene FROM follow_scenes WHERE ticket = $1`, l.Gate.FollowQR.Ticket); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("fx%d_%d_", c.ID, a.ID); !strings.HasPrefix(scene, want) {
			t.Fatalf("%s: scene %q, want it to start with %q", visit.name, scene, want)
		}
	}
}
