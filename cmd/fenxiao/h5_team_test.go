package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"fenxiao/campaign"
	"fenxiao/wechat/sim"
)

// teamFixture is a campaign with two sharers, A (赵一 and 钱二 bought through her, 周四 only
// opened her link) and B (孙三 bought through him), each signed in as a follower.
type teamFixture struct {
	st       *h5Stack
	m        *h5Merchant
	c        *campaign.Campaign
	a, b     *follower
	aID, bID int64
	aOpenID  string
	orders   map[string]int64 // by the friend's nickname
	// friend signs a new follower in through sharerID's link and, unless qty is 0, orders
	// qty units (and pays for them if pay).
	friend func(nick string, sharerID int64, qty int, pay bool)
}

func newTeamFixture(t *testing.T) *teamFixture {
	t.Helper()
	st := newH5Stack(t)
	m := st.merchant("推广店")
	c := st.campaign(m, 20, func(s *campaign.Settings) { s.HoldDays = 7 })
	fx := &teamFixture{st: st, m: m, c: c, orders: map[string]int64{}}
	page := fmt.Sprintf("%s/c/%d", st.base, c.ID)
	var openids []string
	sharer := func(nick string) (*follower, int64) {
		su, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: nick, Subscribed: true})
		if err != nil {
			t.Fatal(err)
		}
		openids = append(openids, su.OpenID)
		f := newFollower()
		f.signIn(t, st, m, page+"/team", su.OpenID)
		var id int64
		if err := st.srv.DB.Get(&id, `SELECT id FROM wechat_users WHERE merchant_id = $1 AND openid = $2`, m.id, su.OpenID); err != nil {
			t.Fatal(err)
		}
		return f, id
	}
	fx.a, fx.aID = sharer("甲分享")
	fx.b, fx.bID = sharer("乙分享")
	fx.aOpenID = openids[0]
	fx.friend = func(nick string, sharerID int64, qty int, pay bool) {
		su, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: nick, Subscribed: true})
		if err != nil {
			t.Fatal(err)
		}
		f := newFollower()
		link := page + "?s=" + st.srv.Campaign.ShareToken(c.ID, sharerID)
		f.signIn(t, st, m, link, su.OpenID)
		f.get(t, link)                               // back from the sign-in on the shared link: bound
		f.signIn(t, st, m, page+"/share", su.OpenID) // the share page asks for the nickname
		if qty == 0 {
			return
		}
		status, a := f.order(t, st, c, fmt.Sprintf(`{"qty":%d}`, qty))
		if status != http.StatusOK {
			t.Fatalf("%s orders: %d %+v", nick, status, a)
		}
		fx.orders[nick] = a.OrderID
		if !pay {
			return
		}
		if err := st.sim.Pay(strings.TrimPrefix(a.Pay.Package, "prepay_id="), su.OpenID); err != nil {
			t.Fatal(err)
		}
		waitPaid(t, st, m, a.OrderID)
	}
	fx.friend("赵一", fx.aID, 2, true)
	fx.friend("钱二", fx.aID, 1, true)
	fx.friend("周四", fx.aID, 0, false)
	fx.friend("孙三", fx.bID, 3, true)
	return fx
}

// The promotion page over HTTP (issue 16, acceptance 4): each sharer sees exactly their own
// friends and their orders, never the other's; a friend's page is theirs alone; the cursor
// walks pages; a visitor without a session is sent to sign in.
func TestH5TeamShowsOnlyMyFriendsAndOrders(t *testing.T) {
	fx := newTeamFixture(t)
	page := fmt.Sprintf("%s/c/%d/team", fx.st.base, fx.c.ID)
	resp, body := fx.a.get(t, page)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("A's page: %d\n%s", resp.StatusCode, body)
	}
	for _, want := range []string{"赵**", "钱**", "周**", `id="t-friends">3<`, `id="t-bought">2<`, `id="t-orders">2<`, `id="t-pending">15.00<`, "已购买", "未购买"} {
		if !strings.Contains(body, want) {
			t.Errorf("A's friends page lacks %q", want)
		}
	}
	for _, never := range []string{"孙", "赵一", "乙分享"} {
		if strings.Contains(body, never) {
			t.Errorf("A's friends page shows %q", never)
		}
	}
	_, body = fx.a.get(t, page+"?tab=orders")
	if n := strings.Count(body, "data-order="); n != 2 || !strings.Contains(body, "数量 2") || strings.Contains(body, "数量 3") {
		t.Errorf("A's orders page: %d orders\n%s", n, body)
	}
	if !strings.Contains(body, "10.00") || !strings.Contains(body, "预计 ") {
		t.Errorf("A's orders page does not show 赵一's pending ¥10.00 with its date:\n%s", body)
	}
	_, body = fx.b.get(t, page+"?tab=orders")
	if strings.Count(body, "data-order=") != 1 || !strings.Contains(body, "孙**") || strings.Contains(body, "赵") || strings.Contains(body, "钱") {
		t.Errorf("B's orders page:\n%s", body)
	}
	_, body = fx.b.get(t, page)
	if !strings.Contains(body, `id="t-friends">1<`) || strings.Contains(body, "周") {
		t.Errorf("B's friends page:\n%s", body)
	}
	// The cursor moves through A's own list only.
	ctx := context.Background()
	aUser, _ := fx.st.srv.Campaign.User(ctx, fx.m.id, fx.aID)
	p, err := fx.st.srv.Campaign.Team(ctx, fx.c, aUser, campaign.TeamQuery{Tab: campaign.TeamOrders, Limit: 1})
	if err != nil || p.Next == "" {
		t.Fatalf("A's first order page: %+v %v", p, err)
	}
	_, body = fx.a.get(t, page+"?tab=orders&after="+p.Next)
	if strings.Count(body, "data-order=") != 1 || !strings.Contains(body, "赵**") {
		t.Errorf("A's orders after the newest:\n%s", body)
	}
	if resp, _ := newFollower().get(t, page); resp.StatusCode != http.StatusFound {
		t.Errorf("the page without a session: %d, want a redirect to sign in", resp.StatusCode)
	}
	if _, body := fx.a.get(t, fmt.Sprintf("%s/c/%d/commissions", fx.st.base, fx.c.ID)); !strings.Contains(body, fmt.Sprintf(`href="/c/%d/team"`, fx.c.ID)) {
		t.Errorf("the commissions page does not link to the promotion page")
	}
}

// 我的佣金 shows each commission still held with the date it becomes claimable (issue 16);
// the other sharer's page shows only theirs.
func TestH5EarningsShowHeldUntil(t *testing.T) {
	fx := newTeamFixture(t)
	o, err := fx.st.srv.Campaign.Order(context.Background(), fx.m.id, fx.orders["赵一"])
	if err != nil || o.SettleAt == nil {
		t.Fatalf("赵一's order: %+v %v", o, err)
	}
	want := "预计 " + o.SettleAt.In(fx.st.srv.cfg.TimeZone).Format("01-02 15:04") + " 可提现"
	_, body := fx.a.get(t, fmt.Sprintf("%s/c/%d/commissions", fx.st.base, fx.c.ID))
	if n := strings.Count(body, "预计 "); n != 2 || !strings.Contains(body, want) {
		t.Errorf("A's commissions show %d dates, want 2 with %q:\n%s", n, want, body)
	}
	_, body = fx.b.get(t, fmt.Sprintf("%s/c/%d/commissions", fx.st.base, fx.c.ID))
	if n := strings.Count(body, "预计 "); n != 1 {
		t.Errorf("B's commissions show %d dates, want 1", n)
	}
}
