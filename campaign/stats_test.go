package campaign_test

import (
	"testing"

	"fenxiao/campaign"
	"fenxiao/wechat"
)

func TestStatsAndTicker(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(10, func(s *campaign.Settings) { s.OrderTicker = true; s.ShowParticipants = true })
	a, b, v := e.user("张三丰"), e.user("李四"), e.user("")
	for _, u := range []*campaign.User{a, a, b, v} {
		if err := e.svc.RecordView(ctx, c, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.svc.RecordShare(ctx, c, a.ID, "moments"); err != nil {
		t.Fatal(err)
	}
	e.buy(c, a, 1)
	e.svc.Bind(ctx, c, b, e.svc.ShareToken(c.ID, a.ID)) //nolint:errcheck
	e.buy(c, b, 2)
	e.buy(c, v, 1)

	st, err := e.svc.Stats(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if st.Views != 4 || st.Visitors != 3 || st.Shares != 1 || st.Buyers != 3 || st.Participants != 1 || st.UnitsSold != 4 || st.PaidOrders != 3 {
		t.Fatalf("stats %+v", st)
	}
	equal(t, "paid amount", st.PaidAmount, "352")
	equal(t, "commissions", st.Commissions, "4")
	equal(t, "reserve", st.Reserve, "16") // 2 × (10 − 2 earned)

	items, err := e.svc.Ticker(ctx, c, 10)
	if err != nil || len(items) != 3 {
		t.Fatalf("ticker %+v %v", items, err)
	}
	if items[0].Name != "微信用户" || items[1].Name != "李**" || items[1].Qty != 2 || items[2].Name != "张**" {
		t.Fatalf("ticker names %q %q %q", items[0].Name, items[1].Name, items[2].Name)
	}
	for _, it := range items {
		if it.At.IsZero() {
			t.Fatal("ticker item without a time")
		}
	}
}

// Unfollowing clears the fan flag, so a fans-only campaign asks again.
func TestUnfollowEvent(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(5, func(s *campaign.Settings) { s.FansOnly = true })
	u := e.user("取关")
	if reply := e.svc.HandleOAEvent(ctx, e.merchant, wechat.Event{Type: wechat.EventSubscribe, OpenID: u.OpenID}); reply != "" {
		t.Fatalf("plain follow replied %q", reply)
	}
	if err := simulator.Unfollow(e.creds.AppID, u.OpenID); err != nil {
		t.Fatal(err)
	}
	e.svc.HandleOAEvent(ctx, e.merchant, wechat.Event{Type: wechat.EventUnsubscribe, OpenID: u.OpenID})
	if g, err := e.svc.Enter(ctx, c, u, "", 0); err != nil || g.Reason != campaign.NotFan {
		t.Fatalf("after unfollowing: %+v %v", g, err)
	}
}

// RecordViews writes a batch of page views in one statement: a visitor's views of a campaign
// add up (twice in the batch and once before: 3 views, one visitor), visitors and campaigns
// stay apart, and an empty batch writes nothing.
func TestRecordViewsBatch(t *testing.T) {
	e := newEnv(t, "100")
	c, d := e.campaign(10), e.campaign(10)
	a, b := e.user("甲"), e.user("乙")
	if err := e.svc.RecordView(ctx, c, a.ID); err != nil {
		t.Fatal(err)
	}
	view := func(c *campaign.Campaign, u *campaign.User) campaign.View {
		return campaign.View{CampaignID: c.ID, MerchantID: c.MerchantID, VisitorID: u.ID}
	}
	if err := e.svc.RecordViews(ctx, []campaign.View{view(c, a), view(c, b), view(c, a), view(d, b)}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RecordViews(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		c               *campaign.Campaign
		views, visitors int
	}{{c, 4, 2}, {d, 1, 1}} {
		st, err := e.svc.Stats(ctx, want.c)
		if err != nil {
			t.Fatal(err)
		}
		if st.Views != want.views || st.Visitors != want.visitors {
			t.Fatalf("campaign %d: %d views by %d visitors, want %d by %d", want.c.ID, st.Views, st.Visitors, want.views, want.visitors)
		}
	}
}
