package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

// Merchant B walks every console route that takes an id with merchant A's ids, signed in
// and with valid CSRF tokens, and gets 404 for each; A gets 200 for the same pages. Routes
// are listed from the app itself, so a new route with an id fails this test until it is
// walked here.
func TestConsoleTenantIsolation(t *testing.T) {
	srv, base := startStack(t, nil)
	ctx := context.Background()
	a, aID := signUp(t, srv, base, "甲店")
	b, bID := signUp(t, srv, base, "乙店")
	camp, order, _ := merchantSetup(t, srv, aID, 10)
	merchantSetup(t, srv, bID, 10) // B has data of its own: ids exist, just not B's
	topUp, err := srv.Merchants.StartTopUp(ctx, aID, decimal.NewFromInt(100), "")
	if err != nil {
		t.Fatal(err)
	}
	var png1 bytes.Buffer
	png.Encode(&png1, image.NewRGBA(image.Rect(0, 0, 8, 8))) //nolint:errcheck
	media, err := srv.Merchants.SaveUpload(ctx, aID, png1.Bytes())
	if err != nil {
		t.Fatal(err)
	}

	ids := strings.NewReplacer(":campaign", fmt.Sprint(camp.ID), ":order", fmt.Sprint(order.ID), ":topup", fmt.Sprint(topUp.ID))
	walk := []struct {
		method, route, path string // route as registered; path with A's ids
		form                url.Values
	}{
		{"GET", "/console/campaigns/:id", "/console/campaigns/:campaign", nil},
		{"GET", "/console/campaigns/:id/edit", "/console/campaigns/:campaign/edit", nil},
		{"POST", "/console/campaigns/:id", "/console/campaigns/:campaign", url.Values{"title": {"改"}, "commission": {"2"}, "price": {"10"}, "product_name": {"茶"}}},
		{"POST", "/console/campaigns/:id", "/console/campaigns/:campaign", url.Values{"title": {"改"}, "commission": {"x"}}}, // the parse-error path too
		{"POST", "/console/campaigns/:id/publish", "/console/campaigns/:campaign/publish", nil},
		{"POST", "/console/campaigns/:id/stock", "/console/campaigns/:campaign/stock", url.Values{"count": {"1"}, "direction": {"add"}}},
		{"POST", "/console/campaigns/:id/end", "/console/campaigns/:campaign/end", nil},
		{"POST", "/console/campaigns/:id/copy", "/console/campaigns/:campaign/copy", nil},
		{"POST", "/console/campaigns/:id/delete", "/console/campaigns/:campaign/delete", url.Values{"confirm": {"1"}}},
		{"GET", "/console/campaigns/:id/preview", "/console/campaigns/:campaign/preview", nil},
		{"GET", "/console/campaigns/:id/results", "/console/campaigns/:campaign/results", nil},
		{"GET", "/console/campaigns/:id/shipping.csv", "/console/campaigns/:campaign/shipping.csv", nil},
		{"POST", "/console/campaigns/:id/shipments", "/console/campaigns/:campaign/shipments", nil},
		{"GET", "/console/orders/:id", "/console/orders/:order", nil},
		{"POST", "/console/orders/:id/refund", "/console/orders/:order/refund", url.Values{"confirm": {"yes"}}},
		{"POST", "/console/orders/:id/ship", "/console/orders/:order/ship", url.Values{"carrier": {"顺丰"}, "tracking_no": {"SF1234"}}},
		{"GET", "/console/assets/topups/:id", "/console/assets/topups/:topup", nil},
		{"GET", "/console/assets/topups/:id/status", "/console/assets/topups/:topup/status", nil},
		{"GET", "/console/assets/topups/:id/qr.svg", "/console/assets/topups/:topup/qr.svg", nil},
		// Filters naming A's campaign.
		{"GET", "", "/console/orders?campaign=:campaign", nil},
		{"GET", "", "/console/orders.csv?campaign=:campaign", nil},
		{"GET", "", "/console/assets?campaign=:campaign", nil},
		{"GET", "", "/console/assets/statement.csv?campaign=:campaign", nil},
		// A's image under B's merchant id.
		{"GET", "/media/:merchant/:name", fmt.Sprintf("/media/%d/%s", bID, strings.TrimPrefix(media.URL(), fmt.Sprintf("/media/%d/", aID))), nil},
	}
	walked := map[string]bool{}
	for _, w := range walk {
		walked[w.method+" "+w.route] = true
		path := ids.Replace(w.path)
		var resp *http.Response
		var body string
		if w.method == "GET" {
			resp, body = b.get(path)
		} else {
			resp, body = b.post(path, w.form)
		}
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("B %s %s: %d, want 404\n%.300s", w.method, path, resp.StatusCode, body)
		}
		if w.method == "GET" {
			if resp, _ := a.get(ids.Replace(strings.Replace(w.path, fmt.Sprintf("/media/%d/", bID), fmt.Sprintf("/media/%d/", aID), 1))); resp.StatusCode != http.StatusOK {
				t.Errorf("A GET %s: %d, want 200 (the walk must use real ids)", path, resp.StatusCode)
			}
		}
	}
	checked := 0
	for _, r := range srv.app(nil).GetRoutes(true) {
		if !strings.Contains(r.Path, ":") || !(strings.HasPrefix(r.Path, "/console") || strings.HasPrefix(r.Path, "/media")) || r.Method == "HEAD" {
			continue
		}
		checked++
		if !walked[r.Method+" "+strings.ReplaceAll(r.Path, "<int>", "")] {
			t.Errorf("route %s %s takes an id but is not walked by this test", r.Method, r.Path)
		}
	}
	if checked < 14 {
		t.Errorf("only %d console routes with ids found: is the route listing broken?", checked)
	}

	// Nothing of A's changed.
	after, err := srv.Campaign.Get(ctx, aID, camp.ID)
	if err != nil || after.Title != camp.Title || after.Stock != 10 || after.Phase(after.EndsAt.Add(-1)) == "ended" {
		t.Errorf("A's campaign changed: %+v, %v", after, err)
	}
	if o, _ := srv.Campaign.Order(ctx, aID, order.ID); o.Status != "paid" {
		t.Errorf("A's order is %s", o.Status)
	}
}

