package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

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
	for _, want := range []string{h5Cookie + "=", "HttpOnly", "SameSite=Lax", "path=/"} {
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
	for target, want := range map[string]int{page: http.StatusOK, "https://evil.example/c/1": http.StatusUnprocessableEntity} {
		resp, err := a.Post(fmt.Sprintf("%s/api/h5/c/%d/jsconfig", st.base, c.ID), "application/json", strings.NewReader(fmt.Sprintf(`{"url":%q}`, target)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
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
	u, err := st.srv.campaign.Follower(context.Background(), "", m.id)
	if err != nil || u.User != nil {
		t.Fatal("an empty token must be anonymous")
	}
	var orderID int64
	resp, err = a.Post(fmt.Sprintf("%s/api/h5/c/%d/orders", st.base, c.ID), "application/json", strings.NewReader(`{"qty":1}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"getBrandWCPayRequest"`) && !strings.Contains(string(body), `"paySign"`) {
		t.Fatalf("order: %d %s", resp.StatusCode, body)
	}
	fmt.Sscanf(string(body[strings.Index(string(body), `"order_id":`)+len(`"order_id":`):]), "%d", &orderID) //nolint:errcheck
	// Buying again while that order is unpaid pays that order, and the page is told so.
	resp, err = a.Post(fmt.Sprintf("%s/api/h5/c/%d/orders", st.base, c.ID), "application/json", strings.NewReader(`{"qty":3}`))
	if err != nil {
		t.Fatal(err)
	}
	again, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
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

// Behind HTTPS the session cookie is Secure.
func TestH5CookieSecureBehindHTTPS(t *testing.T) {
	s := &server{cfg: &Config{BaseURL: "https://fx.example.com"}}
	app := fiber.New()
	app.Get("/", func(c *fiber.Ctx) error { s.setSessionCookie(c, "token"); return nil })
	resp, err := app.Test(httptestGet("/"), -1)
	if err != nil {
		t.Fatal(err)
	}
	if c := resp.Header.Get("Set-Cookie"); !strings.Contains(c, "secure") || !strings.Contains(c, "HttpOnly") {
		t.Fatalf("cookie %q", c)
	}
}

// Behind trusted load balancers the client is the rightmost address they did not add;
// anything else the header says is the client's own claim.
func TestForwardedFor(t *testing.T) {
	lb := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32")}
	cases := []struct {
		peer, header string
		trusted      []netip.Prefix
		want         string
	}{
		{"113.108.81.189", "", nil, "113.108.81.189"},
		{"113.108.81.189", "8.8.8.8", nil, "113.108.81.189"},            // no trusted proxy: the header is ignored
		{"113.108.81.189", "8.8.8.8", lb, "113.108.81.189"},             // the peer is not a proxy
		{"10.1.2.3", "123.125.71.38", lb, "123.125.71.38"},              // one load balancer
		{"10.1.2.3", "8.8.8.8, 123.125.71.38", lb, "123.125.71.38"},     // a forged left entry
		{"10.1.2.3", "123.125.71.38, 192.168.1.7", lb, "123.125.71.38"}, // two proxies
		{"10.1.2.3", "10.9.9.9", lb, "10.9.9.9"},                        // only proxies: the last seen
		{"10.1.2.3", "garbage, 123.125.71.38", lb, "123.125.71.38"},     // junk further left
		{"10.1.2.3", "123.125.71.38, garbage", lb, "10.1.2.3"},          // junk from a proxy: stop there
		{"10.1.2.3", "::ffff:123.125.71.38", lb, "123.125.71.38"},       // IPv4-mapped
	}
	for _, tc := range cases {
		if got := forwardedFor(netip.MustParseAddr(tc.peer), tc.header, tc.trusted); got != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", tc.peer, tc.header, got, tc.want)
		}
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
	hu, err := st.srv.campaign.SignIn(context.Background(), m.id, wechat.OAuthToken{OpenID: holder.OpenID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.srv.campaign.CreateOrder(context.Background(), c.ID, hu, 1, "127.0.0.1"); err != nil {
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
