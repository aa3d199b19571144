package wechat_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// The simulator every test in this package talks to through the real SDK: the SDK's base
// URL is a process global, so one simulator serves the whole package.
var (
	simulator *sim.Server
	simURL    string
)

func TestMain(m *testing.M) {
	simulator = sim.New(sim.Config{NotifyFactor: 10000, Hang: 10 * time.Second})
	ts := httptest.NewServer(simulator)
	simURL = ts.URL
	code := m.Run()
	simulator.Close() // first: releases requests held by timeout faults
	ts.Close()
	os.Exit(code)
}

// newClient registers a fresh merchant in the simulator and returns its client.
func newClient(t *testing.T, opts ...func(*wechat.Options)) (*wechat.Client, wechat.Credentials) {
	t.Helper()
	creds, err := simulator.AddMerchant(sim.MerchantConfig{})
	if err != nil {
		t.Fatal(err)
	}
	o := wechat.Options{APIBase: simURL, BrowserBase: simURL, Timeout: 5 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	c, err := wechat.NewClient(creds, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, creds
}

// newUser adds a user of the merchant.
func newUser(t *testing.T, appID string, subscribed bool) sim.User {
	t.Helper()
	u, err := simulator.AddUser(sim.User{AppID: appID, Subscribed: subscribed})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// noRedirect is a browser that stops at redirects so a test can read where they go.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// postForm submits a page's form and returns the redirect target (or the page).
func postForm(t *testing.T, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := noRedirect.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func wantKind(t *testing.T, err error, want wechat.Kind) {
	t.Helper()
	if got := wechat.KindOf(err); got != want {
		t.Fatalf("error %v: kind %v, want %v", err, got, want)
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func contains(t *testing.T, body string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(body, p) {
			t.Fatalf("page lacks %q:\n%s", p, body)
		}
	}
}
