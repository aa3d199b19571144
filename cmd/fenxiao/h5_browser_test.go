package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"

	"fenxiao/campaign"
	"fenxiao/campaign/poster"
)

// The whole journey of issue 7 on two phones, through the real server, the simulator's OAuth
// page, its bridge and its cashier: A opens the campaign, buys and pays; A shares; B opens
// A's link and buys; A sees the commission, withdraws, opens the red packet in the
// simulator's inbox, and the claim records show it received.
func TestBrowserH5Journey(t *testing.T) {
	st := newH5Stack(t)
	m := st.merchant("龙井茶庄")
	ctx0 := context.Background()
	camp := st.campaign(m, 20, func(s *campaign.Settings) {
		s.ShowParticipants, s.OrderTicker = true, true
		s.Buttons = campaign.Buttons{{Label: "联系客服", Link: "https://example.com/kefu"}}
	})
	// A splash ad: the campaign's own cover, uploaded, so the page stays on its origin.
	cover, err := poster.Cover(camp.ID, camp.ProductName)
	if err != nil {
		t.Fatal(err)
	}
	splash, err := st.srv.Merchants.SaveUpload(ctx0, m.id, cover)
	if err != nil {
		t.Fatal(err)
	}
	set := camp.Settings
	set.SplashImage = splash.URL()
	camp, err = st.srv.Campaign.Update(ctx0, m.id, camp.ID, set)
	if err != nil {
		t.Fatal(err)
	}
	landing := fmt.Sprintf("%s/c/%d", st.base, camp.ID)

	// A opens the campaign: WeChat's silent sign-in (the simulator asks who is opening it).
	a := phone(t)
	do(t, a, "open the campaign", chromedp.Navigate(landing))
	shot(t, a, "01-authorize")
	authorizeNew(t, a, newUser{nickname: "王小明", subscribed: true})
	waitFor(t, a, "the splash ad", `document.querySelector('#splash img') && document.querySelector('#splash img').complete`)
	viewShot(t, a, "02-splash")
	skipSplash(t, a)
	waitFor(t, a, "the countdown", `document.querySelector('.cd-time').textContent.includes(':')`)
	viewShot(t, a, "03-landing")
	shot(t, a, "03-landing-full")

	// The landing page: under 60 KB and nothing from another origin, the bridge included.
	reqs := recordRequests(t, a)
	_, mark := reqs.since(0)
	do(t, a, "reload the landing page", chromedp.Navigate(landing))
	waitFor(t, a, "the share data", `window.WXSIM && WXSIM.share.appmessage`)
	skipSplash(t, a)
	// The simulator's wx refuses what WeChat's JS-SDK refuses: an API the page's wx.config did
	// not list, a share link off the page's domain.
	refused := eval[string](t, a, `new Promise(r => {
		const got = [];
		wx.openAddress({fail: e => got.push(e.errMsg)});
		wx.updateAppMessageShareData({title: 'x', link: 'https://elsewhere.example/c/1', imgUrl: '', fail: e => got.push(e.errMsg)});
		setTimeout(() => r(got.join('|')), 0);
	})`)
	if refused != "openAddress:permission denied|updateAppMessageShareData:fail, the link is not on the page's domain" {
		t.Fatalf("the simulator's wx answered %q", refused)
	}
	urls, _ := reqs.since(mark)
	if off := offOrigin(urls, st.base); len(off) > 0 || len(urls) < 4 {
		t.Fatalf("the landing page requested %d URLs, off its origin: %v", len(urls), off)
	}
	size := eval[int](t, a, `fetch(location.href).then(r => r.text()).then(t => new Blob([t]).size)`)
	if size > 60<<10 {
		t.Fatalf("landing page HTML is %d bytes, over 60 KB", size)
	}
	t.Logf("landing page: %d bytes of HTML, %d requests, all on %s", size, len(urls), st.base)

	// A buys two and pays in the simulator's cashier, opened by WeixinJSBridge.
	tap(t, a, "go to buy", `#buy`)
	waitFor(t, a, "the buy page", `document.getElementById('stepper')`)
	tap(t, a, "take two", `[data-step="1"]`)
	if total := eval[string](t, a, `document.getElementById('total').textContent`); total != "136.00" {
		t.Fatalf("total for 2 is %s", total)
	}
	shot(t, a, "04-buy")
	payInCashier(t, a, "05-cashier")
	waitFor(t, a, "the payment result", `document.getElementById('result-title') && document.getElementById('result-title').textContent === '支付成功'`)
	shot(t, a, "06-result")

	// A shares: the share page asks for the profile (snsapi_userinfo) for the poster.
	aUser := st.user(m, "王小明")
	tap(t, a, "open the share page", `#go-share`)
	waitFor(t, a, "the userinfo authorize page", `document.body.innerText.includes('申请获得你的公开信息')`)
	shot(t, a, "07-authorize-userinfo")
	authorizeAs(t, a, aUser.OpenID)
	waitFor(t, a, "the poster", `document.getElementById('poster') && document.getElementById('poster').complete && document.getElementById('poster').naturalWidth === 750`)
	waitFor(t, a, "wx.config and the share data", `window.WXSIM && WXSIM.share.appmessage && WXSIM.share.appmessage.link`)
	shot(t, a, "08-share")

	fa, err := st.srv.Campaign.Follower(ctx0, "", m.id) // nobody: just to reach the user row below
	if err != nil || fa.User != nil {
		t.Fatalf("anonymous follower: %+v %v", fa, err)
	}
	sharer := signedInUser(t, st, m, aUser.OpenID)
	shareLink := st.srv.Campaign.ShareURL(camp.ID, sharer.ID)
	if got := eval[string](t, a, `document.getElementById('share-link').value`); got != shareLink {
		t.Fatalf("share page link %q, want %q", got, shareLink)
	}
	checkPoster(t, st, camp, sharer, shareLink)

	// The ··· button sits in the simulator's title bar, above the page: no page text under it.
	if top := eval[float64](t, a, `document.querySelector('main').getBoundingClientRect().top`); top < 44 {
		t.Fatalf("the page starts %vpx from the top, under the simulator's title bar and its ··· button", top)
	}
	if under := eval[string](t, a, `(function(){var r=document.querySelector('button[aria-label="分享"]').getBoundingClientRect();`+
		`var e=document.elementsFromPoint(r.left+r.width/2,r.top+r.height/2).find(function(x){return !x.closest('[data-wxsim]')&&x!==document.body&&x!==document.documentElement});`+
		`return e?e.tagName+' '+e.textContent.slice(0,20):''})()`); under != "" {
		t.Fatalf("page content under the ··· button: %s", under)
	}

	// "Send to a friend" from WeChat's menu (the simulator's ··· button) shares A's link.
	tap(t, a, "open the share menu", `button[aria-label="分享"]`)
	do(t, a, "send to a friend", chromedp.Click(chromedp.Search(`//button[text()="发送给朋友"]`)))
	waitFor(t, a, "the share sheet", `document.body.innerText.includes('已发送给朋友')`)
	shares := st.sim.Shares()
	if len(shares) == 0 || shares[len(shares)-1].Link != shareLink {
		t.Fatalf("shared %+v, want the link %s", shares, shareLink)
	}
	shot(t, a, "09-shared")

	// B opens A's link on another phone, signs in, buys one and pays.
	b := phone(t)
	do(t, b, "open A's link", chromedp.Navigate(shareLink))
	authorizeNew(t, b, newUser{nickname: "李小红", subscribed: true, ip: "202.96.128.86"})
	skipSplash(t, b)
	// B reads who invited them and what the merchant has frozen for the sharers: 20 units ×
	// ¥5 (A bought 2 without a sharer: their commissions stay frozen).
	waitFor(t, b, "the invite line", `document.getElementById('invite') && document.getElementById('invite').textContent === '你的好友 王** 邀请你'`)
	if got := eval[string](t, b, `document.getElementById('escrow').textContent`); !strings.Contains(got, "商家已预存佣金 ¥100.00，每卖一件分享者得 ¥5.00，红包直达微信零钱") {
		t.Fatalf("the escrow line says %q", got)
	}
	viewShot(t, b, "09a-landing-invited")
	tap(t, b, "buy", `#buy`)
	waitFor(t, b, "the buy page", `document.getElementById('stepper')`)
	if got := eval[string](t, b, `(document.getElementById('referrer') || {}).innerText || ''`); !strings.Contains(got, "本单推荐人") || !strings.Contains(got, "**") {
		t.Fatalf("B's buy page names the referrer %q, want A masked", got)
	}
	shot(t, b, "09b-buy-via-share")
	payInCashier(t, b, "")
	waitFor(t, b, "B's payment result", `document.getElementById('result-title') && document.getElementById('result-title').textContent === '支付成功'`)

	// A sees the commission: 1 unit × 5 yuan, from B's order.
	do(t, a, "open my commissions", chromedp.Navigate(landing+"/commissions"))
	waitFor(t, a, "the commission", `document.getElementById('available').textContent === '5.00'`)
	if !strings.Contains(eval[string](t, a, `document.querySelector('.history').innerText`), "佣金到账") {
		t.Fatal("the commission line is missing")
	}
	shot(t, a, "10-commissions")

	// A withdraws: the vault becomes one red packet, which the sending job sends; A opens it in
	// the simulator's WeChat inbox and the status job sees it received.
	tap(t, a, "withdraw", `#withdraw`)
	waitFor(t, a, "the claim message", `document.getElementById('claim-msg') && document.getElementById('claim-msg').textContent.includes('已申请提现 5.00 元')`)
	waitFor(t, a, "the queued packet", `document.querySelector('.packet-status') && document.querySelector('.packet-status').textContent === '排队中'`)
	shot(t, a, "11-withdrawn")
	if n, err := st.srv.Payouts.SendDue(ctx0); err != nil || n != 1 {
		t.Fatalf("sent %d packets: %v", n, err)
	}
	do(t, a, "reload", chromedp.Reload())
	waitFor(t, a, "the sent packet", `document.querySelector('.packet-status').textContent === '已发送待领取'`)
	inbox := eval[string](t, a, `document.getElementById('sim-inbox').href`)
	do(t, a, "open WeChat's inbox", chromedp.Navigate(inbox))
	tap(t, a, "open the red packet", `form[action="/sim/inbox/open"] button`)
	waitFor(t, a, "the opened packet", `document.body.innerText.includes('已存入零钱')`)
	viewShot(t, a, "12-inbox")
	// The status job asks WeChat about a sent packet a while after sending: skip the wait.
	if _, err := st.srv.DB.Exec(`UPDATE packets SET next_at = now() WHERE merchant_id = $1 AND status = 'sent'`, m.id); err != nil {
		t.Fatal(err)
	}
	if n, err := st.srv.Payouts.SyncSent(ctx0); err != nil || n != 1 {
		t.Fatalf("synced %d packets: %v", n, err)
	}
	do(t, a, "back to my commissions", chromedp.Navigate(landing+"/commissions"))
	waitFor(t, a, "the received packet", `document.querySelector('.packet-status').textContent === '已领取'`)
	if got := eval[string](t, a, `document.getElementById('available').textContent`); got != "0.00" {
		t.Fatalf("available after the claim: %s", got)
	}
	shot(t, a, "13-received")
	do(t, a, "open my orders", chromedp.Navigate(landing+"/orders"))
	waitFor(t, a, "the order list", `document.querySelectorAll('.order').length === 1`)
	shot(t, a, "14-orders")
	do(t, a, "back to the landing page", chromedp.Navigate(landing))
	waitFor(t, a, "the ticker", `document.querySelectorAll('#ticker li').length === 2`)
	skipSplash(t, a)
	shot(t, a, "15-landing-after")

	// The stats saw the visits and the share.
	if !st.srv.h5.Flush(5 * time.Second) {
		t.Fatal("stats queue did not drain")
	}
	stats, err := st.srv.Campaign.Stats(ctx0, camp)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Visitors != 2 || stats.Views < 3 || stats.Shares < 1 || stats.Participants != 1 || stats.UnitsSold != 3 {
		t.Fatalf("stats %+v", stats)
	}
}

