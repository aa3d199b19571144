package wechat_test

import (
	"bytes"
	"encoding/json"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	qr "github.com/piglig/go-qr"

	"fenxiao/wechat"
)

func TestOAuthThroughTheAuthorizePage(t *testing.T) {
	c, creds := newClient(t)
	u := newUser(t, creds.AppID, true)

	auth := c.AuthorizeURL("https://shop.example/cb?x=1", wechat.ScopeUserInfo, "st4te")
	if !strings.HasPrefix(auth, simURL+"/connect/oauth2/authorize?appid="+creds.AppID) || !strings.HasSuffix(auth, "#wechat_redirect") {
		t.Fatalf("authorize URL %s", auth)
	}
	status, page := get(t, auth)
	if status != 200 {
		t.Fatalf("authorize page: %d", status)
	}
	contains(t, page, u.Nickname, "允许", "snsapi_userinfo", "已关注")

	resp, _ := postForm(t, simURL+"/connect/oauth2/authorize", url.Values{
		"appid": {creds.AppID}, "redirect_uri": {"https://shop.example/cb?x=1"}, "scope": {wechat.ScopeUserInfo},
		"state": {"st4te"}, "user": {u.OpenID}, "action": {"allow"},
	})
	back, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || back.Host != "shop.example" || back.Query().Get("state") != "st4te" || back.Query().Get("x") != "1" {
		t.Fatalf("redirect %d %s", resp.StatusCode, back)
	}
	tok, err := c.ExchangeCode(ctx(t), back.Query().Get("code"))
	if err != nil || tok.OpenID != u.OpenID || tok.Snapshot {
		t.Fatalf("exchange: %+v %v", tok, err)
	}
	_, err = c.ExchangeCode(ctx(t), back.Query().Get("code"))
	wantKind(t, err, wechat.KindFailed) // a code works once

	info, err := c.OAuthUserInfo(ctx(t), tok)
	if err != nil || info.Nickname != u.Nickname || !strings.HasPrefix(info.AvatarURL, simURL) {
		t.Fatalf("userinfo: %+v %v", info, err)
	}
	fan, err := c.User(ctx(t), u.OpenID)
	if err != nil || !fan.Subscribed || fan.Nickname != u.Nickname {
		t.Fatalf("user info: %+v %v", fan, err)
	}
}

