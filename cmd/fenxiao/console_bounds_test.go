package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"fenxiao/wechat/sim"
)

// Issue 14, point 8: every integer and amount field of the console's forms and of the H5 API
// is bounded with a clear message. Before, stock or buyer_limit of 2147483648 overflowed
// PostgreSQL's integer columns and answered 500, and 1e999999999 was taken as an amount.
func TestIntegerAndAmountFieldsBounded(t *testing.T) {
	srv, base := startStack(t, nil)
	b, m := signUp(t, srv, base, "边界店")
	published, _, _ := merchantSetup(t, srv, m, 10)
	now := time.Now().UTC()
	valid := map[string]string{
		"title": "春茶", "starts_at": now.Add(time.Hour).Format(formTime), "ends_at": now.Add(48 * time.Hour).Format(formTime),
		"commission": "2.00", "product_name": "龙井", "price": "68", "stock": "10", "max_per_order": "5",
	}
	huge := strings.Repeat("9", 400)
	for _, tc := range []struct{ field, value, want string }{
		{"stock", "2147483648", "库存最多 1000000 件"},
		{"stock", "1000001", "库存最多 1000000 件"},
		{"stock", huge, "库存最多 1000000 件"},
		{"stock", "-1", "库存不能为负数"},
		{"stock", "-" + huge, "库存不能为负数"},
		{"stock", "1e3", "请输入整数"},
		{"buyer_limit", "2147483648", "限购人数最多 1000000 人"},
		{"buyer_limit", huge, "限购人数最多 1000000 人"},
		{"buyer_limit", "-1", "限购人数不能为负数"},
		{"buyer_limit", "1e3", "请输入整数"},
		{"hold_days", "2147483648", "佣金冻结期须在 0 到 90 天之间"},
		{"hold_days", "-1", "佣金冻结期须在 0 到 90 天之间"},
		{"max_per_order", "2147483648", "每单限购须在 1 到 999 件之间"},
		{"max_per_order", huge, "每单限购须在 1 到 999 件之间"},
		{"max_per_order", "1e3", "请输入整数"},
		{"commission", "1e3", "请输入金额"},
		{"commission", "2.001", "佣金最多两位小数"},
		{"commission", "-2", "佣金不能为负数"},
		{"price", "1e999999999", "请输入金额"},
		{"price", huge, "价格过大"},
		{"price", "-5", "价格不能为负数"},
		{"price", "NaN", "请输入金额"},
		{"price", "0x10", "请输入金额"},
	} {
		form := url.Values{}
		for k, v := range valid {
			form.Set(k, v)
		}
		form.Set(tc.field, tc.value)
		start := time.Now()
		resp, page := b.post("/console/campaigns", form)
		if got := fieldError(page, tc.field); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(got, tc.want) {
			t.Errorf("%s = %.20q: %d %q, want 422 and %q", tc.field, tc.value, resp.StatusCode, got, tc.want)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s = %.20q took %s", tc.field, tc.value, took)
		}
	}
	// The honest form still saves.
	form := url.Values{}
	for k, v := range valid {
		form.Set(k, v)
	}
	form.Set("stock", "1000000")
	form.Set("buyer_limit", "1000000")
	if resp, page := b.post("/console/campaigns", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the largest allowed values: %d %q", resp.StatusCode, fieldError(page, "stock"))
	}

	// Stock adjustments of the published campaign.
	stock := fmt.Sprintf("/console/campaigns/%d/stock", published.ID)
	for _, tc := range []struct{ count, direction, want string }{
		{"2147483648", "add", "库存最多 1000000 件"},
		{huge, "add", "库存最多 1000000 件"},
		{"999991", "add", "最多还能增加 999990 件"},
		{"2147483648", "remove", "库存最多 1000000 件"},
		{"1e3", "add", "正整数"},
		{"-5", "add", "正整数"},
	} {
		resp, _ := b.post(stock, url.Values{"count": {tc.count}, "direction": {tc.direction}})
		if msg := b.flashOf(resp); !strings.Contains(msg, tc.want) {
			t.Errorf("stock %s %.20q: %q, want %q", tc.direction, tc.count, msg, tc.want)
		}
	}
	resp, _ := b.post(stock, url.Values{"count": {"5"}, "direction": {"add"}})
	if msg := b.flashOf(resp); !strings.Contains(msg, "库存已增加 5 件") {
		t.Fatalf("adding 5 units: %q", msg)
	}

	// Top-up amounts.
	for _, tc := range []struct{ amount, want string }{
		{"1e999999999", "不是有效的金额"},
		{"-1", "金额不能为负数"},
		{"1.001", "最多两位小数"},
		{huge, "金额过大"},
	} {
		resp, page := b.post("/console/assets/topups", url.Values{"amount": {tc.amount}})
		if got := fieldError(page, "amount"); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(got, tc.want) {
			t.Errorf("top-up %.20q: %d %q, want %q", tc.amount, resp.StatusCode, got, tc.want)
		}
	}
}

// The H5 order API bounds its quantity the same way: never a 500.
func TestH5OrderQuantityBounded(t *testing.T) {
	st := newH5Stack(t)
	m := st.merchant("数量边界")
	c := st.campaign(m, 5)
	page := fmt.Sprintf("%s/c/%d", st.base, c.ID)
	u, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: "买家", Subscribed: true})
	if err != nil {
		t.Fatal(err)
	}
	a := newFollower()
	a.signIn(t, st, m, page, u.OpenID)
	for _, qty := range []string{"2147483648", "-1", "0", strings.Repeat("9", 400), "1e3"} {
		resp, err := a.Post(fmt.Sprintf("%s/api/h5/c/%d/orders", st.base, c.ID), "application/json", strings.NewReader(`{"qty":`+qty+`}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusOK {
			t.Errorf("qty %.20s: %d %s", qty, resp.StatusCode, body)
		}
	}
}
