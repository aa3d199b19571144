package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"fenxiao/campaign"
	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// browser is a console visitor over plain HTTP: a cookie jar, redirects not followed (tests
// look at them), and forms posted with the CSRF token of the page they came from.
type browser struct {
	t    testing.TB
	base string
	http *http.Client
}

func newBrowserClient(t testing.TB, base string) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, http: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	// The view engine prints an error inside a layout's {{embed}} into the page and answers
	// 200: a page with a template error must fail the test that fetched it.
	if m := templateError.FindString(string(body)); m != "" {
		b.t.Fatalf("%s %s: template error in the page: %s", req.Method, req.URL.Path, m)
	}
	return resp, string(body)
}

var templateError = regexp.MustCompile(`template: [^\n<]*executing[^\n<]*`)

func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	return b.do(req)
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)

// token is the CSRF token of this browser's current session, read from a console page.
func (b *browser) token() string {
	b.t.Helper()
	_, body := b.get("/console/login")
	if m := csrfMeta.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	_, body = b.get("/console/account")
	m := csrfMeta.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatalf("no CSRF token on the page:\n%s", body)
	}
	return m[1]
}

// post submits a form with this browser's CSRF token (unless form sets _csrf itself).
func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["_csrf"]; !ok {
		form.Set("_csrf", b.token())
	}
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// postMultipart submits a multipart form with files (field → name and bytes).
func (b *browser) postMultipart(path string, form url.Values, files map[string][]byte) (*http.Response, string) {
	b.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	w.WriteField("_csrf", b.token()) //nolint:errcheck
	for k, vs := range form {
		for _, v := range vs {
			w.WriteField(k, v) //nolint:errcheck
		}
	}
	for field, data := range files {
		fw, _ := w.CreateFormFile(field, field+".bin")
		fw.Write(data) //nolint:errcheck
	}
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return b.do(req)
}

var signups atomic.Int64

