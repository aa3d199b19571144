package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"fenxiao/campaign"
	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// A sharer claims a commission while the merchant's WeChat Pay balance is empty: the sending
// job meets NOTENOUGH and pauses the merchant's red packets. Every console page then shows
// the problem and what to do; "resume" restarts sending once the merchant has topped up in
// WeChat Pay, and the waiting packet goes out.
func TestBrowserConsolePayoutBanner(t *testing.T) {
	srv, base := startStack(t, nil)
	s, _ := testSim()
	ctx := context.Background()
	b := desktop(t)
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		do(t, b, what, actions...)
	}
	run("sign up", chromedp.Navigate(base+"/console/signup"),
		chromedp.SendKeys(chromedp.CSS("#in-shop_name"), "红包店"),
		chromedp.SendKeys(chromedp.CSS("#in-email"), "packets@example.com"),
		chromedp.SendKeys(chromedp.CSS("#in-password"), "red-packets-1"),
		chromedp.SendKeys(chromedp.CSS("#in-confirm"), "red-packets-1"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		shown(".steps"))
	var m int64
	if err := srv.DB.Get(&m, `SELECT merchant_id FROM merchant_accounts WHERE email = 'packets@example.com'`); err != nil {
		t.Fatal(err)
	}
	c, first, creds := merchantSetup(t, srv, m, 10)
	sharer, err := srv.Campaign.User(ctx, m, first.BuyerID)
	if err != nil {
		t.Fatal(err)
	}
	friend := buyThrough(t, srv, s, creds, c, sharer)
	if friend.CommissionStatus != "earned" {
		t.Fatalf("the friend's order earned nothing: %+v", friend)
	}
	if _, err := srv.Payouts.Claim(ctx, m, sharer.ID, sharer.OpenID); err != nil {
		t.Fatal(err)
	}
	if err := s.SetBalance(creds.MchID, 0); err != nil {
		t.Fatal(err)
	}
	if n, err := srv.Payouts.SendDue(ctx); err != nil || n != 0 {
		t.Fatalf("sent %d packets with an empty balance (%v)", n, err)
	}
	if p, err := srv.Payouts.Problem(ctx, m); err != nil || p == nil || p.Code != "NOTENOUGH" {
		t.Fatalf("problem %+v, %v", p, err)
	}

	for _, page := range []string{"/console/", "/console/campaigns", "/console/orders"} {
		run("open "+page, chromedp.Navigate(base+page), shown("#payout-problem"))
	}
	banner := get(t, b, "the banner", chromedp.Text(chromedp.CSS("#payout-problem")))
	if !strings.Contains(banner, "NOTENOUGH") || !strings.Contains(banner, "商户平台") || !strings.Contains(banner, "恢复发放") {
		t.Fatalf("banner %q", banner)
	}
	run("home", chromedp.Navigate(base+"/console/"), shown("#payout-problem"))
	shot(t, b, "payout-problem")

	// The merchant tops up in WeChat Pay, then resumes.
	if err := s.SetBalance(creds.MchID, 100_000_000); err != nil {
		t.Fatal(err)
	}
	run("resume", chromedp.Click(chromedp.CSS("#payout-problem button")), waitText(".toast-ok", "红包已恢复发放"))
	if n := eval[int](t, b, `document.querySelectorAll('#payout-problem').length`); n != 0 {
		t.Fatal("the banner is still there after resuming")
	}
	if n, err := srv.Payouts.SendDue(ctx); err != nil || n != 1 {
		t.Fatalf("after resuming: sent %d packets (%v), want the waiting one", n, err)
	}
}

// buyThrough has a new user open sharer's link and buy one unit; it returns the paid order.
func buyThrough(t *testing.T, srv *server, s *sim.Server, creds wechat.Credentials, c *campaign.Campaign, sharer *campaign.User) *campaign.Order {
	t.Helper()
	ctx := context.Background()
	su, err := s.AddUser(sim.User{AppID: creds.AppID, Nickname: "好友"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := srv.Campaign.SignIn(ctx, c.MerchantID, wechat.OAuthToken{OpenID: su.OpenID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Campaign.Bind(ctx, c, u, srv.Campaign.ShareToken(c.ID, sharer.ID)); err != nil {
		t.Fatal(err)
	}
	co, err := srv.Campaign.CreateOrder(ctx, c.ID, u, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Pay(strings.TrimPrefix(co.Pay.Package, "prepay_id="), su.OpenID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		o, err := srv.Campaign.Order(ctx, c.MerchantID, co.Order.ID)
		if err != nil {
			t.Fatal(err)
		}
		if o.Status == campaign.Paid {
			return o
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %d is %s", o.ID, o.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
