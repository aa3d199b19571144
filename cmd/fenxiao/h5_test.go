package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"fenxiao/campaign"
	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// followerCookie carries a follower's session.
const followerCookie = "fx_h5"

// follower is a browser without JavaScript: an HTTP client with its own cookies that does not
// follow redirects, so each step of the sign-in can be checked.
type follower struct {
	*http.Client
}

func newFollower() *follower {
	jar, _ := cookiejar.New(nil)
	return &follower{&http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (f *follower) get(t testing.TB, u string) (*http.Response, string) {
	t.Helper()
	resp, err := f.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// signIn opens page and answers WeChat's authorize redirect as openid (what the simulator's
// page does when the user taps 允许), landing back on page signed in.
func (f *follower) signIn(t testing.TB, st *h5Stack, m *h5Merchant, page, openid string) {
	t.Helper()
	resp, _ := f.get(t, page)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET %s: %d, want a redirect to WeChat's sign-in", page, resp.StatusCode)
	}
	auth, _ := url.Parse(resp.Header.Get("Location"))
	q := auth.Query()
	code, err := st.sim.Authorize(sim.AuthRequest{AppID: m.creds.AppID, OpenID: openid, Scope: q.Get("scope")})
	if err != nil {
		t.Fatal(err)
	}
	back := q.Get("redirect_uri") + "?" + url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
	resp, _ = f.get(t, back)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != strings.TrimPrefix(page, st.base) {
		t.Fatalf("OAuth callback: %d to %q, want back to %s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
}

// The session cookie and the OAuth state: the cookie is HttpOnly and SameSite=Lax; a state
// from another browser, or one used twice, is refused; JSON calls without a session answer
// 401; a follower sees only their own orders; wx.config is signed only for this server's pages.
func TestH5SessionAndOAuthState(t *testing.T) {
	st := newH5Stack(t)
	m := st.merchant("会话测试")
	c := st.campaign(m, 5)
	page := fmt.Sprintf("%s/c/%d", st.base, c.ID)
	su, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: "会话", Subscribed: true})
	if err != nil {
		t.Fatal(err)
	}

	a := newFollower()
	resp, _ := a.get(t, page)
	cookie := resp.Header.Get("Set-Cookie")
	for _, want := range []string{followerCookie + "=", "HttpOnly", "SameSite=Lax", "path=/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("session cookie %q lacks %s", cookie, want)
		}
	}
	if strings.Contains(cookie, "Secure") {
		t.Errorf("cookie %q is Secure on an http:// server", cookie)
	}
	auth, _ := url.Parse(resp.Header.Get("Location"))
	if auth.Query().Get("scope") != "snsapi_base" {
		t.Fatalf("first sign-in asks %s, want the silent snsapi_base", auth.Query().Get("scope"))
	}
	state := auth.Query().Get("state")
	code, _ := st.sim.Authorize(sim.AuthRequest{AppID: m.creds.AppID, OpenID: su.OpenID, Scope: "snsapi_base"})
	callback := fmt.Sprintf("%s/h5/oauth/%d?", st.base, m.id)

	// Another browser replaying A's state and code: refused, and A's round trip still works.
	b := newFollower()
	if resp, body := b.get(t, callback+url.Values{"code": {code}, "state": {state}}.Encode()); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "登录已过期") {
		t.Fatalf("foreign state: %d", resp.StatusCode)
	}
	if resp, _ := a.get(t, callback+url.Values{"code": {code}, "state": {state}}.Encode()); resp.StatusCode != http.StatusFound {
		t.Fatalf("own state: %d", resp.StatusCode)
	}
	if resp, _ := a.get(t, callback+url.Values{"code": {code}, "state": {state}}.Encode()); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("state used twice: %d", resp.StatusCode)
	}
	if resp, body := a.get(t, page); resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="buy"`) {
		t.Fatalf("signed-in landing page: %d", resp.StatusCode)
	}

	// JSON without a session: 401 in JSON, no redirect.
	resp, err = b.Post(fmt.Sprintf("%s/api/h5/c/%d/orders", st.base, c.ID), "application/json", strings.NewReader(`{"qty":1}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `"error"`) {
		t.Fatalf("order without a session: %d %s", resp.StatusCode, body)
	}

	// wx.config is signed for this server's pages only.
	_, landing := a.get(t, page)
	tok := csrfOf(t, landing)
	for target, want := range map[string]int{page: http.StatusOK, "https://evil.example/c/1": http.StatusUnprocessableEntity} {
		resp, _ := a.post(t, fmt.Sprintf("%s/api/h5/c/%d/jsconfig", st.base, c.ID), "application/json", fmt.Sprintf(`{"url":%q}`, target), "", tok)
		if resp.StatusCode != want {
			t.Errorf("jsconfig for %s: %d, want %d", target, resp.StatusCode, want)
		}
	}

	// Someone else's order is not found.
	other, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: "别人", Subscribed: true})
	if err != nil {
		t.Fatal(err)
	}
	b.signIn(t, st, m, page, other.OpenID)
	u, err := st.srv.Campaign.Follower(context.Background(), "", m.id)
	if err != nil || u.User != nil {
		t.Fatal("an empty token must be anonymous")
	}
	var orderID int64
	var page2 string
	resp, page2 = a.post(t, fmt.Sprintf("%s/api/h5/c/%d/orders", st.base, c.ID), "application/json", `{"qty":1}`, "", tok)
	body = []byte(page2)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"getBrandWCPayRequest"`) && !strings.Contains(string(body), `"paySign"`) {
		t.Fatalf("order: %d %s", resp.StatusCode, body)
	}
	fmt.Sscanf(string(body[strings.Index(string(body), `"order_id":`)+len(`"order_id":`):]), "%d", &orderID) //nolint:errcheck
	// Buying again while that order is unpaid pays that order, and the page is told so.
	resp, again := a.post(t, fmt.Sprintf("%s/api/h5/c/%d/orders", st.base, c.ID), "application/json", `{"qty":3}`, "", tok)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(again), fmt.Sprintf(`"order_id":%d`, orderID)) || !strings.Contains(string(again), "你有一笔未支付的订单") {
		t.Fatalf("a second buy while order %d is unpaid: %d %s", orderID, resp.StatusCode, again)
	}
	if resp, _ := b.get(t, fmt.Sprintf("%s/c/%d/orders/%d", st.base, c.ID, orderID)); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another follower's order: %d, want 404", resp.StatusCode)
	}
	if resp, _ := a.get(t, fmt.Sprintf("%s/c/%d/orders/%d", st.base, c.ID, orderID)); resp.StatusCode != http.StatusOK {
		t.Fatalf("own order: %d", resp.StatusCode)
	}
	// A campaign that does not exist is a 404 page in Chinese.
	if resp, body := a.get(t, st.base+"/c/999999"); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "活动已下线") {
		t.Fatalf("missing campaign: %d", resp.StatusCode)
	}
}

// While the last units are only held by someone's unpaid order, the landing page tells a
// latecomer they may come back, and when, instead of 已售罄.
func TestH5HeldStockPage(t *testing.T) {
	st := newH5Stack(t)
	m := st.merchant("抢光店")
	c := st.campaign(m, 1)
	holder, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: "占着", Subscribed: true})
	if err != nil {
		t.Fatal(err)
	}
	hu, err := st.srv.Campaign.SignIn(context.Background(), m.id, wechat.OAuthToken{OpenID: holder.OpenID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.srv.Campaign.CreateOrder(context.Background(), c.ID, hu, 1, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	late, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: "后来", Subscribed: true})
	if err != nil {
		t.Fatal(err)
	}
	f := newFollower()
	page := fmt.Sprintf("%s/c/%d", st.base, c.ID)
	f.signIn(t, st, m, page, late.OpenID)
	resp, body := f.get(t, page)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "已被抢光") || !strings.Contains(body, "未支付订单释放后可再购买") || strings.Contains(body, "商品已售罄") {
		t.Fatalf("landing page while the last unit is held: %d\n%s", resp.StatusCode, body)
	}
}

// The buy page names the sharer the order will be made through (本单推荐人, masked) before the
// buyer pays, and the order page names the sharer frozen on the order even after the buyer
// opened another sharer's link.
func TestH5ReferrerOnBuyAndOrderPages(t *testing.T) {
	st := newH5Stack(t)
	m := st.merchant("推荐店")
	c := st.campaign(m, 10)
	ctx := context.Background()
	signIn := func(nick string) *campaign.User {
		su, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: nick, Subscribed: true})
		if err != nil {
			t.Fatal(err)
		}
		u, err := st.srv.Campaign.SignIn(ctx, m.id, wechat.OAuthToken{OpenID: su.OpenID}, &wechat.User{OpenID: su.OpenID, Nickname: nick})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	a, b := signIn("张三丰"), signIn("李四")
	buyer, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: "买家", Subscribed: true})
	if err != nil {
		t.Fatal(err)
	}
	f := newFollower()
	base := fmt.Sprintf("%s/c/%d", st.base, c.ID)
	f.signIn(t, st, m, base+"/buy", buyer.OpenID)
	if _, body := f.get(t, base+"/buy"); strings.Contains(body, "本单推荐人") {
		t.Fatalf("the buy page of a buyer who came without a link names a referrer:\n%s", body)
	}
	f.get(t, base+"?s="+st.srv.Campaign.ShareToken(c.ID, a.ID))
	resp, body := f.get(t, base+"/buy")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "本单推荐人") || !strings.Contains(body, "张**") || strings.Contains(body, "张三丰") {
		t.Fatalf("buy page after A's link: %d\n%s", resp.StatusCode, body)
	}
	bu, err := st.srv.Campaign.SignIn(ctx, m.id, wechat.OAuthToken{OpenID: buyer.OpenID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	co, err := st.srv.Campaign.CreateOrder(ctx, c.ID, bu, 1, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	f.get(t, base+"?s="+st.srv.Campaign.ShareToken(c.ID, b.ID)) // B's link, before paying
	if _, body := f.get(t, fmt.Sprintf("%s/orders/%d", base, co.Order.ID)); !strings.Contains(body, "本单推荐人：张**") {
		t.Fatalf("the order page after opening B's link:\n%s", body)
	}
	if _, body := f.get(t, base+"/buy"); !strings.Contains(body, "李**") {
		t.Fatalf("the buy page after B's link names the referrer of a next order:\n%s", body)
	}
}

// csrfOf reads the CSRF token a page hands its scripts and forms.
func csrfOf(t testing.TB, page string) string {
	t.Helper()
	_, rest, ok := strings.Cut(page, `<meta name="csrf-token" content="`)
	tok, _, _ := strings.Cut(rest, `"`)
	if !ok || len(tok) < 20 {
		t.Fatalf("page without a CSRF token:\n%s", page)
	}
	return tok
}

