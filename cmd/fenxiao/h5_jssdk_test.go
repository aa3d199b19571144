package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	"fenxiao/wechat/sim"
)

// testJSSDK is the script tag of WeChat's JS-SDK, written out rather than built from
// jssdkURL, so the test says what production pages must carry.
const testJSSDK = `<script src="https://res.wx.qq.com/open/js/jweixin-1.6.0.js"></script>`

// In production (no simulator) the H5 pages load WeChat's official JS-SDK and allow exactly
// its origin for scripts; with the simulator they load its wx instead and allow only their
// own origin (issue 17 point 15).
func TestH5ProductionPagesLoadJSSDK(t *testing.T) {
	prod := newProductionStack(t)
	m := prod.merchant("正式环境店")
	c := prod.campaign(m, 10)
	su, err := prod.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: "正式用户", Subscribed: true})
	if err != nil {
		t.Fatal(err)
	}
	f := newFollower()
	page := fmt.Sprintf("%s/c/%d", prod.base, c.ID)
	f.signIn(t, prod.h5Stack, m, page, su.OpenID)
	for _, p := range []string{page, page + "/orders", page + "/commissions"} {
		resp, body := f.get(t, p)
		csp := resp.Header.Get("Content-Security-Policy")
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, testJSSDK) || strings.Contains(body, "wechatsim") {
			t.Fatalf("production page %s: %d\n%s", p, resp.StatusCode, body)
		}
		if !strings.Contains(csp, "script-src 'self' https://res.wx.qq.com;") {
			t.Fatalf("production page %s: CSP %q, want script-src 'self' https://res.wx.qq.com", p, csp)
		}
	}

	dev := newH5Stack(t)
	dm := dev.merchant("开发环境店")
	dc := dev.campaign(dm, 10)
	du, err := dev.sim.AddUser(sim.User{AppID: dm.creds.AppID, Nickname: "开发用户", Subscribed: true})
	if err != nil {
		t.Fatal(err)
	}
	g := newFollower()
	devPage := fmt.Sprintf("%s/c/%d", dev.base, dc.ID)
	g.signIn(t, dev, dm, devPage, du.OpenID)
	resp, body := g.get(t, devPage)
	if !strings.Contains(body, `<script src="/dev/wechatsim.js"></script>`) || strings.Contains(body, "res.wx.qq.com") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self';") {
		t.Fatalf("simulator page: CSP %q\n%s", resp.Header.Get("Content-Security-Policy"), body)
	}
}

// A production page in a browser: the official JS-SDK file (served here by a stand-in with
// only the official wx API, since WeChat's host is out of reach) runs under the page's CSP;
// the page's script calls wx.config with the configuration the server signed for this page's
// URL (the simulator's jsapi_ticket verifies it) and, once wx.ready, sets the share card to
// the sharer's own link with updateAppMessageShareData and updateTimelineShareData, without
// touching WeixinJSBridge.
func TestBrowserH5ProductionJSSDK(t *testing.T) {
	prod := newProductionStack(t)
	m := prod.merchant("正式分享店")
	c := prod.campaign(m, 10)
	p := phone(t)
	serveJSSDKStandIn(t, p)
	do(t, p, "open the campaign", chromedp.Navigate(fmt.Sprintf("%s/c/%d", prod.base, c.ID)))
	authorizeNew(t, p, newUser{nickname: "正式分享者", subscribed: true})
	skipSplash(t, p)
	waitFor(t, p, "the share card", `window.__wx && __wx.calls.some(c => c.name === 'updateTimelineShareData')`)

	var got struct {
		Config struct {
			AppID     string   `json:"appId"`
			Timestamp int64    `json:"timestamp"`
			NonceStr  string   `json:"nonceStr"`
			Signature string   `json:"signature"`
			APIs      []string `json:"jsApiList"`
		} `json:"config"`
		Calls []struct {
			Name string            `json:"name"`
			Args map[string]string `json:"args"`
		} `json:"calls"`
		Bridge bool   `json:"bridge"`
		URL    string `json:"url"`
	}
	raw := eval[string](t, p, `JSON.stringify({config: __wx.config, bridge: __wx.bridge, url: location.href.split('#')[0],
		calls: __wx.calls.map(c => ({name: c.name, args: Object.fromEntries(Object.entries(c.args || {}).filter(([k, v]) => typeof v === 'string'))}))})`)
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatal(err)
	}
	cfg := got.Config
	if cfg.AppID != m.creds.AppID || cfg.Signature == "" {
		t.Fatalf("wx.config %+v, want the merchant's appid %s, signed", cfg, m.creds.AppID)
	}
	verify := prod.simURL + "/sim/jsapi/verify?" + url.Values{"appid": {cfg.AppID}, "url": {got.URL},
		"timestamp": {fmt.Sprint(cfg.Timestamp)}, "nonceStr": {cfg.NonceStr}, "signature": {cfg.Signature}}.Encode()
	resp, err := http.Get(verify)
	if err != nil {
		t.Fatal(err)
	}
	var ok struct{ OK bool }
	json.NewDecoder(resp.Body).Decode(&ok) //nolint:errcheck
	resp.Body.Close()
	if !ok.OK {
		t.Fatalf("the signature of wx.config %+v does not verify for %s", cfg, got.URL)
	}
	for _, api := range []string{"updateAppMessageShareData", "updateTimelineShareData"} {
		if !strings.Contains(strings.Join(cfg.APIs, ","), api) {
			t.Fatalf("jsApiList %v lacks %s", cfg.APIs, api)
		}
	}
	var sharer int64
	if err := prod.srv.DB.Get(&sharer, `SELECT id FROM wechat_users WHERE merchant_id = $1 AND openid = $2`, m.id, prod.user(m, "正式分享者").OpenID); err != nil {
		t.Fatal(err)
	}
	link := prod.srv.Campaign.ShareURL(c.ID, sharer)
	cards := 0
	for _, call := range got.Calls {
		if call.Name == "updateAppMessageShareData" || call.Name == "updateTimelineShareData" {
			cards++
			if call.Args["link"] != link || call.Args["title"] != c.Title || !strings.HasPrefix(call.Args["imgUrl"], prod.base+"/") {
				t.Fatalf("%s(%v), want the sharer's link %s, the title and a picture of this server", call.Name, call.Args, link)
			}
		}
	}
	if cards != 2 || got.Bridge {
		t.Fatalf("share card set %d times (want 2), WeixinJSBridge touched: %v; calls %+v", cards, got.Bridge, got.Calls)
	}
	viewShot(t, p, "production-landing")
}

