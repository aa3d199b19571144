package console

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// formCtx is a Fiber context for a POST of body (form-urlencoded) to path?query, as the
// console's handlers see it.
func formCtx(app *fiber.App, query, body string) (*fiber.Ctx, func()) {
	rc := &fasthttp.RequestCtx{}
	rc.Request.Header.SetMethod(fiber.MethodPost)
	rc.Request.SetRequestURI("/console/campaigns?" + query)
	rc.Request.Header.SetContentType(fiber.MIMEApplicationForm)
	rc.Request.SetBodyString(body)
	c := app.AcquireCtx(rc)
	return c, func() { app.ReleaseCtx(c) }
}

// FuzzCampaignForm: whatever is posted as the campaign form, and whatever query string the
// statement and order lists get, the console's parsers never panic; every message they give
// is for a field of the form; an amount they accept is non-negative with at most two decimals;
// a count that parsed is what the digits say (or, beyond int, the nearest int, which the
// service's bounds refuse); the form shown again holds every field.
func FuzzCampaignForm(f *testing.F) {
	valid := url.Values{"title": {"春茶"}, "starts_at": {"2026-03-01T10:00"}, "ends_at": {"2026-03-02T10:00"}, "commission": {"2.00"},
		"product_name": {"龙井"}, "price": {"68"}, "stock": {"10"}, "max_per_order": {"5"}, "buyer_limit": {"0"}, "hold_days": {"7"},
		"regions": {"浙江省", "上海市"}, "product_images": {"/media/1/a.png"}, "button_label": {"客服"}, "button_link": {"https://example.com"},
		"show_participants": {"on"}, "starts_at_exact": {"2026-03-01T10:00:00.123456789+08:00"}}
	f.Add(valid.Encode(), "kind=topup&campaign=1&from=2026-01-01&to=2026-01-31&before=99")
	for _, kv := range [][2]string{{"stock", "2147483648"}, {"stock", strings.Repeat("9", 300)}, {"buyer_limit", "-1"}, {"stock", "1e3"},
		{"price", "1e999999999"}, {"commission", "-0.5"}, {"price", "12.345"}, {"starts_at", "2026-13-45T99:99"}, {"ends_at", "2026-03-02T10:00:61"},
		{"starts_at_exact", "not a time"}, {"button_label", ""}, {"description", "\x00\xff\n"}} {
		v := url.Values{}
		for k, vs := range valid {
			v[k] = vs
		}
		v.Set(kv[0], kv[1])
		f.Add(v.Encode(), "campaign="+strings.Repeat("9", 30)+"&before=-1&status=paid&from=x")
	}
	f.Add("%zz&&=&stock=&price=%E0%A4%A", "%")
	app := fiber.New()
	fields := map[string]bool{}
	for _, k := range formFields {
		fields[k] = true
	}
	loc := time.FixedZone("CST", 8*3600)
	f.Fuzz(func(t *testing.T, body, query string) {
		c, release := formCtx(app, query, body)
		defer release()
		set, stock, form, errs := parseCampaignForm(c, loc)
		for k, msg := range errs {
			if !fields[k] || msg == "" {
				t.Fatalf("message %q for %q, not a field of the form", msg, k)
			}
		}
		for _, k := range formFields {
			if _, ok := form.V[k]; !ok {
				t.Fatalf("the form shown again lacks %q", k)
			}
		}
		for k, d := range map[string]any{"commission": set.Commission, "price": set.Price} {
			if errs[k] != "" {
				continue
			}
			amount := set.Commission
			if k == "price" {
				amount = set.Price
			}
			if amount.IsNegative() || !amount.Equal(amount.Truncate(2)) {
				t.Fatalf("%s %v accepted from %q", k, d, form.V[k])
			}
		}
		if errs["stock"] == "" && form.V["stock"] != "" {
			if n, msg := parseCount(form.V["stock"]); n != stock || msg != "" {
				t.Fatalf("stock %q: %d, parsed again %d %q", form.V["stock"], stock, n, msg)
			}
		}
		for _, k := range []string{"starts_at", "ends_at"} {
			tm := set.StartsAt
			if k == "ends_at" {
				tm = set.EndsAt
			}
			if errs[k] == "" && (form.V[k] == "") != tm.IsZero() {
				t.Fatalf("%s %q read as %v", k, form.V[k], tm)
			}
		}
		if len(set.Buttons) > 4 {
			t.Fatalf("%d buttons from a form that has 4 rows", len(set.Buttons))
		}
		// The list filters of the same request.
		sq := parseStatementQuery(c)
		_ = sq.filter(loc)
		_ = sq.values()
		oq := parseOrderQuery(c)
		of := oq.filter(loc, 50)
		if of.Status != "" && !of.Status.Valid() {
			t.Fatalf("order filter status %q", of.Status)
		}
		_ = oq.values()
	})
}
