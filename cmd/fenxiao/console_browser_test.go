package main

import (
	"bytes"
	"context"
	"fmt"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	qr "github.com/piglig/go-qr"

	"fenxiao/wechat/sim"
)

// The merchant's whole journey in a desktop Chromium against the real server and the WeChat
// simulator: sign up, WeChat settings (certificate upload, test connection), a top-up paid by
// scanning the Native QR code in the simulator, a campaign with every setting (uploads,
// regions, buttons) after a first try with mistakes, publish, purchases, orders, a refund,
// results and CSV exports. Screenshots land in artifacts/TestBrowserConsoleJourney/.
func TestBrowserConsoleJourney(t *testing.T) {
	st := newH5Stack(t) // the server as make dev runs it, so a follower can buy on the H5 pages
	srv, base, s := st.srv, st.base, st.sim
	_, simBase := testSim()
	ctx := desktop(t)
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		do(t, ctx, what, actions...)
		if eval[bool](t, ctx, `document.body.innerText.indexOf("executing \"") >= 0`) {
			t.Fatalf("%s: the page shows a template error", what)
		}
	}
	text := func(sel string) string {
		t.Helper()
		return get(t, ctx, "the text of "+sel, chromedp.Text(chromedp.CSS(sel)))
	}
	wantText := func(sel, part string) {
		t.Helper()
		if got := text(sel); !strings.Contains(got, part) {
			t.Fatalf("%s says %q, want %q", sel, got, part)
		}
	}

	// 1. Sign up.
	email := fmt.Sprintf("owner%d@tea.example.com", time.Now().UnixNano()%1e9)
	step("sign up", chromedp.Navigate(base+"/console/signup"),
		chromedp.SendKeys(chromedp.CSS("#in-shop_name"), "西湖茶庄"),
		chromedp.SendKeys(chromedp.CSS("#in-email"), email),
		chromedp.SendKeys(chromedp.CSS("#in-password"), "longjing-2026"),
		chromedp.SendKeys(chromedp.CSS("#in-confirm"), "longjing-2026"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		shown(".steps"))
	shot(t, ctx, "01-home")
	var m int64
	if err := srv.DB.Get(&m, `SELECT merchant_id FROM merchant_accounts WHERE email = $1`, email); err != nil {
		t.Fatal(err)
	}

	// 2. WeChat settings against the simulator, with the certificate uploaded as a file.
	creds, err := s.AddMerchant(sim.MerchantConfig{Name: "西湖茶庄", CallbackURL: fmt.Sprintf("%s/wechat/oa/%d", base, m)})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert := filepath.Join(dir, "apiclient_cert.p12")
	os.WriteFile(cert, creds.CertP12, 0o600) //nolint:errcheck
	step("WeChat settings", chromedp.Navigate(base+"/console/wechat"),
		chromedp.SendKeys(chromedp.CSS("#in-app_id"), creds.AppID),
		chromedp.SendKeys(chromedp.CSS("#in-app_secret"), creds.AppSecret),
		chromedp.SendKeys(chromedp.CSS("#in-token"), creds.Token),
		chromedp.SendKeys(chromedp.CSS("#in-aes_key"), creds.EncodingAESKey),
		chromedp.SendKeys(chromedp.CSS("#in-mch_id"), creds.MchID),
		chromedp.SendKeys(chromedp.CSS("#in-api_key"), creds.APIKey),
		chromedp.SetUploadFiles(chromedp.CSS("#in-cert"), []string{cert}),
		chromedp.Click(chromedp.CSS(".form-bar button")),
		waitText(".toast-ok", "微信设置已保存"))
	step("test connection", chromedp.Click(chromedp.CSS("#test-connection")), waitText(".toast", "连接"))
	wantText(".toast", "连接正常")
	shot(t, ctx, "02-wechat")
	if body := get(t, ctx, "the page", chromedp.OuterHTML(chromedp.CSS("body"))); strings.Contains(body, creds.AppSecret) || strings.Contains(body, creds.APIKey) {
		t.Fatal("the settings page shows a saved secret")
	}

	// 3. Top up 500 yuan: decode the QR code on the page, scan it in the simulator's Native
	// page in a second tab, pay, and watch the first tab notice.
	step("top-up", chromedp.Navigate(base+"/console/assets"),
		chromedp.SendKeys(chromedp.CSS("#in-amount"), "500"),
		chromedp.Click(chromedp.CSS("#topup-form button[type=submit]")),
		shown("#topup-qr img"),
		void(chromedp.Poll[bool](`document.querySelector("#topup-qr img").complete`)))
	shot(t, ctx, "03-topup-qr")
	qrShot := get(t, ctx, "the QR code", chromedp.ScreenshotScale(chromedp.CSS("#topup-qr img"), 2))
	img, err := png.Decode(bytes.NewReader(qrShot))
	if err != nil {
		t.Fatal(err)
	}
	codeURL, err := qr.Decode(img)
	if err != nil || !strings.HasPrefix(codeURL, "weixin://wxpay/bizpayurl?pr=") {
		t.Fatalf("the QR code on the page reads %q (%v)", codeURL, err)
	}
	if _, err := s.AddUser(sim.User{AppID: creds.AppID, Nickname: "茶庄老板"}); err != nil {
		t.Fatal(err)
	}
	phoneTab := newTab(t, ctx)
	do(t, phoneTab, "open the Native cashier", chromedp.Navigate(simBase+"/pay/native?code_url="+url.QueryEscape(codeURL)))
	waitFor(t, phoneTab, "the pay button", visible(`button[value=pay]`))
	shot(t, phoneTab, "04-sim-cashier")
	tap(t, phoneTab, "pay", `button[value=pay]`)
	waitFor(t, phoneTab, "the payment confirmation", `document.querySelector('.icon.ok')`)
	step("top-up credited", waitText(".toast-ok", "充值成功"))
	wantText(".toast-ok", "充值成功")
	wantText("#available", "500.00")
	shot(t, ctx, "05-assets")

	// 4. A campaign with every setting. First with mistakes: the messages sit beside the fields.
	step("new campaign with mistakes", chromedp.Navigate(base+"/console/campaigns/new"),
		chromedp.SetValue(chromedp.CSS("#in-commission"), "0.1"),
		chromedp.SetValue(chromedp.CSS("#in-price"), "abc"),
		chromedp.Click(chromedp.CSS("#save-campaign")),
		shown("#error-summary"))
	wantText("#field-title #err-title", "请填写活动标题")
	wantText("#field-commission #err-commission", "0.30 元到 200.00 元")
	wantText("#field-price #err-price", "请输入金额")
	wantText("#field-product_name #err-product_name", "请填写商品名称")
	shot(t, ctx, "06-form-errors")

	// The region search lists the city searched for, not its whole province.
	step("search 深圳", void(chromedp.Evaluate[bool](`var q = document.querySelector('.regions input[type=search]');
		q.value = "深圳"; q.dispatchEvent(new Event("input")); true`)))
	found := eval[string](t, ctx, `Array.prototype.filter.call(document.querySelectorAll('.regions details'), function (d) { return d.style.display !== "none"; }).map(function (d) {
		return d.querySelector("summary label").textContent.trim() + ":" + Array.prototype.filter.call(d.querySelectorAll(".cities label"), function (l) { return l.style.display !== "none"; }).map(function (l) { return l.textContent.trim(); }).join(",") + (d.open ? ":open" : "");
	}).join(";")`)
	if found != "广东省:深圳市:open" {
		t.Fatalf("searching 深圳 shows %q, want 广东省 with 深圳市 only, open", found)
	}
	shot(t, ctx, "06b-region-search")
	step("clear the search", void(chromedp.Evaluate[bool](`var q = document.querySelector('.regions input[type=search]');
		q.value = ""; q.dispatchEvent(new Event("input")); true`)))

	now := time.Now().UTC()
	product := writePNG(t, dir, "product.png", 600, 600, color.RGBA{0x2e, 0x8b, 0x57, 255}, color.RGBA{0xc8, 0xe6, 0x9f, 255})
	product2 := writePNG(t, dir, "product2.png", 600, 600, color.RGBA{0x8b, 0x5a, 0x2b, 255}, color.RGBA{0xf3, 0xe0, 0xb8, 255})
	logo := writePNG(t, dir, "logo.png", 200, 200, color.RGBA{0x07, 0xc1, 0x60, 255}, color.RGBA{0x0b, 0xb8, 0xa1, 255})
	splash := writePNG(t, dir, "splash.png", 540, 960, color.RGBA{0xff, 0x7d, 0x00, 255}, color.RGBA{0xff, 0xe4, 0xba, 255})
	step("fill every setting",
		chromedp.SetValue(chromedp.CSS("#in-title"), "明前龙井 · 分享赚"),
		chromedp.SetValue(chromedp.CSS("#in-starts_at"), now.Add(-time.Hour).Format(formTime)),
		chromedp.SetValue(chromedp.CSS("#in-ends_at"), now.AddDate(0, 0, 7).Format(formTime)),
		chromedp.SetValue(chromedp.CSS("#in-buyer_limit"), "200"),
		chromedp.SetValue(chromedp.CSS("#in-password"), "8888"),
		chromedp.Click(chromedp.CSS(`input[name=fans_only]`)),
		void(chromedp.Evaluate[bool](`document.querySelector('input[value="广东省"]').click();
			document.querySelector('input[value="浙江省/杭州市"]').click(); true`)),
		chromedp.SetUploadFiles(chromedp.CSS(`.upload[data-name=splash_image] input[type=file]`), []string{splash}),
		shown(`.upload[data-name=splash_image] .thumb`),
		chromedp.SetValue(chromedp.CSS("#in-splash_link"), "https://tea.example.com/spring"),
		chromedp.SetValue(chromedp.CSS("#in-commission"), "2.00"),
		chromedp.SetValue(chromedp.CSS("#in-hold_days"), "3"),
		chromedp.Click(chromedp.CSS(`input[name=buy_before_share]`)),
		chromedp.SetValue(chromedp.CSS("#in-product_name"), "西湖明前龙井 250g 礼盒"),
		chromedp.SetValue(chromedp.CSS("#in-price"), "68.00"),
		chromedp.SetValue(chromedp.CSS("#in-stock"), "50"),
		chromedp.SetValue(chromedp.CSS("#in-max_per_order"), "5"),
		chromedp.SetUploadFiles(chromedp.CSS(`.upload[data-name=product_images] input[type=file]`), []string{product, product2}),
		void(chromedp.Poll[bool](`document.querySelectorAll('.upload[data-name=product_images] .thumb').length === 2`)),
		chromedp.SetValue(chromedp.CSS("#in-description"), "今年头采，手工炒制。\n每分享一位好友购买，你得 2 元红包。"),
		chromedp.SetUploadFiles(chromedp.CSS(`.upload[data-name=logo] input[type=file]`), []string{logo}),
		shown(`.upload[data-name=logo] .thumb`),
		chromedp.SetValue(chromedp.CSS(`input[name=button_label]`), "进店逛逛"),
		chromedp.SetValue(chromedp.CSS(`input[name=button_link]`), "https://tea.example.com/shop"),
		void(chromedp.Evaluate[bool](`var l = document.querySelectorAll('input[name=button_label]'), k = document.querySelectorAll('input[name=button_link]');
			l[1].value = "联系客服"; k[1].value = "https://tea.example.com/help"; true`)))
	step("scroll to the top", void(chromedp.Evaluate[bool](`window.scrollTo(0, 0); true`)))
	shot(t, ctx, "07-form-filled")
	// Risky settings are confirmed first: a commission above the price (tried, then taken
	// back) and the start an hour ago (kept: the campaign runs at once).
	step("save with a commission above the price", chromedp.SetValue(chromedp.CSS("#in-commission"), "100"),
		chromedp.Click(chromedp.CSS("#save-campaign")), shown("#risk-confirm"))
	wantText("#risk-confirm", "每卖一件你亏 ¥32.00")
	wantText("#risk-confirm", "开始时间已经过去")
	if n := eval[int](t, ctx, `document.querySelectorAll('.upload[data-name=product_images] .thumb').length`); n != 2 {
		t.Fatalf("the confirmation form kept %d of the 2 product images", n)
	}
	shot(t, ctx, "07b-risk-confirm")
	step("commission back to 2.00", chromedp.SetValue(chromedp.CSS("#in-commission"), "2.00"),
		void(chromedp.Evaluate[bool](`document.documentElement.dataset.asked = "1"; true`)), // gone once the form came back
		chromedp.Click(chromedp.CSS("#save-campaign")),
		func(ctx context.Context, _ *chromedp.Target) (chromedp.Void, error) {
			return chromedp.Void{}, poll(ctx, pageReady+` && !document.documentElement.dataset.asked && !!document.querySelector("#risk-confirm")`)
		})
	if got := text("#risk-confirm"); strings.Contains(got, "你亏") || !strings.Contains(got, "开始时间已经过去") {
		t.Fatalf("after taking the commission back the form asks %q", got)
	}
	step("save the campaign", chromedp.Click(chromedp.CSS("#confirm-risks")), chromedp.Click(chromedp.CSS("#save-campaign")), shown("#publish-card"))
	wantText("#to-freeze", "100.00")
	shot(t, ctx, "08-campaign-draft")
	list, err := srv.Campaign.List(context.Background(), m)
	if err != nil || len(list) != 1 {
		t.Fatalf("campaigns %v, %v", list, err)
	}
	c := list[0]
	if !c.FansOnly || !c.BuyBeforeShare || !c.ShowParticipants || !c.OrderTicker || !c.PosterEnabled || c.HoldDays != 3 ||
		c.BuyerLimit != 200 || c.MaxPerOrder != 5 || c.Password != "8888" || c.Stock != 50 || len(c.ProductImages) != 2 ||
		c.Logo == "" || c.SplashImage == "" || c.SplashLink == "" || len(c.Buttons) != 2 ||
		strings.Join(c.Regions, ",") != "浙江省/杭州市,广东省" || !strings.Contains(c.Description, "\n") {
		t.Fatalf("saved campaign lacks a setting: %+v", c)
	}

	// 5. Publish: 50 × 2.00 frozen from the 500 topped up.
	step("publish", chromedp.Click(chromedp.CSS("#publish-open")), shown("#publish-confirm"),
		chromedp.Click(chromedp.CSS("#publish-confirm")), waitText(".toast-ok", "活动已发布"))
	wantText("#campaign-phase", "进行中")
	wantText(".balance", "400.00")
	shot(t, ctx, "09-campaign-published")
	step("preview", chromedp.Navigate(fmt.Sprintf("%s/console/campaigns/%d/preview", base, c.ID)), shown("#preview-qr svg"))
	shot(t, ctx, "10-preview")

	// 6. Purchases. A buys 2 on the H5 pages in a phone: WeChat sign-in (a fan, in 广东), the
	// password gate, the splash ad, the buy page and the simulator's cashier.
	h5 := phone(t)
	landing := fmt.Sprintf("%s/c/%d", base, c.ID)
	do(t, h5, "open the campaign", chromedp.Navigate(landing))
	authorizeNew(t, h5, newUser{nickname: "买家A", subscribed: true})
	waitFor(t, h5, "the password gate", `document.querySelector('input[name=password]')`)
	eval[bool](t, h5, `(function(){var i = document.querySelector('input[name=password]'); i.value = '8888'; i.form.submit(); return true})()`)
	skipSplash(t, h5)
	shot(t, h5, "h5-landing")
	tap(t, h5, "buy", `#buy`)
	waitFor(t, h5, "the buy page", `document.getElementById('stepper')`)
	tap(t, h5, "take two", `[data-step="1"]`)
	payInCashier(t, h5, "")
	waitFor(t, h5, "the payment result", `document.getElementById('result-title') && document.getElementById('result-title').textContent === '支付成功'`)
	var aID int64
	if err := srv.DB.Get(&aID, `SELECT id FROM wechat_users WHERE merchant_id = $1 AND openid = $2`, m, st.user(&h5Merchant{id: m, creds: creds}, "买家A").OpenID); err != nil {
		t.Fatal(err)
	}
	a, err := srv.Campaign.User(context.Background(), m, aID)
	if err != nil {
		t.Fatal(err)
	}
	// Then B through A's link; C through B's; G through F's, who never bought
	// (buy-before-sharing: no commission for F). These are made through the service.
	buyers := seedPurchases(t, srv, s, creds, &c, a)
	if !srv.h5.Flush(5 * time.Second) {
		t.Fatal("the H5 page views were not recorded")
	}

	// 7. Orders: the purchases are there; filter by buyer; refund B's order.
	step("orders", chromedp.Navigate(base+"/console/orders"), shown("#orders-table"))
	if rows := eval[int](t, ctx, `document.querySelectorAll('#orders-table tbody tr').length`); rows != 4 {
		t.Fatalf("orders page shows %d rows, want 4", rows)
	}
	wantText("#orders-table", "136.00") // A's order, paid on the H5 pages (a silent sign-in: "微信用户")
	shot(t, ctx, "11-orders")
	step("filter by buyer", chromedp.SetValue(chromedp.CSS(`input[name=buyer]`), "买家B"),
		chromedp.Click(chromedp.CSS("#orders-filter button[type=submit]")), waitText("#orders-filter", "清除筛选"))
	if rows := eval[int](t, ctx, `document.querySelectorAll('#orders-table tbody tr').length`); rows != 1 {
		t.Fatalf("filtered by buyer: %d rows, want 1", rows)
	}
	step("order detail", chromedp.Navigate(fmt.Sprintf("%s/console/orders/%d", base, buyers["B"].ID)), shown("#refund-open"))
	wantText(".kv", "冻结期中")
	step("refund", chromedp.Click(chromedp.CSS("#refund-open")), shown("#refund-confirm"),
		chromedp.SendKeys(chromedp.CSS("#in-reason"), "买家不想要了"))
	shot(t, ctx, "12-refund-confirm")
	step("refund confirmed", chromedp.Click(chromedp.CSS("#refund-check")), chromedp.Click(chromedp.CSS("#refund-confirm")),
		waitText(".toast-ok", "已退款"))
	wantText("#order-status", "已退款")
	wantText(".kv", "已作废")
	shot(t, ctx, "13-refunded")

	// 8. Results with real data.
	step("results", chromedp.Navigate(fmt.Sprintf("%s/console/campaigns/%d/results", base, c.ID)), shown("#chart-spread svg"))
	wantText("#kpis", "5 件")
	wantText("#viral-k", "1.00")
	wantText("#leaderboard", "买家B") // A's commission on B's order was voided by the refund in its hold period
	shot(t, ctx, "14-results")

	// 9. CSV exports, fetched by the page itself (its cookies, its origin).
	csv := eval[string](t, ctx, `fetch("/console/orders.csv").then(r => r.text())`)
	lines := strings.Split(strings.TrimSpace(strings.TrimPrefix(csv, "\uFEFF")), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "订单号,活动") || !strings.Contains(csv, "已退款") {
		t.Fatalf("orders CSV:\n%s", csv)
	}
	csv = eval[string](t, ctx, `fetch("/console/assets/statement.csv").then(r => r.text())`)
	if !strings.Contains(csv, "充值") || !strings.Contains(csv, "冻结到活动") {
		t.Fatalf("statement CSV:\n%s", csv)
	}
	step("campaigns list", chromedp.Navigate(base+"/console/campaigns"), shown(".camp"))
	shot(t, ctx, "15-campaigns")
	step("overview", chromedp.Navigate(base+"/console/"), shown(".camp"))
	shot(t, ctx, "16-overview")
}