// newProductionStack is the server as production runs it — no simulator bridge or dev
// routes, region gates on the real client address — with the SDK still talking to the
// simulator for OAuth and the jsapi_ticket.
func newProductionStack(t *testing.T) *productionStack {
	t.Helper()
	s, simURL := testSim()
	srv, base := startStackWith(t, nil, nil)
	return &productionStack{h5Stack: &h5Stack{t: t, srv: srv, base: base, sim: s}, simURL: simURL}
}

type productionStack struct {
	*h5Stack
	simURL string
}

// jssdkStandIn has the official JS-SDK's wx API and nothing else; it records what the page
// calls. wx.config succeeds at once (the test verifies the signature itself).
const jssdkStandIn = `(function () {
  var rec = window.__wx = { calls: [], config: null, bridge: false }, ready = [], ok = false;
  try { Object.defineProperty(window, "WeixinJSBridge", { get: function () { rec.bridge = true; return undefined; } }); } catch (e) {}
  function api(name) { return function (o) { rec.calls.push({ name: name, args: o }); if (o && o.success) o.success({ errMsg: name + ":ok" }); }; }
  window.wx = {
    config: function (c) { rec.config = c; ok = true; setTimeout(function () { ready.splice(0).forEach(function (f) { f(); }); }); },
    ready: function (f) { if (ok && rec.config) setTimeout(f); else ready.push(f); },
    error: function () {},
    checkJsApi: api("checkJsApi"),
    updateAppMessageShareData: api("updateAppMessageShareData"),
    updateTimelineShareData: api("updateTimelineShareData"),
    onMenuShareAppMessage: api("onMenuShareAppMessage"),
    onMenuShareTimeline: api("onMenuShareTimeline"),
    openAddress: api("openAddress"),
    chooseWXPay: api("chooseWXPay")
  };
})();`

// serveJSSDKStandIn answers the browser's requests for WeChat's JS-SDK file with jssdkStandIn.
func serveJSSDKStandIn(t *testing.T, p context.Context) {
	t.Helper()
	paused := make(chan *fetch.EventRequestPaused, 16)
	if err := chromedp.Listen(p, func(ev any) {
		if e, ok := ev.(*fetch.EventRequestPaused); ok {
			paused <- e
		}
	}); err != nil {
		t.Fatal(err)
	}
	do(t, p, "serve the JS-SDK stand-in", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "https://res.wx.qq.com/*"}}})
		if err != nil {
			return err
		}
		go func() {
			for {
				select {
				case e := <-paused:
					cdp.Call(p, tg, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: e.RequestID, ResponseCode: 200, //nolint:errcheck
						ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/javascript; charset=utf-8"}},
						Body:            []byte(jssdkStandIn)})
				case <-p.Done():
					return
				}
			}
		}()
		return nil
	}))
}
