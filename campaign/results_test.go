package campaign_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
	"time"

	"fenxiao/campaign"
	"fenxiao/campaign/merchant"
	"fenxiao/wallet"
)

// spreadCampaign seeds the share tree of the viral-spread chart:
//
//	A (direct, buys) ─┬─ B (buys) ── C (buys) ── D (visits only)
//	                  └─ E (buys)
//	F (direct, visits, shares, never buys) ── G (buys)
//
// Generation 1: A, F (1 buyer); 2: B, E, G (3 buyers); 3: C (1 buyer); 4: D (0).
func spreadCampaign(t *testing.T, e *env) (*campaign.Campaign, map[string]*campaign.User) {
	t.Helper()
	c := e.campaign(50)
	users := map[string]*campaign.User{}
	for _, n := range []string{"A", "B", "C", "D", "E", "F", "G"} {
		users[n] = e.user("用户" + n)
		if err := e.svc.RecordView(ctx, c, users[n].ID); err != nil {
			t.Fatal(err)
		}
	}
	bind := func(visitor, sharer string) {
		if _, err := e.svc.Bind(ctx, c, users[visitor], e.svc.ShareToken(c.ID, users[sharer].ID)); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.RecordShare(ctx, c, users[sharer].ID, "link"); err != nil {
			t.Fatal(err)
		}
	}
	e.buy(c, users["A"], 2)
	bind("B", "A")
	bind("E", "A")
	bind("G", "F")
	e.buy(c, users["B"], 1)
	e.buy(c, users["E"], 1)
	e.buy(c, users["G"], 3)
	bind("C", "B")
	e.buy(c, users["C"], 1)
	bind("D", "C")
	return c, users
}

