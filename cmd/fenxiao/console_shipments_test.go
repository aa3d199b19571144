package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"fenxiao/campaign"
	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

var parcelTo = campaign.Contact{Name: "王小明", Mobile: "13800138000", Province: "浙江省", City: "杭州市", District: "西湖区", Detail: "龙井路 1 号", Remark: "放门口"}

// buyPaid is a paid order of campaign c by a new buyer, with ct.
func buyPaid(t *testing.T, srv *server, m int64, c *campaign.Campaign, ct campaign.Contact) *campaign.Order {
	t.Helper()
	ctx := context.Background()
	s, _ := testSim()
	var appID string
	if err := srv.DB.Get(&appID, `SELECT app_id FROM merchant_wechat WHERE merchant_id = $1`, m); err != nil {
		t.Fatal(err)
	}
	su, err := s.AddUser(sim.User{AppID: appID, Nickname: "收件人"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := srv.Campaign.SignIn(ctx, m, wechat.OAuthToken{OpenID: su.OpenID}, &wechat.User{OpenID: su.OpenID, Nickname: "收件人"})
	if err != nil {
		t.Fatal(err)
	}
	co, err := srv.Campaign.BuyWith(ctx, c, u, campaign.OrderForm{Qty: 1, Contact: ct}, "127.0.0.1")
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
			return o
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %d not paid within 10 s", o.ID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var reportRow = regexp.MustCompile(`(?s)<tr data-line="(\d+)" data-outcome="(\w+)">(.*?)</tr>`)

// report is the uploaded file's report: line → outcome and the row's text.
func report(t *testing.T, page string) map[string][2]string {
	t.Helper()
	out := map[string][2]string{}
	for _, m := range reportRow.FindAllStringSubmatch(page, -1) {
		out[m[1]] = [2]string{m[2], regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[3], "")}
	}
	if len(out) == 0 {
		t.Fatalf("no report rows:\n%s", page)
	}
	return out
}

// Acceptance 2 of issue 16: a bulk CSV (GBK, as Excel saves it on Chinese Windows) with a
// wrong order number, another merchant's order, a refunded order and a duplicate row reports
// each line — another merchant's order in exactly the words of an unknown one — and ships
// the rest; uploading again (UTF-8 with a BOM, no heading) changes nothing; the shipping
// export lists what is 待发货 and comes back filled in.
func TestConsoleBulkShipping(t *testing.T) {
	ctx := context.Background()
	srv, base := startStack(t, nil)
	b, m := signUp(t, srv, base, "批量发货店")
	published, _, _ := merchantSetup(t, srv, m, 10)
	set := published.Settings
	set.Title, set.Fulfilment = "快递活动", campaign.Delivery
	c, err := srv.Campaign.Create(ctx, m, set, 20)
	if err != nil {
		t.Fatal(err)
	}
	if c, err = srv.Campaign.Publish(ctx, m, c.ID); err != nil {
		t.Fatal(err)
	}
	_, other := signUp(t, srv, base, "别家店")
	otherCamp, _, _ := merchantSetup(t, srv, other, 10)
	foreign := fulfilOrder(t, srv, other, otherCamp, campaign.Delivery, parcelTo)
	var o [8]*campaign.Order
	for i := range o {
		o[i] = buyPaid(t, srv, m, c, parcelTo)
	}
	if _, err := srv.Campaign.Refund(ctx, m, o[3].ID, "不要了"); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{4, 5} {
		if _, err := srv.Campaign.Ship(ctx, m, o[i].ID, "圆通速递", "YT0000000001"); err != nil {
			t.Fatal(err)
		}
	}

	_, page := b.get(fmt.Sprintf("/console/orders?campaign=%d&fulfil=to_ship", c.ID))
	if !strings.Contains(page, `id="shipments-form"`) || strings.Contains(page, o[4].OutTradeNo) || !strings.Contains(page, o[0].OutTradeNo) {
		t.Fatalf("the campaign's 待发货 page lacks the upload form or lists a shipped order")
	}
	file := strings.Join([]string{
		"订单号,快递公司,快递单号",
		o[0].OutTradeNo + ",顺丰速运,SF1001",       // 2 applied
		"FX0000000000000000000000,顺丰速运,SF1002", // 3 unknown
		foreign.OutTradeNo + ",顺丰速运,SF1003",    // 4 another merchant's
		o[3].OutTradeNo + ",顺丰速运,SF1004",       // 5 refunded
		o[0].OutTradeNo + ",顺丰速运,SF1005",       // 6 duplicate of 2
		o[1].OutTradeNo + ",,SF1006",           // 7 no carrier
		o[4].OutTradeNo + ",圆通速递,YT0000000001", // 8 shipped, same number
		o[5].OutTradeNo + ",圆通速递,YT0000000002", // 9 shipped, another number
		o[6].OutTradeNo + ",,",                 // 10 not filled in
		o[7].OutTradeNo + ",中通快递,7.73012E+14",  // 11 spoilt by the spreadsheet
		",,",
	}, "\r\n")
	gbk, err := simplifiedchinese.GBK.NewEncoder().String(file)
	if err != nil {
		t.Fatal(err)
	}
	resp, page := b.postMultipart(fmt.Sprintf("/console/campaigns/%d/shipments", c.ID), nil, map[string][]byte{"file": []byte(gbk)})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("upload: %d %q", resp.StatusCode, b.flashOf(resp))
	}
	rep := report(t, page)
	for line, want := range map[string][2]string{
		"2":  {"applied", "已发货"},
		"3":  {"refused", "订单不存在"},
		"4":  {"refused", "订单不存在"},
		"5":  {"refused", "订单已退款"},
		"6":  {"refused", "与第 2 行是同一订单"},
		"7":  {"refused", "请填写快递公司"},
		"8":  {"unchanged", "此前已按相同单号发货"},
		"9":  {"refused", "订单已发货（圆通速递 YT0000000001）"},
		"10": {"skipped", "已跳过"},
		"11": {"refused", "科学计数法"},
	} {
		if got := rep[line]; got[0] != want[0] || !strings.Contains(got[1], want[1]) {
			t.Errorf("line %s: %s %q, want %s …%s…", line, got[0], got[1], want[0], want[1])
		}
	}
	if len(rep) != 10 {
		t.Errorf("%d report rows, want 10 (the empty line dropped)", len(rep))
	}
	// Unknown and foreign read the same, after the order number cell.
	if strings.SplitAfter(rep["3"][1], "SF1002")[1] != strings.SplitAfter(rep["4"][1], "SF1003")[1] {
		t.Errorf("a foreign order reads %q, an unknown one %q", rep["4"][1], rep["3"][1])
	}
	if !strings.Contains(page, "已发货 1 单") {
		t.Errorf("summary: %s", regexp.MustCompile(`(?s)<p id="shipments-summary">.*?</p>`).FindString(page))
	}
	if f, _ := srv.Campaign.Order(ctx, other, foreign.ID); f.FulfilState == nil || *f.FulfilState != campaign.ToShip {
		t.Fatal("another merchant's order was shipped")
	}
	if s, _ := srv.Campaign.Order(ctx, m, o[5].ID); s.TrackingNo != "YT0000000001" {
		t.Fatalf("a shipped order's number was replaced by %s", s.TrackingNo)
	}

	// The same rows again, UTF-8 with a byte-order mark and no heading: nothing new.
	again := "\uFEFF" + o[0].OutTradeNo + ",顺丰速运,SF1001\n"
	_, page = b.postMultipart(fmt.Sprintf("/console/campaigns/%d/shipments", c.ID), nil, map[string][]byte{"file": []byte(again)})
	if rep := report(t, page); rep["1"][0] != "unchanged" {
		t.Fatalf("uploading again: %v", rep)
	}
	var told int
	if err := srv.DB.Get(&told, `SELECT count(*) FROM notifications WHERE merchant_id = $1 AND msg_key = $2`, m, fmt.Sprintf("shipped:order:%d", o[0].ID)); err != nil || told > 1 {
		t.Fatalf("the buyer was told %d times (%v)", told, err)
	}

	// Too many rows, and another merchant's campaign.
	big := strings.Repeat(o[1].OutTradeNo+",顺丰速运,SF2000\n", campaign.MaxShipmentRows+1)
	resp, _ = b.postMultipart(fmt.Sprintf("/console/campaigns/%d/shipments", c.ID), nil, map[string][]byte{"file": []byte(big)})
	if msg := b.flashOf(resp); !strings.Contains(msg, "一次最多上传 2000 行") {
		t.Fatalf("too many rows: %q", msg)
	}
	if resp, _ := b.postMultipart(fmt.Sprintf("/console/campaigns/%d/shipments", otherCamp.ID), nil, map[string][]byte{"file": []byte(again)}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("uploading to another merchant's campaign: %d", resp.StatusCode)
	}

	// The shipping export: what is 待发货, with the address and the mobile kept as text; filled
	// in and uploaded back as it is.
	resp, body := b.get(fmt.Sprintf("/console/campaigns/%d/shipping.csv", c.ID))
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "\uFEFF") {
		t.Fatalf("shipping CSV: %d", resp.StatusCode)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\uFEFF"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "订单号,商品,数量,收货人,手机号,收货地址,备注,支付时间,快递公司,快递单号" || len(rows) != 1+4 { // o[1], o[2] (not in the file), o[6], o[7]
		t.Fatalf("shipping CSV: %q", rows)
	}
	for _, r := range rows[1:] {
		if r[4] != "13800138000\t" || r[5] != "浙江省杭州市西湖区 龙井路 1 号" || r[3] != "王小明" || r[6] != "放门口" {
			t.Fatalf("shipping CSV row %q", r)
		}
		r[8], r[9] = "韵达快递", "YD"+r[0][len(r[0])-8:]
	}
	var filled strings.Builder
	w := csv.NewWriter(&filled)
	w.WriteAll(rows) //nolint:errcheck
	_, page = b.postMultipart(fmt.Sprintf("/console/campaigns/%d/shipments", c.ID), nil, map[string][]byte{"file": []byte("\uFEFF" + filled.String())})
	if !strings.Contains(page, "已发货 4 单") {
		t.Fatalf("the filled-in export: %v", report(t, page))
	}
	if _, body = b.get(fmt.Sprintf("/console/campaigns/%d/shipping.csv", c.ID)); strings.Count(body, "\n") != 1 {
		t.Fatalf("still 待发货 after the upload:\n%s", body)
	}
}
