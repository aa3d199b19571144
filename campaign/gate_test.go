package campaign_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"fenxiao/campaign"
	"fenxiao/wechat/sim"
)

// Every gate, both sides.
func TestGates(t *testing.T) {
	e := newEnv(t, "1000")
	const (
		shenzhenIP = "119.123.0.1"    // 广东省 深圳市 in ip2region
		beijingIP  = "123.112.0.1"    // 北京市
		foreignIP  = "8.8.8.8"        // 美国
		bogusIP    = "not an address" // unreadable: never in an allowed region
	)
	enter := func(c *campaign.Campaign, u *campaign.User, ip string) campaign.Gate {
		t.Helper()
		g, err := e.svc.Enter(ctx, c, u, ip, 0)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	want := func(what string, g campaign.Gate, r campaign.Reason) {
		t.Helper()
		if g.Reason != r {
			t.Errorf("%s: gate %q, want %q", what, g.Reason, r)
		}
	}

	t.Run("region by IP", func(t *testing.T) {
		c := e.campaign(5, func(s *campaign.Settings) { s.Regions = []string{"广东省/深圳市", "北京市"} })
		u := e.user("地区")
		want("Shenzhen", enter(c, u, shenzhenIP), campaign.Open)
		want("Beijing", enter(c, u, beijingIP), campaign.Open)
		g := enter(c, u, foreignIP)
		want("abroad", g, campaign.RegionNotAllowed)
		if g.Region.String() != "美国" {
			t.Errorf("detected region %q, want 美国", g.Region)
		}
		want("bogus IP", enter(c, u, bogusIP), campaign.RegionNotAllowed)
	})

	t.Run("password, throttled", func(t *testing.T) {
		c := e.campaign(5, func(s *campaign.Settings) { s.Password = "8888" })
		u, v := e.user("密码"), e.user("猜密码")
		want("before the password", enter(c, u, ""), campaign.NeedPassword)
		if err := e.svc.TryPassword(ctx, c, u, "1234"); !errors.Is(err, campaign.ErrWrongPassword) {
			t.Fatalf("wrong password: %v", err)
		}
		if err := e.svc.TryPassword(ctx, c, u, "8888"); err != nil {
			t.Fatalf("right password: %v", err)
		}
		want("after the password", enter(c, u, ""), campaign.Open)
		for i := range 5 {
			if err := e.svc.TryPassword(ctx, c, v, "0000"); !errors.Is(err, campaign.ErrWrongPassword) {
				t.Fatalf("try %d: %v", i, err)
			}
		}
		if err := e.svc.TryPassword(ctx, c, v, "8888"); !errors.Is(err, campaign.ErrTooManyTries) {
			t.Fatalf("sixth try in a minute: %v, want ErrTooManyTries", err)
		}
		clock.Advance(61 * time.Second)
		defer clock.Advance(-61 * time.Second)
		if err := e.svc.TryPassword(ctx, c, v, "8888"); err != nil {
			t.Fatalf("a minute later: %v", err)
		}
	})

	t.Run("time", func(t *testing.T) {
		now := clock.Now()
		upcoming := e.campaign(5, func(s *campaign.Settings) { s.StartsAt = now.Add(time.Hour) })
		g := enter(upcoming, e.user("早到"), "")
		want("upcoming", g, campaign.NotStarted)
		if !g.StartsAt.Equal(upcoming.StartsAt) {
			t.Errorf("start time %v, want %v", g.StartsAt, upcoming.StartsAt)
		}
		running := e.campaign(5)
		want("running", enter(running, e.user("准时"), ""), campaign.Open)
		if _, err := e.svc.EndNow(ctx, e.merchant, running.ID); err != nil {
			t.Fatal(err)
		}
		want("ended", enter(e.reload(running), e.user("迟到"), ""), campaign.HasEnded)
	})

	t.Run("fans only", func(t *testing.T) {
		c := e.campaign(5, func(s *campaign.Settings) { s.FansOnly = true })
		fan := e.user("老粉", func(u *sim.User) { u.Subscribed = true })
		want("fan", enter(c, fan, ""), campaign.Open)
		stranger := e.user("路人")
		g := enter(c, stranger, "")
		want("not a fan", g, campaign.NotFan)
		if g.FollowQR == nil || g.FollowQR.Ticket == "" {
			t.Fatal("no follow QR for a non-fan")
		}
		// Following outside our QR (e.g. from the OA's profile) is found by asking WeChat.
		if _, err := simulator.Follow(e.creds.AppID, stranger.OpenID, ""); err != nil {
			t.Fatal(err)
		}
		want("followed since", enter(c, stranger, ""), campaign.Open)
	})

	t.Run("sold out and buyer limit", func(t *testing.T) {
		c := e.campaign(1)
		first, second := e.user("抢到"), e.user("没抢到")
		want("stock left", enter(c, second, ""), campaign.Open)
		e.buy(c, first, 1)
		want("sold out", enter(e.reload(c), second, ""), campaign.SoldOut)

		limited := e.campaign(10, func(s *campaign.Settings) { s.BuyerLimit = 1 })
		e.buy(limited, first, 1)
		limited = e.reload(limited)
		want("limit reached, new buyer", enter(limited, second, ""), campaign.BuyersFull)
		want("limit reached, existing buyer", enter(limited, first, ""), campaign.Open)
		if _, err := e.svc.CreateOrder(ctx, limited.ID, second, 1, ""); !errors.Is(err, campaign.ErrBuyerLimit) {
			t.Fatalf("order past the buyer limit: %v", err)
		}
	})

	t.Run("buy before sharing", func(t *testing.T) {
		c := e.campaign(10, func(s *campaign.Settings) { s.BuyBeforeShare = true })
		a, b, x := e.user("先分享"), e.user("朋友"), e.user("另一位朋友")
		if r, _ := e.svc.CanShare(ctx, c, a); r != campaign.MustBuyFirst {
			t.Fatalf("share before buying: %q", r)
		}
		// B buys through A's link before A has bought: no commission, reserve keeps it.
		e.svc.Bind(ctx, c, b, e.svc.ShareToken(c.ID, a.ID)) //nolint:errcheck
		ob := e.buy(c, b, 1)
		if ob.CommissionStatus != "none" || ob.NoCommission != campaign.SharerNotBuyer {
			t.Fatalf("sharer who has not bought: %s %q", ob.CommissionStatus, ob.NoCommission)
		}
		e.buy(c, a, 1)
		if r, _ := e.svc.CanShare(ctx, c, a); r != campaign.Open {
			t.Fatalf("share after buying: %q", r)
		}
		e.svc.Bind(ctx, c, x, e.svc.ShareToken(c.ID, a.ID)) //nolint:errcheck
		if ox := e.buy(c, x, 1); ox.CommissionStatus != "earned" {
			t.Fatalf("after A bought, X's order: %s %q", ox.CommissionStatus, ox.NoCommission)
		}
	})

	t.Run("snapshot users", func(t *testing.T) {
		c := e.campaign(5)
		s := e.user("朋友圈快照")
		s, _ = e.svc.SignIn(ctx, e.merchant, wechatToken(s.OpenID, true), nil)
		want("snapshot", enter(c, s, ""), campaign.SnapshotUser)
		if r, _ := e.svc.CanShare(ctx, c, s); r != campaign.SnapshotUser {
			t.Fatalf("snapshot user may share: %q", r)
		}
	})
	audit(t, e.db)
}

// The card a shared link shows says what a friend will find: 限时抢购中 while the sale runs,
// when it opens before it does (in China time, as WeChat users read it), and that it ended
// once it has. Before, an upcoming campaign's card already said 限时抢购中.
func TestShareCardSaysWhenTheSaleOpens(t *testing.T) {
	e := newEnv(t, "100")
	start := clock.Now().Add(50 * time.Hour).Truncate(time.Minute)
	upcoming := e.campaign(5, func(s *campaign.Settings) { s.StartsAt, s.EndsAt = start, start.Add(24*time.Hour) })
	running := e.campaign(5)
	sharer := e.user("分享卡片")
	card := func(c *campaign.Campaign) string {
		t.Helper()
		setup, err := e.svc.ShareSetup(ctx, c, sharer, fmt.Sprintf("%s/c/%d/share", hookURL, c.ID))
		if err != nil {
			t.Fatal(err)
		}
		return setup.Desc
	}
	opens := start.In(time.FixedZone("CST", 8*3600)).Format("1月2日 15:04") + " 开抢"
	if d := card(upcoming); !strings.Contains(d, opens) || strings.Contains(d, "限时抢购中") {
		t.Errorf("upcoming campaign's card: %q, want it to say %q", d, opens)
	}
	if d := card(running); !strings.Contains(d, "限时抢购中") {
		t.Errorf("running campaign's card: %q", d)
	}
}
