package campaign_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"fenxiao/campaign"
)

// readCSV parses an export, byte-order mark first, into rows of cells keyed by heading.
func readCSV(t *testing.T, b []byte) []map[string]string {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("\uFEFF")) {
		t.Fatal("CSV without byte-order mark")
	}
	rows, err := csv.NewReader(bytes.NewReader(b[3:])).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("CSV: %v\n%s", err, b)
	}
	var out []map[string]string
	for _, r := range rows[1:] {
		m := map[string]string{}
		for i, h := range rows[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}

// Long numbers are written as text a spreadsheet keeps exact (digits and a tab after them);
// anything else is defused as before.
func TestCSVText(t *testing.T) {
	for in, want := range map[string]string{
		"4200001234202612021234567890": "4200001234202612021234567890\t",
		"13800138000":                  "13800138000\t",
		"FX2612021704391234567890":     "FX2612021704391234567890",
		"=1+1":                         "'=1+1",
		"-12":                          "'-12",
		"":                             "",
	} {
		if got := campaign.CSVText(in); got != want {
			t.Errorf("CSVText(%q) = %q, want %q", in, got, want)
		}
	}
}

// The orders CSV carries what the buyer gave at checkout (name, mobile, address, remark), the
// fulfilment and the refunds with their reasons; the transaction id and the mobile are
// written so that Excel and WPS keep every digit.
func TestOrdersCSVContactsAndRefunds(t *testing.T) {
	e := newEnv(t, "1000")
	c := e.campaign(20, func(s *campaign.Settings) { s.Fulfilment = campaign.Delivery })
	u, v := e.user("收件人"), e.user("退款人")
	shipped := e.buyWith(c, u, 2, address)
	if _, err := e.svc.Ship(ctx, e.merchant, shipped.ID, "顺丰速运", "SF1234567890"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RefundPart(ctx, e.merchant, shipped.ID, d("10"), "少发一盒"); err != nil {
		t.Fatal(err)
	}
	other := address
	other.Name, other.Mobile, other.Remark = "=HYPERLINK(\"x\")", "13900139000", ""
	refunded := e.buyWith(c, v, 1, other)
	if _, err := e.svc.Refund(ctx, e.merchant, refunded.ID, "不想要了"); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := e.svc.ExportOrders(ctx, e.merchant, campaign.OrderFilter{CampaignID: c.ID}, time.UTC, &buf); err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, buf.Bytes())
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	byNo := map[string]map[string]string{}
	for _, r := range rows {
		byNo[strings.TrimSpace(r["订单号"])] = r
	}
	s, r := byNo[shipped.OutTradeNo], byNo[refunded.OutTradeNo]
	if s == nil || r == nil {
		t.Fatalf("rows %v", rows)
	}
	if s["微信支付单号"] != *shipped.TransactionID+"\t" || strings.Trim(*shipped.TransactionID, "0123456789") != "" {
		t.Errorf("transaction id cell %q for %q", s["微信支付单号"], *shipped.TransactionID)
	}
	for h, want := range map[string]string{"联系人": "王小明", "手机号": "13800138000\t", "地址": "浙江省杭州市西湖区 龙井路 1 号", "备注": "工作日送货",
		"发货状态": "已发货", "快递公司": "顺丰速运", "快递单号": "SF1234567890", "退款（元）": "10.00", "退款原因": "少发一盒", "状态": "已支付"} {
		if s[h] != want {
			t.Errorf("shipped order's %s: %q, want %q", h, s[h], want)
		}
	}
	for h, want := range map[string]string{"联系人": "'=HYPERLINK(\"x\")", "手机号": "13900139000\t", "退款（元）": refunded.Amount.StringFixed(2), "退款原因": "不想要了", "状态": "已退款"} {
		if r[h] != want {
			t.Errorf("refunded order's %s: %q, want %q", h, r[h], want)
		}
	}
}