func TestResultsOfASeededCampaign(t *testing.T) {
	e := newEnv(t, "1000")
	c, users := spreadCampaign(t, e)
	// One order left unpaid, and one refunded.
	if _, err := e.svc.CreateOrder(ctx, c.ID, users["D"], 1, ""); err != nil {
		t.Fatal(err)
	}
	orders, err := e.svc.Orders(ctx, e.merchant, campaign.OrderFilter{Buyer: "用户E"})
	if err != nil || len(orders.Rows) != 1 {
		t.Fatalf("orders of E: %+v, %v", orders, err)
	}
	if _, err := e.svc.Refund(ctx, e.merchant, orders.Rows[0].ID, "不想要了"); err != nil {
		t.Fatal(err)
	}

	r, err := e.svc.Results(ctx, e.merchant, c.ID, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	// Shares: A, B, C and F each shared a link; A's second link share in the same minute
	// counts once (one per sharer and channel a minute).
	if r.Visitors != 7 || r.Views != 7 || r.Shares != 4 || r.Buyers != 5 || r.OrderedBuyers != 6 || r.PaidOrders != 5 || r.UnitsSold != 8 {
		t.Errorf("funnel numbers %+v", r)
	}
	equal(t, "paid amount", r.PaidAmount, "704") // 8 units × 88
	equal(t, "refunded", r.RefundedAmount, "88")
	// Commissions: B, E through A (2 units), G through F (F never bought, but buy-before-share is
	// off: 3 units), C through B (1 unit): 6 units × 2.00.
	equal(t, "commissions", r.Commissions, "12")
	equal(t, "frozen", r.Frozen, "100")
	equal(t, "reserve", r.Reserve, "88")
	equal(t, "released", r.Released, "0")
	if len(r.Sharers) != 3 || r.Sharers[0].Name != "用户F" || r.Sharers[0].Units != 3 || r.Sharers[1].Name != "用户A" || r.Sharers[1].Bound != 2 {
		t.Errorf("leaderboard %+v", r.Sharers)
	}
	want := []campaign.Generation{{Gen: 1, People: 2, Buyers: 1}, {Gen: 2, People: 3, Buyers: 3}, {Gen: 3, People: 1, Buyers: 1}, {Gen: 4, People: 1, Buyers: 0}}
	if len(r.Generations) != len(want) {
		t.Fatalf("generations %+v, want %+v", r.Generations, want)
	}
	for i := range want {
		if r.Generations[i] != want[i] {
			t.Errorf("generation %d: %+v, want %+v", i+1, r.Generations[i], want[i])
		}
	}
	// K = buyers of generations 2..3 / buyers of generations 1..2 = 4 / 4.
	if !r.HasViral || r.Viral != 1 {
		t.Errorf("viral coefficient %v (%v), want 1", r.Viral, r.HasViral)
	}
	if !r.Hourly || len(r.Sales) == 0 {
		t.Fatalf("a 25-hour campaign has hourly sales, got %d points (hourly %v)", len(r.Sales), r.Hourly)
	}
	var units int
	for _, p := range r.Sales {
		units += p.Units
	}
	if units != 8 {
		t.Errorf("sales over time add up to %d units, want 8", units)
	}
	if _, err := e.svc.Results(ctx, e.merchant+1, c.ID, time.UTC); !errors.Is(err, campaign.ErrNotFound) {
		t.Errorf("another merchant's results: %v", err)
	}
}

// 成交额 counts refunds out, partial ones included (issue 16, issue 17 #11): the page shows what
// was paid, what was refunded of it and the net, and the stored figures the page reads agree
// with the orders (the audit checks them).
func TestResultsCountRefundsOut(t *testing.T) {
	e := newEnv(t, "1000")
	c, _ := spreadCampaign(t, e)
	refund := func(buyer string, amount string) {
		t.Helper()
		orders, err := e.svc.Orders(ctx, e.merchant, campaign.OrderFilter{Buyer: buyer})
		if err != nil || len(orders.Rows) != 1 {
			t.Fatalf("orders of %s: %+v, %v", buyer, orders, err)
		}
		if _, err := e.svc.RefundPart(ctx, e.merchant, orders.Rows[0].ID, d(amount), "退一部分"); err != nil {
			t.Fatal(err)
		}
	}
	refund("用户G", "100") // G paid 3 × 88 = 264: a partial refund
	refund("用户E", "88")  // E's whole order
	refund("用户G", "20")  // and a second partial refund of G's order
	r, err := e.svc.Results(ctx, e.merchant, c.ID, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "paid", r.PaidAmount, "704")
	equal(t, "refunded", r.RefundedAmount, "208")
	equal(t, "net", r.NetAmount(), "496")
	if r.Refunds != 2 || r.PaidOrders != 5 || r.Buyers != 5 {
		t.Errorf("refunded orders %d, paid orders %d, buyers %d; want 2, 5, 5", r.Refunds, r.PaidOrders, r.Buyers)
	}
	auditClean(t, e, "after partial refunds")
}

func TestSpread(t *testing.T) {
	g := func(buyers ...int) []campaign.Generation {
		var out []campaign.Generation
		for i, b := range buyers {
			out = append(out, campaign.Generation{Gen: i + 1, People: b, Buyers: b})
		}
		return out
	}
	for _, tc := range []struct {
		gens []campaign.Generation
		k    float64
		ok   bool
	}{
		{nil, 0, false},
		{g(0, 0), 0, false},
		{g(10), 0, true},         // nobody came through a share
		{g(10, 20, 40), 2, true}, // doubling every generation
		{g(8, 4, 2, 1), 0.5, true},
		{g(4, 2, 0), 0.5, true}, // an empty last generation does not count
		{g(0, 3), 3, true},      // a buyer brought by a non-buying sharer
	} {
		k, ok := campaign.Spread(tc.gens)
		if k != tc.k || ok != tc.ok {
			t.Errorf("Spread(%v) = %v, %v; want %v, %v", tc.gens, k, ok, tc.k, tc.ok)
		}
	}
}

func TestOrderListFiltersAndExport(t *testing.T) {
	e := newEnv(t, "1000")
	c, users := spreadCampaign(t, e)
	all, err := e.svc.Orders(ctx, e.merchant, campaign.OrderFilter{CampaignID: c.ID})
	if err != nil || len(all.Rows) != 5 {
		t.Fatalf("orders %d, %v", len(all.Rows), err)
	}
	for _, tc := range []struct {
		name string
		f    campaign.OrderFilter
		want int
	}{
		{"status paid", campaign.OrderFilter{Status: campaign.Paid}, 5},
		{"status refunded", campaign.OrderFilter{Status: campaign.Refunded}, 0},
		{"buyer nickname part", campaign.OrderFilter{Buyer: "户G"}, 1},
		{"buyer openid", campaign.OrderFilter{Buyer: users["C"].OpenID}, 1},
		{"sharer", campaign.OrderFilter{Sharer: "用户A"}, 2},
		{"like wildcards are literal", campaign.OrderFilter{Buyer: "%"}, 0},
		{"from tomorrow", campaign.OrderFilter{From: clock.Now().Add(24 * time.Hour)}, 0},
		{"until tomorrow", campaign.OrderFilter{To: clock.Now().Add(24 * time.Hour)}, 5},
	} {
		p, err := e.svc.Orders(ctx, e.merchant, tc.f)
		if err != nil || len(p.Rows) != tc.want {
			t.Errorf("%s: %d orders (%v), want %d", tc.name, len(p.Rows), err, tc.want)
		}
	}
	p1, err := e.svc.Orders(ctx, e.merchant, campaign.OrderFilter{Limit: 2})
	if err != nil || len(p1.Rows) != 2 || p1.Next == 0 {
		t.Fatalf("first page %+v, %v", p1, err)
	}
	p2, _ := e.svc.Orders(ctx, e.merchant, campaign.OrderFilter{Limit: 2, Before: p1.Next})
	p3, _ := e.svc.Orders(ctx, e.merchant, campaign.OrderFilter{Limit: 2, Before: p2.Next})
	if len(p2.Rows) != 2 || len(p3.Rows) != 1 || p3.Next != 0 || p2.Rows[0].ID >= p1.Rows[1].ID {
		t.Fatalf("pages: %d, %d (next %d)", len(p2.Rows), len(p3.Rows), p3.Next)
	}
	if _, err := e.svc.Orders(ctx, e.merchant+1, campaign.OrderFilter{CampaignID: c.ID}); !errors.Is(err, campaign.ErrNotFound) {
		t.Errorf("filtering by another merchant's campaign: %v", err)
	}

	var buf bytes.Buffer
	if err := e.svc.ExportOrders(ctx, e.merchant, campaign.OrderFilter{CampaignID: c.ID}, time.UTC, &buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("\uFEFF")) {
		t.Error("CSV without byte-order mark: Excel would show mojibake")
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(buf.String(), "\uFEFF"))).ReadAll()
	if err != nil || len(rows) != 6 || rows[0][0] != "订单号" {
		t.Fatalf("CSV: %d rows, %v\n%s", len(rows), err, buf.String())
	}
	if campaign.CSVSafe("=HYPERLINK(1)") != "'=HYPERLINK(1)" || campaign.CSVSafe("张三") != "张三" {
		t.Error("CSVSafe does not defuse formulas")
	}

	buf.Reset()
	if err := e.svc.ExportStatement(ctx, e.merchant, wallet.Filter{Kinds: []wallet.TransferKind{wallet.Freeze}}, time.UTC, &buf); err != nil {
		t.Fatal(err)
	}
	if rows, _ := csv.NewReader(strings.NewReader(strings.TrimPrefix(buf.String(), "\uFEFF"))).ReadAll(); len(rows) != 2 || rows[1][1] != "冻结到活动" || rows[1][2] != c.Title {
		t.Fatalf("statement CSV %q", rows)
	}
}