// post sends a state-changing request as a page of origin would; token "" sends none.
func (f *follower) post(t testing.TB, u, contentType, body, origin, token string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if token != "" {
		req.Header.Set("X-CSRF-Token", token)
	}
	resp, err := f.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// Another site cannot make a signed-in follower's browser order, withdraw or try passwords:
// a state-changing H5 request needs this server's Origin (or Referer), or without either the
// session's token; a foreign Origin is refused even with the token. H5 pages cannot be framed. The session cookie is renewed at sign-in, so a
// token planted before it is worth nothing after.
func TestH5CSRFAndFraming(t *testing.T) {
	st := newH5Stack(t)
	m := st.merchant("防护店")
	c := st.campaign(m, 10)
	fan, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: "粉丝", Subscribed: true})
	if err != nil {
		t.Fatal(err)
	}
	f := newFollower()
	page := fmt.Sprintf("%s/c/%d", st.base, c.ID)
	resp, _ := f.get(t, page) // an anonymous session: the cookie before sign-in
	before := ""
	for _, ck := range resp.Cookies() {
		if ck.Name == followerCookie {
			before = ck.Value
		}
	}
	if before == "" {
		t.Fatal("no session cookie before sign-in")
	}
	f.signIn(t, st, m, page, fan.OpenID)
	if fs, err := st.srv.Campaign.Follower(context.Background(), before, m.id); err != nil || fs.User != nil {
		t.Fatalf("the pre-sign-in token after sign-in: %+v %v, want no session", fs, err)
	}
	resp, body := f.get(t, page)
	if resp.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("landing page headers: %v", resp.Header)
	}
	tok := csrfOf(t, body)
	orders := fmt.Sprintf("%s/api/h5/c/%d/orders", st.base, c.ID)
	for _, a := range []struct{ what, ct, body, origin, token string }{
		{"a form post from another site", "application/x-www-form-urlencoded", "qty=1", "https://evil.example", ""},
		{"JSON without the token", "application/json", `{"qty":1}`, "", ""},
		{"a wrong token", "application/json", `{"qty":1}`, "", tok[1:] + "x"},
		{"the right token from another origin", "application/json", `{"qty":1}`, "https://evil.example", tok},
		{"a look-alike origin", "application/json", `{"qty":1}`, st.base + ".evil.example", ""},
	} {
		if resp, body := f.post(t, orders, a.ct, a.body, a.origin, a.token); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "error") {
			t.Errorf("%s: %d %s, want 403", a.what, resp.StatusCode, body)
		}
	}
	withdraw := fmt.Sprintf("%s/c/%d/withdraw", st.base, c.ID)
	if resp, _ := f.post(t, withdraw, "application/x-www-form-urlencoded", "amount=1", "https://evil.example", ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-site withdrawal: %d, want 403", resp.StatusCode)
	}
	// The page's own requests: with the token and no Origin (an old WebView), and with its
	// Origin (every current browser sends one on a POST).
	if resp, body := f.post(t, orders, "application/json", `{"qty":1}`, "", tok); resp.StatusCode != http.StatusOK || !strings.Contains(body, "order_id") {
		t.Fatalf("the page's own order with its token: %d %s", resp.StatusCode, body)
	}
	if resp, body := f.post(t, orders, "application/json", `{"qty":1}`, st.base, ""); resp.StatusCode != http.StatusOK || !strings.Contains(body, "order_id") {
		t.Fatalf("the page's own order from its origin: %d %s", resp.StatusCode, body)
	}
}