// Forms without a valid CSRF token are refused: none, a forged one, another browser's, and
// one from before log-in. Pages behind log-in send a stranger to the log-in page.
func TestConsoleCSRF(t *testing.T) {
	srv, base := startStack(t, nil)
	b, _ := signUp(t, srv, base, "防伪店")
	other, _ := signUp(t, srv, base, "别家")
	form := url.Values{"title": {"新活动"}}
	for name, token := range map[string]string{
		"no token":              "",
		"forged token":          "AAAA" + strings.Repeat("x", 39),
		"another browser token": other.token(),
	} {
		f := url.Values{"title": form["title"], "_csrf": {token}}
		resp, body := b.post("/console/campaigns", f)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "请刷新页面后重试") {
			t.Errorf("%s: %d, want 403 with the explanation\n%.300s", name, resp.StatusCode, body)
		}
	}
	if resp, _ := b.post("/console/logout", url.Values{"_csrf": {""}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("log-out without a token: %d, want 403", resp.StatusCode)
	}
	// A token from the log-in page does not survive log-in: it is bound to the session.
	c := newBrowserClient(t, base)
	before := c.token()
	var email string
	if err := srv.DB.Get(&email, `SELECT email FROM merchant_accounts ORDER BY id DESC LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	if resp, body := c.post("/console/login", url.Values{"email": {email}, "password": {"secret-pass-1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("log-in: %d\n%s", resp.StatusCode, body)
	}
	if resp, _ := c.post("/console/account/password", url.Values{"_csrf": {before}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("token from before log-in: %d, want 403", resp.StatusCode)
	}
	if resp, _ := c.post("/console/account/password", url.Values{"current": {"x"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("fresh token after log-in: %d, want the form back (422)", resp.StatusCode)
	}
	// The same request with the header a script sends.
	req, _ := http.NewRequest(http.MethodPost, base+"/console/uploads", strings.NewReader(""))
	req.Header.Set("X-CSRF-Token", "nope")
	if resp, _ := b.do(req); resp.StatusCode != http.StatusForbidden {
		t.Errorf("upload with a bad header token: %d, want 403", resp.StatusCode)
	}

	stranger := newBrowserClient(t, base)
	resp, _ := stranger.get("/console/campaigns")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/console/login?next=") {
		t.Errorf("stranger: %d → %s, want the log-in page", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := stranger.post("/console/campaigns", url.Values{"title": {"x"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("stranger's post with a valid token: %d, want 401", resp.StatusCode)
	}
	resp, _ = newBrowserClient(t, base).get("/console/login")
	for _, sc := range resp.Header.Values("Set-Cookie") {
		if !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") {
			t.Errorf("cookie %q is not HttpOnly and SameSite=Strict", sc)
		}
	}
}