func TestUploads(t *testing.T) {
	e := newEnv(t, "")
	var pngBuf bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	img.Set(1, 1, color.RGBA{255, 0, 0, 255})
	if err := png.Encode(&pngBuf, img); err != nil {
		t.Fatal(err)
	}
	u, err := e.svc.Merchants().SaveUpload(ctx, e.merchant, pngBuf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if u.Width != 40 || u.Height != 30 || u.ContentType != "image/png" || !strings.HasSuffix(u.URL(), ".png") {
		t.Fatalf("upload %+v %s", u, u.URL())
	}
	again, err := e.svc.Merchants().SaveUpload(ctx, e.merchant, pngBuf.Bytes())
	if err != nil || again.URL() != u.URL() {
		t.Fatalf("the same image twice: %v, %v", again, err)
	}
	name := strings.TrimPrefix(u.URL(), "/media/"+strings.Split(u.URL(), "/")[2]+"/")
	got, err := e.svc.Merchants().Media(ctx, e.merchant, name)
	if err != nil || !bytes.Equal(got.Data, pngBuf.Bytes()) {
		t.Fatalf("media %s: %v", name, err)
	}
	for _, bad := range []string{strings.Replace(name, ".png", ".jpg", 1), "../../etc/passwd", strings.Repeat("0", 64) + ".png"} {
		if _, err := e.svc.Merchants().Media(ctx, e.merchant, bad); !errors.Is(err, campaign.ErrNotFound) {
			t.Errorf("media %q: %v, want not found", bad, err)
		}
	}
	if _, err := e.svc.Merchants().Media(ctx, e.merchant+1, name); !errors.Is(err, campaign.ErrNotFound) {
		t.Errorf("another merchant's path finds the image: %v", err)
	}

	for what, tc := range map[string]struct {
		data []byte
		want string
	}{
		"empty":     {nil, "请选择图片文件"},
		"svg":       {[]byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), "只能上传 PNG、JPG、GIF 或 WebP"},
		"text":      {[]byte("hello"), "只能上传"},
		"truncated": {pngBuf.Bytes()[:20], "已损坏"},
		"too big":   {append(append([]byte{}, pngBuf.Bytes()...), make([]byte, merchant.MaxUploadSize)...), "不能超过 2 MB"},
	} {
		_, err := e.svc.Merchants().SaveUpload(ctx, e.merchant, tc.data)
		if err == nil {
			t.Errorf("%s: accepted", what)
			continue
		}
		wantField(t, err, "file", tc.want)
	}
}

