package campaign_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"fenxiao/campaign"
)

// The sharer's promotion page lists exactly the sharer's own friends on the campaign and the
// orders made through them there (issue 16, acceptance 4): not a second sharer's, not the
// friends of another campaign, not a friend who moved on to another sharer (their earlier order
// through me stays mine). Each order says what it earns: credited, pending until a date, or
// nothing and why. Both lists page by keyset.
func TestTeamListsOnlyMyFriendsAndOrders(t *testing.T) {
	e := newEnv(t, "1000")
	c := e.campaign(50, func(s *campaign.Settings) { s.HoldDays, s.EndsAt = 7, clock.Now().Add(30*24*time.Hour) })
	other := e.campaign(50)
	a, b := e.user("甲分享"), e.user("乙分享")
	bind := func(c *campaign.Campaign, u, sharer *campaign.User) {
		t.Helper()
		if ok, err := e.svc.Bind(ctx, c, u, e.svc.ShareToken(c.ID, sharer.ID)); err != nil || !ok {
			t.Fatalf("bind %s to %s: %v %v", u.Nickname, sharer.Nickname, ok, err)
		}
	}
	f1, f2, f4, f5, f6, f8 := e.user("赵一"), e.user("钱二"), e.user("周四"), e.user("吴五"), e.user("郑六"), e.user("冯八")
	f3, f7 := e.user("孙三"), e.user("陈七")
	for _, u := range []*campaign.User{f1, f2, f4, f5, f6, f8} {
		bind(c, u, a)
	}
	bind(c, f3, b)
	bind(other, f7, a) // a's friend on the other campaign

	o1, o2, o8 := e.buy(c, f1, 2), e.buy(c, f2, 1), e.buy(c, f8, 1)
	e.buy(c, f3, 1)
	e.buy(other, f7, 1)
	if _, err := e.svc.Refund(ctx, e.merchant, o2.ID, "不要了"); err != nil {
		t.Fatal(err)
	}
	bind(c, f8, b) // f8 moves on to b after buying through a
	clock.Advance(4 * 24 * time.Hour)
	defer clock.Advance(-4 * 24 * time.Hour)
	o6 := e.buy(c, f6, 1)
	co5, err := e.svc.CreateOrder(ctx, c.ID, f5, 1, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(4 * 24 * time.Hour) // o1, o8 and 孙三's mature (paid 8 days ago), o6 not yet
	defer clock.Advance(-4 * 24 * time.Hour)
	// SettleHeld settles every campaign's: other tests of the package may have held ones too.
	if n, err := e.svc.SettleHeld(ctx); err != nil || n < 3 {
		t.Fatalf("settled %d (%v), want at least o1, o8 and 孙三's", n, err)
	}

	team, err := e.svc.Team(ctx, c, a, campaign.TeamQuery{})
	if err != nil {
		t.Fatal(err)
	}
	tot := team.Totals
	if tot.Friends != 5 || tot.BoughtFriends != 2 || tot.Orders != 5 {
		t.Errorf("a's totals: %+v, want 5 friends, 2 bought (赵一, 郑六), 5 orders", tot)
	}
	equal(t, "a's pending", tot.Pending, "2")
	equal(t, "a's credited", tot.Credited, "6")

	friends := allFriends(t, e, c, a)
	if got := strings.Join(friends, ","); got != "郑六:bought,吴五:-,周四:-,钱二:-,赵一:bought" {
		t.Errorf("a's friends: %s", got)
	}
	orders := allOrders(t, e, c, a)
	want := []string{
		orderLine(co5.Order.ID, "待支付", "none", "0", "待支付"),
		orderLine(o6.ID, "已完成", "pending", "2", ""),
		orderLine(o8.ID, "已完成", "credited", "2", ""),
		orderLine(o2.ID, "已退款", "none", "0", "订单已退款，佣金取消"),
		orderLine(o1.ID, "已完成", "credited", "4", ""),
	}
	if got := strings.Join(orders, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("a's orders:\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
	page, err := e.svc.Team(ctx, c, a, campaign.TeamQuery{Tab: campaign.TeamOrders, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if held := page.Orders[1]; held.SettleAt == nil || !held.SettleAt.Equal(o6.PaidAt.Add(7*24*time.Hour)) || held.Name() != "郑**" {
		t.Errorf("the held commission of 郑六's order: until %v, shown as %s", held.SettleAt, held.Name())
	}

	bt, err := e.svc.Team(ctx, c, b, campaign.TeamQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if bt.Totals.Friends != 2 || bt.Totals.BoughtFriends != 1 || bt.Totals.Orders != 1 {
		t.Errorf("b's totals: %+v, want 2 friends (孙三, 冯八), 1 bought, 1 order", bt.Totals)
	}
	if got := strings.Join(allFriends(t, e, c, b), ","); got != "冯八:-,孙三:bought" {
		t.Errorf("b's friends: %s", got)
	}
	if got := allOrders(t, e, c, b); len(got) != 1 || !strings.Contains(got[0], "credited 2") {
		t.Errorf("b's orders: %v", got)
	}
	ot, err := e.svc.Team(ctx, other, a, campaign.TeamQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if ot.Totals.Friends != 1 || ot.Totals.Orders != 1 || len(ot.Friends) != 1 || ot.Friends[0].Name() != "陈**" {
		t.Errorf("a on the other campaign: %+v %+v", ot.Totals, ot.Friends)
	}
	audit(t, e.db)
}

// allFriends walks the sharer's friends two at a time: name:bought or name:-.
func allFriends(t *testing.T, e *env, c *campaign.Campaign, sharer *campaign.User) []string {
	t.Helper()
	var out []string
	q := campaign.TeamQuery{Limit: 2}
	for range 10 {
		p, err := e.svc.Team(ctx, c, sharer, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Friends) > 2 {
			t.Fatalf("a page of %d friends, limit 2", len(p.Friends))
		}
		for _, f := range p.Friends {
			mark := "-"
			if f.Bought {
				mark = "bought"
			}
			out = append(out, f.Nickname+":"+mark)
		}
		if p.Next == "" {
			return out
		}
		q.After = p.Next
	}
	t.Fatal("friends never end")
	return nil
}

// allOrders walks the sharer's friends' orders two at a time.
func allOrders(t *testing.T, e *env, c *campaign.Campaign, sharer *campaign.User) []string {
	t.Helper()
	var out []string
	q := campaign.TeamQuery{Tab: campaign.TeamOrders, Limit: 2}
	for range 10 {
		p, err := e.svc.Team(ctx, c, sharer, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Orders) > 2 {
			t.Fatalf("a page of %d orders, limit 2", len(p.Orders))
		}
		for _, o := range p.Orders {
			out = append(out, orderLine(o.ID, o.StatusLabel(), o.Earning.Kind, o.Earning.Amount.String(), o.Earning.Note))
		}
		if p.Next == "" {
			return out
		}
		q.After = p.Next
	}
	t.Fatal("orders never end")
	return nil
}

func orderLine(id int64, status, kind, amount, note string) string {
	return strings.Join([]string{strconv.FormatInt(id, 10), status, kind + " " + amount, note}, " | ")
}

// A commission held until the order is done has no date yet: both pages say after what it
// matures; once the buyer confirms receipt, they show the date.
func TestHeldUntilDoneSaysAfterWhat(t *testing.T) {
	e := newEnv(t, "1000")
	c := e.campaign(20, func(s *campaign.Settings) {
		s.Fulfilment, s.HoldFrom, s.HoldDays = campaign.Delivery, campaign.HoldFromCompletion, 7
	})
	sharer, buyer := e.user("分享者"), e.user("好友")
	if _, err := e.svc.Bind(ctx, c, buyer, e.svc.ShareToken(c.ID, sharer.ID)); err != nil {
		t.Fatal(err)
	}
	o := e.buyWith(c, buyer, 1, address)
	earn, err := e.svc.Earnings(ctx, e.merchant, sharer.ID, 50)
	if err != nil {
		t.Fatal(err)
	}
	if h := earn.Held[o.OutTradeNo]; h.SettleAt != nil || h.Note != "确认收货后 7 天" {
		t.Errorf("held until receipt: %+v", h)
	}
	team, err := e.svc.Team(ctx, c, sharer, campaign.TeamQuery{Tab: campaign.TeamOrders})
	if err != nil || len(team.Orders) != 1 || team.Orders[0].Earning.Note != "确认收货后 7 天入账" || team.Orders[0].StatusLabel() != "已支付" {
		t.Fatalf("team orders: %+v %v", team.Orders, err)
	}
	if _, err := e.svc.Ship(ctx, e.merchant, o.ID, "顺丰速运", "SF0001"); err != nil {
		t.Fatal(err)
	}
	if team, _ = e.svc.Team(ctx, c, sharer, campaign.TeamQuery{Tab: campaign.TeamOrders}); team.Orders[0].StatusLabel() != "已发货" {
		t.Errorf("shipped order shows %s", team.Orders[0].StatusLabel())
	}
	done, err := e.svc.ConfirmReceipt(ctx, buyer, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	earn, _ = e.svc.Earnings(ctx, e.merchant, sharer.ID, 50)
	if h := earn.Held[o.OutTradeNo]; h.SettleAt == nil || !h.SettleAt.Equal(*done.SettleAt) || h.Note != "" {
		t.Errorf("held after receipt: %+v, want until %v", h, done.SettleAt)
	}
	other := e.user("别人")
	if earn, _ := e.svc.Earnings(ctx, e.merchant, other.ID, 50); len(earn.Held) != 0 {
		t.Errorf("another user's held commissions: %+v", earn.Held)
	}
}

// Opening the same sharer's link again is a page view, not news: the binding stays as it was
// (the friend keeps their place in the sharer's team list, by when they joined) and nothing is
// written, so a follower reloading a shared page, or a crowd arriving through one link, does
// not queue on the binding's row. Opening another sharer's link still moves them over.
func TestReopeningTheSameShareLinkWritesNothing(t *testing.T) {
	e := newEnv(t, "1000")
	c := e.campaign(10)
	a, b, f := e.user("甲链接"), e.user("乙链接"), e.user("重开访客")
	version := func() (v string) {
		t.Helper()
		if err := e.db.GetContext(ctx, &v, `SELECT xmin::text || '/' || sharer_id || '/' || bound_at FROM bindings WHERE campaign_id = $1 AND visitor_id = $2`, c.ID, f.ID); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if ok, err := e.svc.Bind(ctx, c, f, e.svc.ShareToken(c.ID, a.ID)); err != nil || !ok {
		t.Fatalf("first bind: %v %v", ok, err)
	}
	first := version()
	clock.Advance(time.Minute)
	defer clock.Advance(-time.Minute)
	for range 3 {
		if ok, err := e.svc.Bind(ctx, c, f, e.svc.ShareToken(c.ID, a.ID)); err != nil || ok {
			t.Fatalf("reopening the same link: bound %v, %v; want nothing new", ok, err)
		}
	}
	if again := version(); again != first {
		t.Fatalf("reopening the same link rewrote the binding: %s, then %s", first, again)
	}
	if ok, err := e.svc.Bind(ctx, c, f, e.svc.ShareToken(c.ID, b.ID)); err != nil || !ok {
		t.Fatalf("another sharer's link: %v %v", ok, err)
	}
	if moved := version(); moved == first || !strings.Contains(moved, "/"+strconv.FormatInt(b.ID, 10)+"/") {
		t.Fatalf("another sharer's link left the binding at %s (was %s)", moved, first)
	}
}

// A replica that has just applied a visitor's opening of a share link answers the same link
// again without a query, for as long as it reuses sessions; another sharer's link, or a
// change to the visitor (here the follow QR of another sharer, bound through the OA callback),
// goes to the database again.
func TestReopenedShareLinkSkipsTheQuery(t *testing.T) {
	e := newEnv(t, "1000")
	svc, err := campaign.NewService(campaign.Config{
		DB: e.db, Wallet: e.wallet, Merchants: e.svc.Merchants(), Regions: regions, Secret: testSecret, BaseURL: hookURL, Now: clock.Now,
		SessionReuse: time.Hour, // no expiry during the test: the counts below do not depend on its speed
	})
	if err != nil {
		t.Fatal(err)
	}
	c := e.campaign(10)
	a, b, f := e.user("甲重开"), e.user("乙重开"), e.user("重开的人")
	open := func(sharer *campaign.User, wantQueries int64, wantSharer int64) {
		t.Helper()
		before := svc.BindQueries()
		for range 3 {
			if _, err := svc.Bind(ctx, c, f, svc.ShareToken(c.ID, sharer.ID)); err != nil {
				t.Fatal(err)
			}
		}
		if got := svc.BindQueries() - before; got != wantQueries {
			t.Fatalf("opening %s's link 3 times sent %d queries, want %d", sharer.Nickname, got, wantQueries)
		}
		var bound int64
		if err := e.db.GetContext(ctx, &bound, `SELECT sharer_id FROM bindings WHERE campaign_id = $1 AND visitor_id = $2`, c.ID, f.ID); err != nil {
			t.Fatal(err)
		}
		if bound != wantSharer {
			t.Fatalf("bound to %d, want %d", bound, wantSharer)
		}
	}
	open(a, 1, a.ID)
	open(b, 1, b.ID)
	open(a, 1, a.ID)
	// Following through b's QR binds the visitor to b in the OA callback this service handles:
	// a's link, opened again, goes to the database and moves them back.
	hooks.Store(e.merchant, svc)
	qr, err := svc.FollowQR(ctx, c, f, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if reply, err := simulator.Scan(qr.Ticket, f.OpenID); err != nil || reply == "" {
		t.Fatalf("scan b's follow QR: %q %v", reply, err)
	}
	var bound int64
	if err := e.db.GetContext(ctx, &bound, `SELECT sharer_id FROM bindings WHERE campaign_id = $1 AND visitor_id = $2`, c.ID, f.ID); err != nil || bound != b.ID {
		t.Fatalf("after the scan bound to %d (%v), want b %d", bound, err, b.ID)
	}
	open(a, 1, a.ID)
}