// signUp opens a new merchant account and returns its browser and merchant id.
func signUp(t testing.TB, srv *server, base, shop string) (*browser, int64) {
	t.Helper()
	b := newBrowserClient(t, base)
	email := fmt.Sprintf("shop%d-%d@example.com", time.Now().UnixNano()%1e9, signups.Add(1))
	resp, body := b.post("/console/signup", url.Values{"shop_name": {shop}, "email": {email}, "password": {"secret-pass-1"}, "confirm": {"secret-pass-1"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-up: %d\n%s", resp.StatusCode, body)
	}
	var id int64
	if err := srv.DB.Get(&id, `SELECT merchant_id FROM merchant_accounts WHERE email = $1`, email); err != nil {
		t.Fatal(err)
	}
	// Tests sign up many shops from this one loopback address; the per-address allowance
	// has its own tests (TestSignUpThrottledPerAddress, TestConsoleSignUpThrottle).
	if _, err := srv.DB.Exec(`DELETE FROM console_throttle WHERE key LIKE 'signup|%'`); err != nil {
		t.Fatal(err)
	}
	return b, id
}

// fieldError is the message shown beside a form field: the err-NAME element inside the
// field-NAME block.
func fieldError(page, name string) string {
	start := strings.Index(page, `id="field-`+name+`"`)
	if start < 0 {
		return ""
	}
	rest := page[start:]
	end := strings.Index(rest[1:], `id="field-`) // the next field starts here
	if end < 0 {
		end = len(rest) - 1
	}
	block := rest[:end+1]
	i := strings.Index(block, `id="err-`+name+`">`)
	if i < 0 {
		return ""
	}
	msg := block[i+len(`id="err-`+name+`">`):]
	msg, _, _ = strings.Cut(msg, "</div>")
	return html.UnescapeString(msg)
}

// flashOf follows a redirect and returns the flash message shown there.
func (b *browser) flashOf(resp *http.Response) string {
	b.t.Helper()
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("want a redirect, got %d", resp.StatusCode)
	}
	_, body := b.get(resp.Header.Get("Location"))
	m := regexp.MustCompile(`<div class="toast toast-\w+" role="status">(.*?)</div>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(m[1], "")) // the text of an action link too
}

// merchantSetup gives a merchant WeChat settings in the simulator, assets and a published
// campaign with one paid order; it returns the campaign and the order.
func merchantSetup(t testing.TB, srv *server, m int64, stock int) (*campaign.Campaign, *campaign.Order, wechat.Credentials) {
	t.Helper()
	ctx := context.Background()
	s, _ := testSim()
	creds, err := s.AddMerchant(sim.MerchantConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Merchants.SetWeChat(ctx, m, creds); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Wallet.TopUpAssets(ctx, nil, m, decimal.NewFromInt(1000), "test-funds", ""); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c, err := srv.Campaign.Create(ctx, m, campaign.Settings{Title: "隔离测试", StartsAt: now.Add(-time.Hour), EndsAt: now.Add(24 * time.Hour),
		Commission: decimal.NewFromInt(2), ProductName: "茶", Price: decimal.NewFromInt(10)}, stock)
	if err != nil {
		t.Fatal(err)
	}
	if c, err = srv.Campaign.Publish(ctx, m, c.ID); err != nil {
		t.Fatal(err)
	}
	su, err := s.AddUser(sim.User{AppID: creds.AppID, Nickname: "买家"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := srv.Campaign.SignIn(ctx, m, wechat.OAuthToken{OpenID: su.OpenID}, &wechat.User{OpenID: su.OpenID, Nickname: "买家"})
	if err != nil {
		t.Fatal(err)
	}
	co, err := srv.Campaign.CreateOrder(ctx, c.ID, u, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Pay(strings.TrimPrefix(co.Pay.Package, "prepay_id="), su.OpenID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		o, err := srv.Campaign.Order(ctx, m, co.Order.ID)
		if err != nil {
			t.Fatal(err)
		}
		if o.Status == campaign.Paid {
			return c, o, creds
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %d still %s", o.ID, o.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// seedPurchases makes the rest of the journey's share tree after A's purchase: B opens A's
// link and buys 1; C opens B's link and buys 1; F only visits and shares; G opens F's link and
// buys 1. Each visitor's view and each share are recorded, as the H5 pages do.
func seedPurchases(t *testing.T, srv *server, s *sim.Server, creds wechat.Credentials, c *campaign.Campaign, a *campaign.User) map[string]*campaign.Order {
	t.Helper()
	ctx := context.Background()
	svc := srv.Campaign
	users := map[string]*campaign.User{"A": a}
	for _, n := range []string{"B", "C", "F", "G"} {
		su, err := s.AddUser(sim.User{AppID: creds.AppID, Nickname: "买家" + n, Subscribed: true})
		if err != nil {
			t.Fatal(err)
		}
		u, err := svc.SignIn(ctx, c.MerchantID, wechat.OAuthToken{OpenID: su.OpenID}, &wechat.User{OpenID: su.OpenID, Nickname: "买家" + n})
		if err != nil {
			t.Fatal(err)
		}
		users[n] = u
		if err := svc.RecordView(ctx, c, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	share := func(visitor, sharer string) {
		if err := svc.RecordShare(ctx, c, users[sharer].ID, "link"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Bind(ctx, c, users[visitor], svc.ShareToken(c.ID, users[sharer].ID)); err != nil {
			t.Fatal(err)
		}
	}
	orders := map[string]*campaign.Order{}
	buy := func(n string, qty int) {
		co, err := svc.CreateOrder(ctx, c.ID, users[n], qty, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Pay(strings.TrimPrefix(co.Pay.Package, "prepay_id="), users[n].OpenID); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			o, err := svc.Order(ctx, c.MerchantID, co.Order.ID)
			if err != nil {
				t.Fatal(err)
			}
			if o.Status == campaign.Paid {
				orders[n] = o
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("order of %s is %s", n, o.Status)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	share("B", "A")
	buy("B", 1)
	share("C", "B")
	buy("C", 1)
	share("G", "F")
	buy("G", 1)
	return orders
}

// writePNG writes a diagonal gradient image, a stand-in for a merchant's photo.
func writePNG(t *testing.T, dir, name string, w, h int, from, to color.RGBA) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			f := float64(x+y) / float64(w+h)
			mix := func(a, b uint8) uint8 { return uint8(float64(a)*(1-f) + float64(b)*f) }
			img.Set(x, y, color.RGBA{mix(from.R, to.R), mix(from.G, to.G), mix(from.B, to.B), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// formTime is how a browser sends a datetime-local field.
const formTime = "2006-01-02T15:04"

// formValues is what a browser submits of the form on page whose action is action, unchanged:
// its inputs (checked boxes only, no buttons or files), textareas and selected options.
func formValues(t testing.TB, page, action string) url.Values {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	attr := func(n *html.Node, key string) (string, bool) {
		for _, a := range n.Attr {
			if a.Key == key {
				return a.Val, true
			}
		}
		return "", false
	}
	var form *html.Node
	for n := range doc.Descendants() {
		if a, _ := attr(n, "action"); n.DataAtom == atom.Form && a == action {
			form = n
			break
		}
	}
	if form == nil {
		t.Fatalf("no form posting to %s on the page:\n%s", action, page)
	}
	v := url.Values{}
	for n := range form.Descendants() {
		name, ok := attr(n, "name")
		if !ok || n.Type != html.ElementNode {
			continue
		}
		_, disabled := attr(n, "disabled")
		if disabled {
			continue
		}
		switch n.DataAtom {
		case atom.Input:
			typ, _ := attr(n, "type")
			_, checked := attr(n, "checked")
			val, _ := attr(n, "value")
			switch typ {
			case "submit", "button", "file", "reset", "image":
			case "checkbox", "radio":
				if checked {
					if val == "" {
						val = "on"
					}
					v.Add(name, val)
				}
			default:
				v.Add(name, val)
			}
		case atom.Textarea:
			var text strings.Builder
			for c := range n.Descendants() {
				if c.Type == html.TextNode {
					text.WriteString(c.Data)
				}
			}
			v.Add(name, strings.TrimPrefix(text.String(), "\n"))
		case atom.Select:
			for o := range n.Descendants() {
				if _, sel := attr(o, "selected"); o.DataAtom == atom.Option && sel {
					val, _ := attr(o, "value")
					v.Add(name, val)
				}
			}
		}
	}
	return v
}

// editForm is the edit form of campaign id as the console shows it to b.
func editForm(t testing.TB, b *browser, id int64) url.Values {
	t.Helper()
	resp, page := b.get(fmt.Sprintf("/console/campaigns/%d/edit", id))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("edit page of campaign %d: %d\n%s", id, resp.StatusCode, page)
	}
	return formValues(t, page, fmt.Sprintf("/console/campaigns/%d", id))
}