func TestOAuthNewUserWithRegionAndDeny(t *testing.T) {
	c, creds := newClient(t)
	form := url.Values{"appid": {creds.AppID}, "redirect_uri": {"https://shop.example/cb"}, "scope": {wechat.ScopeBase},
		"state": {"s"}, "user": {"new"}, "nickname": {"小明"}, "client_ip": {"custom"}, "custom_ip": {"61.139.2.69"}, "action": {"allow"}}
	resp, _ := postForm(t, simURL+"/connect/oauth2/authorize", form)
	back, _ := url.Parse(resp.Header.Get("Location"))
	tok, err := c.ExchangeCode(ctx(t), back.Query().Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	if ip, ok := simulator.ClientIP(creds.AppID, tok.OpenID); !ok || ip != "61.139.2.69" {
		t.Fatalf("client IP %q %v", ip, ok)
	}
	fan, err := c.User(ctx(t), tok.OpenID)
	if err != nil || fan.Subscribed {
		t.Fatalf("a user created without 关注 does not follow: %+v %v", fan, err)
	}

	form.Set("action", "deny")
	resp, _ = postForm(t, simURL+"/connect/oauth2/authorize", form)
	back, _ = url.Parse(resp.Header.Get("Location"))
	if back.Query().Has("code") || back.Query().Get("state") != "s" {
		t.Fatalf("deny redirect %s", back)
	}
}

func TestSnapshotModeGivesAVirtualOpenID(t *testing.T) {
	c, creds := newClient(t)
	u := newUser(t, creds.AppID, false)
	code, err := simulator.Authorize(simAuth(creds.AppID, u.OpenID, true))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.ExchangeCode(ctx(t), code)
	if err != nil || !tok.Snapshot || tok.OpenID == u.OpenID {
		t.Fatalf("snapshot exchange %+v %v", tok, err)
	}
	_, err = c.User(ctx(t), tok.OpenID)
	wantKind(t, err, wechat.KindNotFound)
}

func TestStaleAccessTokenIsRefreshedOnce(t *testing.T) {
	c, creds := newClient(t)
	u := newUser(t, creds.AppID, true)
	if _, err := c.User(ctx(t), u.OpenID); err != nil {
		t.Fatal(err)
	}
	simulator.ExpireTokens(creds.AppID) // another server refreshed it
	if _, err := c.User(ctx(t), u.OpenID); err != nil {
		t.Fatalf("after the token went stale: %v", err)
	}
}

func TestBadSecretIsAConfigError(t *testing.T) {
	_, creds := newClient(t)
	creds.AppSecret = "wrong"
	c, err := wechat.NewClient(creds, wechat.Options{APIBase: simURL})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.User(ctx(t), "oX")
	wantKind(t, err, wechat.KindConfig)
}

func TestJSConfigSignatureVerifies(t *testing.T) {
	c, creds := newClient(t)
	page := "https://shop.example/c/1?from=share"
	cfg, err := c.JSConfig(ctx(t), page+"#top")
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(cfg)
	for _, k := range []string{`"appId"`, `"timestamp"`, `"nonceStr"`, `"signature"`} {
		if !bytes.Contains(js, []byte(k)) {
			t.Fatalf("JSON %s lacks %s", js, k)
		}
	}
	check := func(pageURL string) bool {
		q := url.Values{"appid": {creds.AppID}, "url": {pageURL}, "timestamp": {jsonNumber(cfg.Timestamp)},
			"nonceStr": {cfg.NonceStr}, "signature": {cfg.Signature}}
		_, body := get(t, simURL+"/sim/jsapi/verify?"+q.Encode())
		return strings.Contains(body, `"ok":true`)
	}
	if !check(page) {
		t.Fatal("the simulator rejects the SDK's JS-SDK signature")
	}
	if check(page + "&other=1") {
		t.Fatal("a signature for another URL verifies")
	}
}

func TestFollowQRPushesEventsToTheCallback(t *testing.T) {
	c, creds := newClient(t)
	events := make(chan wechat.Event, 4)
	cb := httptest.NewServer(callbackHandler(c, func(e wechat.Event) string {
		events <- e
		return "欢迎关注，点此回到活动"
	}))
	defer cb.Close()
	if err := simulator.SetCallbackURL(creds.AppID, cb.URL+"/wechat/callback"); err != nil {
		t.Fatal(err)
	}
	code, err := c.TempQR(ctx(t), "c42", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if time.Until(code.ExpireAt) < 23*time.Hour {
		t.Fatalf("expiry %v", code.ExpireAt)
	}
	resp, err := http.Get(code.ImageURL)
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("QR image %s: %v %v", code.ImageURL, resp, err)
	}
	img, err := png.Decode(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	content, err := qr.Decode(img)
	if err != nil || content != code.URL {
		t.Fatalf("QR content %q (%v), want %q", content, err, code.URL)
	}

	u := newUser(t, creds.AppID, false)
	status, page := get(t, code.URL)
	if status != 200 {
		t.Fatalf("follow page %d", status)
	}
	contains(t, page, "关注公众号", u.Nickname)
	_, done := postForm(t, simURL+"/sim/follow", url.Values{"ticket": {code.Ticket}, "user": {u.OpenID}})
	contains(t, done, "已关注", "欢迎关注")
	if e := <-events; e != (wechat.Event{Type: wechat.EventSubscribe, OpenID: u.OpenID, Scene: "c42"}) {
		t.Fatalf("event %+v", e)
	}
	fan, err := c.User(ctx(t), u.OpenID)
	if err != nil || !fan.Subscribed || fan.SceneStr != "c42" {
		t.Fatalf("after following: %+v %v", fan, err)
	}
	reply, err := simulator.Scan(code.Ticket, u.OpenID) // scans again: already a follower
	if err != nil || reply != "欢迎关注，点此回到活动" {
		t.Fatalf("scan: %q %v", reply, err)
	}
	if e := <-events; e != (wechat.Event{Type: wechat.EventScan, OpenID: u.OpenID, Scene: "c42"}) {
		t.Fatalf("event %+v", e)
	}

	forged, err := http.Post(cb.URL+"?signature=bad&timestamp=1&nonce=2", "text/xml", strings.NewReader("<xml></xml>"))
	if err != nil || forged.StatusCode != http.StatusForbidden {
		t.Fatalf("unsigned callback: %v %v", forged, err)
	}
}

func TestTemplateMessageIsIdempotent(t *testing.T) {
	c, creds := newClient(t)
	u := newUser(t, creds.AppID, true)
	m := wechat.TemplateMessage{ToUser: u.OpenID, TemplateID: "tpl1", Data: map[string]string{"first": "你有一笔佣金到账"}, ClientMsgID: "commission-7"}
	id1, err := c.SendTemplate(ctx(t), m)
	if err != nil {
		t.Fatal(err)
	}
	id2, err := c.SendTemplate(ctx(t), m)
	if err != nil || id1 != id2 || len(simulator.Templates(creds.AppID)) != 1 {
		t.Fatalf("resend: %d %d %v, %d sent", id1, id2, err, len(simulator.Templates(creds.AppID)))
	}
	m.ToUser = newUser(t, creds.AppID, false).OpenID
	m.ClientMsgID = "other"
	_, err = c.SendTemplate(ctx(t), m)
	wantKind(t, err, wechat.KindFailed) // 43004: not a follower
}