// payInCashier presses 微信支付 and confirms in the simulator's cashier sheet, which the
// bridge opens in an iframe (same origin: dev serves it through the server).
func payInCashier(t *testing.T, ctx context.Context, shot string) {
	t.Helper()
	tap(t, ctx, "press pay", `#pay`)
	const button = `document.querySelector('iframe[title="微信支付"]') && document.querySelector('iframe[title="微信支付"]').contentDocument && document.querySelector('iframe[title="微信支付"]').contentDocument.querySelector('button[value=pay]')`
	waitFor(t, ctx, "the cashier", button)
	if shot != "" {
		viewShot(t, ctx, shot)
	}
	eval[bool](t, ctx, `(`+button+`).click() || true`)
}

// signedInUser is the campaign user of a simulated openid.
func signedInUser(t *testing.T, st *h5Stack, m *h5Merchant, openid string) *campaign.User {
	t.Helper()
	var id int64
	if err := st.srv.DB.Get(&id, `SELECT id FROM wechat_users WHERE merchant_id = $1 AND openid = $2`, m.id, openid); err != nil {
		t.Fatal(err)
	}
	u, err := st.srv.Campaign.User(context.Background(), m.id, id)
	if err != nil {
		t.Fatal(err)
	}
	if u.Nickname == "" {
		t.Fatalf("user %s has no nickname after the userinfo sign-in", openid)
	}
	return u
}

// checkPoster decodes the QR code of the sharer's poster: it must be the share link.
func checkPoster(t *testing.T, st *h5Stack, c *campaign.Campaign, u *campaign.User, link string) {
	t.Helper()
	b, _, err := st.srv.Campaign.Poster(context.Background(), c, u)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "..", "artifacts", t.Name())
	os.MkdirAll(dir, 0o755)                                  //nolint:errcheck
	os.WriteFile(filepath.Join(dir, "poster.png"), b, 0o644) //nolint:errcheck
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := gozxingqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		t.Fatalf("poster QR code: %v", err)
	}
	if res.GetText() != link {
		t.Fatalf("poster QR code says %q, want %q", res.GetText(), link)
	}
}
