package main

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"fenxiao/campaign"
	"fenxiao/wallet"
	"fenxiao/wechat/sim"
)

// movedClock is the services' clock in a test that jumps ahead (a red packet left unopened
// for a day, retries due).
type movedClock struct{ offset atomic.Int64 }

func (c *movedClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *movedClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

var receiverQR = regexp.MustCompile(`id="receiver-qr" src="([^"]+)"`)

// Acceptance 5 of issue 16: with template ids set in the console against the simulator, a
// journey over HTTP shows every notification arrive once in the simulator's inbox — the
// sharer's (a friend opened my share, a friend paid, commission credited, red packet sent,
// red packet refunded) and the buyer's (paid, shipped and verified, from the console's ship
// and verify) — although the simulator fails the first two sends and every event is
// reported more than once.
func TestNotificationsJourney(t *testing.T) {
	ctx := context.Background()
	clk := &movedClock{}
	st := newH5StackWith(t, func(cfg *Config) { cfg.now = clk.Now })
	srv, s := st.srv, st.sim
	b, mid := signUp(t, srv, st.base, "通知茶铺")
	creds, err := s.AddMerchant(sim.MerchantConfig{Name: "通知茶铺", CallbackURL: fmt.Sprintf("%s/wechat/oa/%d", st.base, mid)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Merchants.SetWeChat(ctx, mid, creds); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Wallet.TopUpAssets(ctx, nil, mid, decimal.NewFromInt(1000), "notify-funds", ""); err != nil {
		t.Fatal(err)
	}
	m := &h5Merchant{id: mid, creds: creds}
	c := st.campaign(m, 10)

	// 微信设置: a malformed id is refused beside its field; then one id per notification.
	resp, page := b.post("/console/wechat/templates", url.Values{"tpl_buyer_paid": {"TPL 付款"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(fieldError(page, "tpl_buyer_paid"), "模板 ID") {
		t.Fatalf("malformed template id: %d %q", resp.StatusCode, fieldError(page, "tpl_buyer_paid"))
	}
	form := url.Values{}
	for _, l := range wallet.Layouts {
		form.Set("tpl_"+string(l.Kind), "TPL_"+string(l.Kind))
	}
	if msg := b.flashOf(first(b.post("/console/wechat/templates", form))); msg != "模板消息设置已保存" {
		t.Fatalf("saving templates: %q", msg)
	}
	_, page = b.get("/console/wechat")
	for _, want := range []string{`value="TPL_friend_opened"`, "thing1 活动名称 · amount2 佣金金额 · time3 到账时间", "character_string3 快递单号"} {
		if !strings.Contains(page, want) {
			t.Fatalf("the settings page lacks %q", want)
		}
	}

	// The merchant binds their own WeChat by scanning the console's QR code, then tests.
	owner, err := s.AddUser(sim.User{AppID: creds.AppID, Nickname: "店主"})
	if err != nil {
		t.Fatal(err)
	}
	if msg := b.flashOf(first(b.post("/console/wechat/test-message", nil))); !strings.Contains(msg, "请先扫码绑定") {
		t.Fatalf("test message without a receiver: %q", msg)
	}
	b.post("/console/wechat/receiver", nil)
	_, page = b.get("/console/wechat")
	src := receiverQR.FindStringSubmatch(page)
	if src == nil {
		t.Fatalf("no receiver QR on the page:\n%s", page)
	}
	qr, err := url.Parse(html.UnescapeString(src[1]))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Scan(qr.Query().Get("ticket"), owner.OpenID); err != nil {
		t.Fatal(err)
	}
	if _, page = b.get("/console/wechat"); !strings.Contains(page, owner.OpenID) {
		t.Fatal("the scanner is not shown as the receiver")
	}
	if msg := b.flashOf(first(b.post("/console/wechat/test-message", nil))); msg != fmt.Sprintf("已发送 %d 条测试消息，请在微信中查看", len(wallet.Layouts)) {
		t.Fatalf("test message: %q", msg)
	}
	if n := strings.Count(inbox(t, creds.AppID, owner.OpenID), `class="card tmsg"`); n != len(wallet.Layouts) {
		t.Fatalf("%d test messages in the owner's inbox", n)
	}

	// The journey: A shares; B opens the link (three times) and buys; the payment is reported
	// twice; A claims the commission, leaves the packet unopened for a day.
	if err := s.InjectFault(sim.Fault{Endpoint: "template", Fault: "SYSTEMERROR", Count: 2, Merchant: creds.AppID}); err != nil {
		t.Fatal(err)
	}
	defer s.ClearFaults()
	a, err := s.AddUser(sim.User{AppID: creds.AppID, Nickname: "分享者甲", Subscribed: true})
	if err != nil {
		t.Fatal(err)
	}
	friend, err := s.AddUser(sim.User{AppID: creds.AppID, Nickname: "好友乙", Subscribed: true})
	if err != nil {
		t.Fatal(err)
	}
	fa := newFollower()
	fa.signIn(t, st, m, fmt.Sprintf("%s/c/%d", st.base, c.ID), a.OpenID)
	sharer := userOf(t, st, m, a.OpenID)
	fb := newFollower()
	link := srv.Campaign.ShareURL(c.ID, sharer.ID)
	fb.signIn(t, st, m, link, friend.OpenID)
	for range 3 {
		if resp, _ := fb.get(t, link); resp.StatusCode != http.StatusOK {
			t.Fatalf("share link: %d", resp.StatusCode)
		}
	}
	buyer := userOf(t, st, m, friend.OpenID)
	co, err := srv.Campaign.CreateOrder(ctx, c.ID, buyer, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	waitPaidAfter(t, st, m, co, friend.OpenID)
	if _, err := s.SendPayNotify(creds.MchID, co.Order.OutTradeNo, sim.NotifyOptions{}); err != nil {
		t.Fatal(err)
	}
	// The friend also buys a parcel and a pickup.
	parcel := st.campaign(m, 10, func(s *campaign.Settings) { s.Title, s.Fulfilment = "快递", campaign.Delivery })
	pickup := st.campaign(m, 10, func(s *campaign.Settings) { s.Title, s.Fulfilment = "到店", campaign.Pickup })
	var bought []*campaign.Order
	for _, camp := range []*campaign.Campaign{parcel, pickup} {
		co, err := srv.Campaign.BuyWith(ctx, camp, buyer, campaign.OrderForm{Qty: 1, Contact: campaign.Contact{Name: "好友乙", Mobile: "13800138000",
			Province: "浙江省", City: "杭州市", District: "西湖区", Detail: "龙井路 1 号"}}, "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		waitPaidAfter(t, st, m, co, friend.OpenID)
		o, err := srv.Campaign.Order(ctx, mid, co.Order.ID)
		if err != nil {
			t.Fatal(err)
		}
		bought = append(bought, o)
	}
	shipped, verified := bought[0], bought[1]
	if _, err := srv.Payouts.Claim(ctx, mid, sharer.ID, sharer.OpenID); err != nil {
		t.Fatal(err)
	}
	if n, err := srv.Payouts.SendDue(ctx); err != nil || n != 1 {
		t.Fatalf("sent %d packets (%v)", n, err)
	}
	s.Advance(25 * time.Hour)
	defer s.Advance(-25 * time.Hour)
	clk.Advance(25 * time.Hour)
	if _, err := srv.Payouts.SyncSent(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Advance(-25 * time.Hour) // back, or the console session would have expired
	// The console ships the parcel and corrects the tracking number (the buyer is told both)
	// and verifies the pickup twice (told once).
	for _, tracking := range []string{"SF1234567890123", "SF1234567890999"} {
		if msg := b.flashOf(first(b.post(fmt.Sprintf("/console/orders/%d/ship", shipped.ID), url.Values{"carrier": {"顺丰速运"}, "tracking_no": {tracking}}))); !strings.Contains(msg, "已发货") {
			t.Fatalf("shipping from the console: %q", msg)
		}
	}
	for i, want := range []string{"核销成功", "该核销码已于"} {
		if _, page := b.post("/console/verify", url.Values{"code": {*verified.PickupCode}}); !strings.Contains(page, want) {
			t.Fatalf("verifying from the console, try %d: no %q", i+1, want)
		}
	}

	// The sending job, as cron runs it, until nothing is due: the two failed sends retry.
	for i := 0; ; i++ {
		if _, err := srv.Payouts.SendNotifications(ctx); err != nil {
			t.Fatal(err)
		}
		var pending int
		if err := srv.DB.Get(&pending, `SELECT count(*) FROM notifications WHERE merchant_id = $1 AND sent_at IS NULL`, mid); err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			break
		}
		if i == 10 {
			t.Fatalf("%d notifications still pending", pending)
		}
		clk.Advance(time.Minute)
	}
	var retried int
	if err := srv.DB.Get(&retried, `SELECT count(*) FROM notifications WHERE merchant_id = $1 AND attempts > 1`, mid); err != nil || retried != 2 {
		t.Fatalf("%d notifications retried (%v), want the two the simulator failed", retried, err)
	}
	for who, kinds := range map[string]map[wallet.NoteKind]int{
		a.OpenID: {wallet.NoteFriendOpened: 1, wallet.NoteFriendPaid: 1, wallet.NoteCommission: 1, wallet.NoteSent: 1, wallet.NoteRefunded: 1},
		// Paid once for each of the three orders.
		friend.OpenID: {wallet.NoteBuyerPaid: 3, wallet.NoteShipped: 2, wallet.NoteVerified: 1},
	} {
		page, all := inbox(t, creds.AppID, who), 0
		for k, want := range kinds {
			all += want
			if n := strings.Count(page, `data-template-id="TPL_`+string(k)+`"`); n != want {
				t.Errorf("%s: %s arrived %d times, want %d", who, k, n, want)
			}
		}
		if n := strings.Count(page, `class="card tmsg"`); n != all {
			t.Errorf("%s: %d messages in the inbox, want %d:\n%s", who, n, all, page)
		}
	}
	page = inbox(t, creds.AppID, a.OpenID)
	name := buyer.Nickname
	if name == "" {
		name = "微信用户" // signed in without the userinfo scope
	}
	for _, want := range []string{name, "5.00元", "红包24小时未领取"} {
		if !strings.Contains(page, want) {
			t.Errorf("the sharer's inbox lacks %q", want)
		}
	}
	if page = inbox(t, creds.AppID, friend.OpenID); !strings.Contains(page, "SF1234567890123") {
		t.Error("the buyer's inbox lacks the tracking number")
	}
	if f, err := srv.Payouts.FailedNotifications(ctx, mid); err != nil || f.Count != 0 {
		t.Fatalf("failures %+v (%v)", f, err)
	}

	// A notification given up on is counted where the merchant looks.
	if _, err := srv.DB.Exec(`UPDATE notifications SET failed_at = now(), last_error = 'errcode 43004: require subscribe'
WHERE merchant_id = $1 AND kind = 'buyer_verified'`, mid); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/console/", "/console/wechat"} {
		if _, page := b.get(p); !strings.Contains(page, "1 条通知发送失败") || !strings.Contains(page, "43004") {
			t.Errorf("%s does not show the failed notification:\n%s", p, page)
		}
	}
}

func first(resp *http.Response, _ string) *http.Response { return resp }

// inbox is the simulator's inbox page of a user.
func inbox(t *testing.T, appID, openID string) string {
	t.Helper()
	_, base := testSim()
	resp, err := http.Get(base + "/sim/inbox?" + url.Values{"appid": {appID}, "openid": {openID}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// userOf is the server's user of m with openid.
func userOf(t *testing.T, st *h5Stack, m *h5Merchant, openid string) *campaign.User {
	t.Helper()
	var id int64
	if err := st.srv.DB.Get(&id, `SELECT id FROM wechat_users WHERE merchant_id = $1 AND openid = $2`, m.id, openid); err != nil {
		t.Fatal(err)
	}
	u, err := st.srv.Campaign.User(context.Background(), m.id, id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// waitPaidAfter pays co in the simulator as openID; WeChat's notification reaches the server
// over HTTP.
func waitPaidAfter(t *testing.T, st *h5Stack, m *h5Merchant, co *campaign.Checkout, openID string) {
	t.Helper()
	if err := st.sim.Pay(strings.TrimPrefix(co.Pay.Package, "prepay_id="), openID); err != nil {
		t.Fatal(err)
	}
	waitPaid(t, st, m, co.Order.ID)
}