// Order attempts past the per-buyer limit answer 429 with Retry-After and words a follower
// understands. 25 attempts within seconds can span at most two one-minute windows, so at most
// 20 pass however the minute falls.
func TestH5OrderRateLimit(t *testing.T) {
	st := newH5Stack(t)
	m := st.merchant("限流店")
	c := st.campaign(m, 100)
	fan, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: "快手", Subscribed: true})
	if err != nil {
		t.Fatal(err)
	}
	f := newFollower()
	page := fmt.Sprintf("%s/c/%d", st.base, c.ID)
	f.signIn(t, st, m, page, fan.OpenID)
	_, body := f.get(t, page)
	tok := csrfOf(t, body)
	ok, limited := 0, 0
	for range 25 {
		resp, body := f.post(t, fmt.Sprintf("%s/api/h5/c/%d/orders", st.base, c.ID), "application/json", `{"qty":1}`, st.base, tok)
		switch resp.StatusCode {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			limited++
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "下单太频繁了，请") {
				t.Fatalf("a limited attempt: %v %s", resp.Header, body)
			}
		default:
			t.Fatalf("attempt: %d %s", resp.StatusCode, body)
		}
	}
	if ok < 10 || ok > 20 || limited == 0 {
		t.Fatalf("25 attempts: %d passed, %d limited; want 10–20 passed", ok, limited)
	}
}
