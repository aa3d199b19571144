package main

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// forwardedAs makes every request of a browser arrive as from a load balancer that saw the
// client at addr (X-Forwarded-For).
type forwardedAs struct {
	addr string
	next http.RoundTripper
}

func (f forwardedAs) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.addr)
	return f.next.RoundTrip(r)
}

func behind(b *browser, addr string) *browser {
	b.http.Transport = forwardedAs{addr: addr, next: http.DefaultTransport}
	return b
}

// Issue 14, point 5: the console's log-in throttle counts the client the load balancer saw,
// so behind a trusted proxy one address spraying passwords is stopped while a merchant at
// another address signs in; from a peer that is not a trusted proxy, X-Forwarded-For is
// ignored, so rotating it gains the attacker nothing. Before, the console counted c.IP() — the
// load balancer's own address — so the sprayer locked out everyone behind it.
func TestConsoleLogInThrottleHonoursTrustedProxies(t *testing.T) {
	var offset atomic.Int64
	start := time.Now()
	now := func() time.Time { return start.Add(time.Duration(offset.Load())) }
	login := func(b *browser, email, password string) (int, string) {
		t.Helper()
		resp, page := b.post("/console/login", url.Values{"email": {email}, "password": {password}})
		if resp.StatusCode == http.StatusSeeOther {
			return resp.StatusCode, ""
		}
		return resp.StatusCode, fieldError(page, "email") + fieldError(page, "password")
	}
	spray := func(b *browser, rotate bool) {
		t.Helper()
		for i := range 30 {
			if rotate {
				behind(b, fmt.Sprintf("198.18.%d.%d", i/200, i%200+1))
			}
			if code, msg := login(b, fmt.Sprintf("victim%d@example.com", i), "guess-123"); !strings.Contains(msg, "邮箱或密码不正确") {
				t.Fatalf("guess %d: %d %q", i, code, msg)
			}
		}
	}

	t.Run("trusted proxy", func(t *testing.T) {
		srv, base := startStackWith(t, nil, func(c *Config) {
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
			c.now = now
		})
		_, m := signUp(t, srv, base, "代理后的店")
		email := accountEmail(t, srv, m)
		attacker := behind(newBrowserClient(t, base), "203.0.113.7")
		spray(attacker, false)
		if code, msg := login(attacker, email, "right-pass-1"); !strings.Contains(msg, "该网络登录失败次数过多，请 60 秒后再试") {
			t.Fatalf("the sprayer's next try: %d %q", code, msg)
		}
		merchant := behind(newBrowserClient(t, base), "198.51.100.23")
		if code, msg := login(merchant, email, "secret-pass-1"); code != http.StatusSeeOther {
			t.Fatalf("the merchant at another address behind the same proxy: %d %q", code, msg)
		}
		// A client cannot pick its address: what it writes left of the proxy's entry is ignored.
		liar := behind(newBrowserClient(t, base), "198.51.100.23, 203.0.113.7")
		if _, msg := login(liar, email, "secret-pass-1"); !strings.Contains(msg, "该网络登录失败次数过多") {
			t.Fatalf("a client that forged its X-Forwarded-For: %q", msg)
		}
	})

	t.Run("untrusted peer", func(t *testing.T) {
		srv, base := startStackWith(t, nil, func(c *Config) {
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
			c.now = now
		})
		_, m := signUp(t, srv, base, "直连的店")
		email := accountEmail(t, srv, m)
		// Earlier tests of the package failed log-ins from this loopback address too, and the
		// tests after this one must not meet the wait this one leaves behind on it.
		clear := func() {
			if _, err := srv.DB.Exec(`DELETE FROM console_throttle WHERE key LIKE '%127.0.0.1%'`); err != nil {
				t.Error(err)
			}
		}
		clear()
		t.Cleanup(clear)
		attacker := newBrowserClient(t, base)
		spray(attacker, true) // a new X-Forwarded-For on every guess
		behind(attacker, "192.0.2.200")
		if _, msg := login(attacker, email, "secret-pass-1"); !strings.Contains(msg, "该网络登录失败次数过多") {
			t.Fatalf("rotating X-Forwarded-For from an untrusted peer escaped the throttle: %q", msg)
		}
		offset.Add(int64(time.Minute))
		if code, msg := login(attacker, email, "secret-pass-1"); code != http.StatusSeeOther {
			t.Fatalf("after the wait: %d %q", code, msg)
		}
	})
}

// accountEmail is the email a merchant signed up with.
func accountEmail(t *testing.T, srv *server, m int64) string {
	t.Helper()
	var email string
	if err := srv.DB.Get(&email, `SELECT email FROM merchant_accounts WHERE merchant_id = $1`, m); err != nil {
		t.Fatal(err)
	}
	return email
}

// Issue 14, point 8: five sign-ups an hour per client address, the one the trusted proxy saw;
// another address signs up meanwhile.
func TestConsoleSignUpThrottle(t *testing.T) {
	_, base := startStackWith(t, nil, func(c *Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	signup := func(addr string, i int) (int, string) {
		b := behind(newBrowserClient(t, base), addr)
		pw := "secret-pass-1"
		resp, page := b.post("/console/signup", url.Values{"shop_name": {"店"}, "email": {fmt.Sprintf("farm%d-%d@example.com", time.Now().UnixNano()%1e9, i)},
			"password": {pw}, "confirm": {pw}})
		return resp.StatusCode, fieldError(page, "email")
	}
	for i := range 5 {
		if code, msg := signup("203.0.113.50", i); code != http.StatusSeeOther {
			t.Fatalf("sign-up %d: %d %q", i, code, msg)
		}
	}
	if code, msg := signup("203.0.113.50", 5); code != http.StatusUnprocessableEntity || !strings.Contains(msg, "该网络注册的账号过多（每小时最多 5 个），请 60 分钟后再试") {
		t.Fatalf("the sixth sign-up: %d %q", code, msg)
	}
	if code, msg := signup("198.51.100.50", 6); code != http.StatusSeeOther {
		t.Fatalf("a sign-up from another address: %d %q", code, msg)
	}
}