func TestWeChatSettingsForm(t *testing.T) {
	e := newEnv(t, "")
	info, err := e.svc.Merchants().WeChatInfo(ctx, e.merchant)
	if err != nil || !info.Configured || info.AppID != e.creds.AppID || info.Cert == nil || !info.HasAPIKey {
		t.Fatalf("info %+v, %v", info, err)
	}
	if !strings.HasSuffix(info.TopUpNotifyURL, "/topup") || !strings.Contains(info.CallbackURL, "/wechat/oa/") {
		t.Errorf("URLs to paste into WeChat: %+v", info)
	}
	// Only the appid and mch_id typed again: the stored secrets stay.
	if err := e.svc.Merchants().SaveWeChat(ctx, e.merchant, merchant.WeChatForm{AppID: e.creds.AppID, MchID: e.creds.MchID}); err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Merchants().TestWeChat(ctx, e.merchant)
	if err != nil || !res.OK() {
		t.Fatalf("test connection: %+v, %v", res, err)
	}
	good := merchant.WeChatForm{AppID: e.creds.AppID, MchID: e.creds.MchID}
	for _, tc := range []struct {
		edit        func(*merchant.WeChatForm)
		field, want string
	}{
		{func(f *merchant.WeChatForm) { f.AppID = "" }, "app_id", "请填写公众号 AppID"},
		{func(f *merchant.WeChatForm) { f.AppID = "gh_12345" }, "app_id", "wx 开头"},
		{func(f *merchant.WeChatForm) { f.AppSecret = "short" }, "app_secret", "32 位"},
		{func(f *merchant.WeChatForm) { f.Token = "a b" }, "token", "3 到 32 位"},
		{func(f *merchant.WeChatForm) { f.EncodingAESKey = "short" }, "aes_key", "43 位"},
		{func(f *merchant.WeChatForm) { f.MchID = "" }, "mch_id", "请填写微信支付商户号"},
		{func(f *merchant.WeChatForm) { f.MchID = "12ab" }, "mch_id", "8 到 10 位数字"},
		{func(f *merchant.WeChatForm) { f.APIKey = "key" }, "api_key", "32 位"},
		{func(f *merchant.WeChatForm) { f.CertP12 = []byte("not a p12") }, "cert", "证书无法读取"},
		{func(f *merchant.WeChatForm) { f.MchID = "1234567890" }, "cert", "与新商户号不匹配"},
	} {
		f := good
		tc.edit(&f)
		wantField(t, e.svc.Merchants().SaveWeChat(ctx, e.merchant, f), tc.field, tc.want)
	}
	// Another merchant's AppID and a wrong secret: WeChat is asked, and refuses, before any
	// binding; the settings that were there stay and still work.
	other := newEnv(t, "")
	wantField(t, other.svc.Merchants().SaveWeChat(ctx, other.merchant, merchant.WeChatForm{AppID: e.creds.AppID, MchID: other.creds.MchID}), "app_secret", "AppID 与 AppSecret 不匹配")
	bad := good
	bad.AppSecret = strings.Repeat("0", 32)
	wantField(t, e.svc.Merchants().SaveWeChat(ctx, e.merchant, bad), "app_secret", "AppID 与 AppSecret 不匹配")
	if res, err := e.svc.Merchants().TestWeChat(ctx, e.merchant); err != nil || !res.OK() {
		t.Fatalf("test after a refused save: %+v, %v", res, err)
	}
}
