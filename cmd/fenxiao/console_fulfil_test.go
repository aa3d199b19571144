package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"fenxiao/campaign"
	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// fulfilOrder publishes a campaign of merchant m with the given fulfilment and returns a paid
// order of it, bought with ct.
func fulfilOrder(t *testing.T, srv *server, m int64, base *campaign.Campaign, mode campaign.Fulfilment, ct campaign.Contact) *campaign.Order {
	t.Helper()
	ctx := context.Background()
	set := base.Settings
	set.Title, set.Fulfilment = "发货测试", mode
	c, err := srv.Campaign.Create(ctx, m, set, 5)
	if err != nil {
		t.Fatal(err)
	}
	if c, err = srv.Campaign.Publish(ctx, m, c.ID); err != nil {
		t.Fatal(err)
	}
	s, _ := testSim()
	var appID string
	if err := srv.DB.Get(&appID, `SELECT app_id FROM merchant_wechat WHERE merchant_id = $1`, m); err != nil {
		t.Fatal(err)
	}
	su, err := s.AddUser(sim.User{AppID: appID, Nickname: "收件人"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := srv.Campaign.SignIn(ctx, m, wechat.OAuthToken{OpenID: su.OpenID}, &wechat.User{OpenID: su.OpenID, Nickname: "收件人"})
	if err != nil {
		t.Fatal(err)
	}
	co, err := srv.Campaign.BuyWith(ctx, c, u, campaign.OrderForm{Qty: 1, Contact: ct}, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Pay(strings.TrimPrefix(co.Pay.Package, "prepay_id="), su.OpenID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		o, err := srv.Campaign.Order(ctx, m, co.Order.ID)
		if err != nil {
			t.Fatal(err)
		}
		if o.Status == campaign.Paid {
			return o
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %d not paid within 10 s", o.ID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The merchant ships a delivery order from its page (a bad tracking number is explained) and
// staff verify a pickup code on the verify page, once; a second try says when it was used.
func TestConsoleShipsAndVerifies(t *testing.T) {
	srv, base := startStack(t, nil)
	b, m := signUp(t, srv, base, "发货店")
	published, _, _ := merchantSetup(t, srv, m, 10)
	o := fulfilOrder(t, srv, m, published, campaign.Delivery, campaign.Contact{Name: "王小明", Mobile: "13800138000",
		Province: "浙江省", City: "杭州市", District: "西湖区", Detail: "龙井路 1 号", Remark: "放门口"})
	page := "/console/orders/" + strconv.FormatInt(o.ID, 10)
	if resp, body := b.get(page); resp.StatusCode != http.StatusOK || !strings.Contains(body, "待发货") || !strings.Contains(body, "浙江省杭州市西湖区 龙井路 1 号") ||
		!strings.Contains(body, "放门口") || !strings.Contains(body, `id="ship-form"`) {
		t.Fatalf("order page: %d\n%s", resp.StatusCode, body)
	}
	resp, _ := b.post(page+"/ship", url.Values{"carrier": {"顺丰速运"}, "tracking_no": {"SF 1"}})
	if msg := b.flashOf(resp); !strings.Contains(msg, "快递单号须为") {
		t.Fatalf("bad tracking number: %q", msg)
	}
	resp, _ = b.post(page+"/ship", url.Values{"carrier": {"顺丰速运"}, "tracking_no": {"SF1234567890"}})
	if msg := b.flashOf(resp); !strings.Contains(msg, "已发货") {
		t.Fatalf("ship: %q", msg)
	}
	if _, body := b.get(page); !strings.Contains(body, "SF1234567890") || !strings.Contains(body, "已发货") {
		t.Fatalf("shipped order page:\n%s", body)
	}

	p := fulfilOrder(t, srv, m, published, campaign.Pickup, campaign.Contact{})
	if resp, body := b.post("/console/verify", url.Values{"code": {"12345"}}); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "12 位数字") {
		t.Fatalf("a short code: %d", resp.StatusCode)
	}
	resp, body := b.post("/console/verify", url.Values{"code": {*p.PickupCode}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "核销成功") || !strings.Contains(body, p.OutTradeNo) {
		t.Fatalf("verify: %d\n%s", resp.StatusCode, body)
	}
	resp, body = b.post("/console/verify", url.Values{"code": {*p.PickupCode}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "该核销码已于") {
		t.Fatalf("the same code again: %d\n%s", resp.StatusCode, body)
	}
	other, _ := signUp(t, srv, base, "别家店")
	if resp, body := other.post("/console/verify", url.Values{"code": {*p.PickupCode}}); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "核销码不存在") {
		t.Fatalf("another merchant's code: %d", resp.StatusCode)
	}
}

// Shop staff on a phone: the verify page fits 390 px, accepts a pickup code once and refuses
// it the second time, saying when it was used.
func TestBrowserConsoleVerifyOnPhone(t *testing.T) {
	srv, base := startStack(t, nil)
	ctx := phone(t)
	email := fmt.Sprintf("staff%d@shop.example.com", time.Now().UnixNano()%1e9)
	do(t, ctx, "sign up", chromedp.Navigate(base+"/console/signup"),
		chromedp.SendKeys(chromedp.CSS("#in-shop_name"), "湖畔茶馆"),
		chromedp.SendKeys(chromedp.CSS("#in-email"), email),
		chromedp.SendKeys(chromedp.CSS("#in-password"), "longjing-2026"),
		chromedp.SendKeys(chromedp.CSS("#in-confirm"), "longjing-2026"),
		chromedp.Click(chromedp.CSS("button[type=submit]")))
	waitFor(t, ctx, "the console", `location.pathname.startsWith('/console')  && !location.pathname.includes('signup')`)
	var m int64
	if err := srv.DB.Get(&m, `SELECT merchant_id FROM merchant_accounts WHERE email = $1`, email); err != nil {
		t.Fatal(err)
	}
	published, _, _ := merchantSetup(t, srv, m, 10)
	o := fulfilOrder(t, srv, m, published, campaign.Pickup, campaign.Contact{})
	do(t, ctx, "open the verify page", chromedp.Navigate(base+"/console/verify"))
	waitFor(t, ctx, "the code field", `document.getElementById('in-code')`)
	if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 390 {
		t.Fatalf("the verify page is %d px wide on a 390 px phone", w)
	}
	do(t, ctx, "type the code", chromedp.SendKeys(chromedp.CSS("#in-code"), *o.PickupCode))
	tap(t, ctx, "verify", "#verify-submit")
	waitFor(t, ctx, "the verified order", `document.getElementById('verify-done')`)
	viewShot(t, ctx, "verify-01-done")
	do(t, ctx, "type the code again", chromedp.SendKeys(chromedp.CSS("#in-code"), *o.PickupCode))
	tap(t, ctx, "verify again", "#verify-submit")
	waitFor(t, ctx, "the refusal", `document.getElementById('err-code') && document.getElementById('err-code').textContent.includes('已于')`)
	viewShot(t, ctx, "verify-02-used")
}

// The console refunds part of an order: a wrong amount is explained, a right one refunds that
// much and the page says what is left.
func TestConsolePartialRefund(t *testing.T) {
	srv, base := startStack(t, nil)
	b, m := signUp(t, srv, base, "退款店")
	_, o, _ := merchantSetup(t, srv, m, 10) // one paid order of 10.00
	page := "/console/orders/" + strconv.FormatInt(o.ID, 10)
	for amount, want := range map[string]string{"abc": "退款金额：不是有效的金额", "10.01": "退款金额须在 0.01 到 10.00 元之间"} {
		resp, _ := b.post(page+"/refund", url.Values{"confirm": {"yes"}, "amount": {amount}})
		if msg := b.flashOf(resp); !strings.Contains(msg, want) {
			t.Errorf("refund of %q: %q, want …%s…", amount, msg, want)
		}
	}
	resp, _ := b.post(page+"/refund", url.Values{"confirm": {"yes"}, "amount": {"3"}, "reason": {"少发一件赠品"}})
	if msg := b.flashOf(resp); !strings.Contains(msg, "已退款 3.00 元") {
		t.Fatalf("partial refund: %q", msg)
	}
	if _, body := b.get(page); !strings.Contains(body, "已退 ¥3.00，还可退 ¥7.00") || !strings.Contains(body, `value="7.00"`) {
		t.Fatalf("order page after a partial refund:\n%s", body)
	}
	resp, _ = b.post(page+"/refund", url.Values{"confirm": {"yes"}})
	if msg := b.flashOf(resp); !strings.Contains(msg, "已退款 7.00 元") {
		t.Fatalf("refunding the rest: %q", msg)
	}
	if r, _ := srv.Campaign.Order(context.Background(), m, o.ID); r.Status != campaign.Refunded {
		t.Fatalf("order %s after refunding the rest", r.Status)
	}
}
