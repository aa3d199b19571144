package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"fenxiao/campaign"
	"fenxiao/wechat/sim"
)

// orderAnswer is what POST /api/h5/c/{id}/orders answers.
type orderAnswer struct {
	OrderID int64             `json:"order_id"`
	Error   string            `json:"error"`
	Fields  map[string]string `json:"fields"`
	Pay     struct {
		Package string `json:"package"`
	} `json:"pay"`
}

func (f *follower) order(t *testing.T, st *h5Stack, c *campaign.Campaign, body string) (int, orderAnswer) {
	t.Helper()
	resp, page := f.post(t, fmt.Sprintf("%s/api/h5/c/%d/orders", st.base, c.ID), "application/json", body, st.base, "")
	var a orderAnswer
	if err := json.Unmarshal([]byte(page), &a); err != nil {
		t.Fatalf("order answer %d: %s", resp.StatusCode, page)
	}
	return resp.StatusCode, a
}

// A delivery checkout over HTTP: refused fields come back each with its message, a right one
// orders; the paid order's page shows the address, then the tracking number once shipped, and
// the buyer's 确认收货 completes it. The next checkout starts from the same details.
func TestH5DeliveryCheckoutAndOrderPage(t *testing.T) {
	st := newH5Stack(t)
	m := st.merchant("快递商家")
	c := st.campaign(m, 10, func(s *campaign.Settings) { s.Fulfilment = campaign.Delivery })
	su, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: "收件人", Subscribed: true})
	if err != nil {
		t.Fatal(err)
	}
	page := fmt.Sprintf("%s/c/%d", st.base, c.ID)
	f := newFollower()
	f.signIn(t, st, m, page, su.OpenID)

	status, a := f.order(t, st, c, `{"qty":1,"contact":{"name":"","mobile":"1380013800","province":"浙江省","city":"杭州市","district":"","detail":"龙井路 1 号"}}`)
	if status != http.StatusUnprocessableEntity || a.Fields["name"] == "" || !strings.Contains(a.Fields["mobile"], "11 位") || !strings.Contains(a.Fields["region"], "区县") {
		t.Fatalf("bad checkout: %d %+v", status, a)
	}
	status, a = f.order(t, st, c, `{"qty":1,"contact":{"name":"王小明","mobile":"13800138000","province":"浙江省","city":"杭州市","district":"西湖区","detail":"龙井路 1 号","remark":"放门口"}}`)
	if status != http.StatusOK || a.OrderID == 0 {
		t.Fatalf("checkout: %d %+v", status, a)
	}
	if err := st.sim.Pay(strings.TrimPrefix(a.Pay.Package, "prepay_id="), su.OpenID); err != nil {
		t.Fatal(err)
	}
	waitPaid(t, st, m, a.OrderID)
	orderPage := fmt.Sprintf("%s/c/%d/orders/%d", st.base, c.ID, a.OrderID)
	if resp, body := f.get(t, orderPage); resp.StatusCode != http.StatusOK || !strings.Contains(body, "待发货") ||
		!strings.Contains(body, "浙江省杭州市西湖区 龙井路 1 号") || !strings.Contains(body, "放门口") || strings.Contains(body, "确认收货") {
		t.Fatalf("paid order page: %d\n%s", resp.StatusCode, body)
	}
	if _, err := st.srv.Campaign.Ship(context.Background(), m.id, a.OrderID, "顺丰速运", "SF1234567890"); err != nil {
		t.Fatal(err)
	}
	resp, body := f.get(t, orderPage)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "已发货") || !strings.Contains(body, `data-copy="SF1234567890"`) || !strings.Contains(body, "确认收货") {
		t.Fatalf("shipped order page: %d\n%s", resp.StatusCode, body)
	}
	tok := csrfOf(t, body)
	other := newFollower()
	ou, _ := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: "别人", Subscribed: true})
	other.signIn(t, st, m, page, ou.OpenID)
	if resp, _ := other.post(t, orderPage+"/received", "application/x-www-form-urlencoded", "", st.base, ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another follower confirming: %d, want 404", resp.StatusCode)
	}
	if resp, _ := f.post(t, orderPage+"/received", "application/x-www-form-urlencoded", "_csrf="+tok, st.base, ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirm receipt: %d", resp.StatusCode)
	}
	if _, body := f.get(t, orderPage); !strings.Contains(body, "已完成") || strings.Contains(body, `id="confirm-receipt"`) {
		t.Fatalf("completed order page:\n%s", body)
	}
	if _, body := f.get(t, page+"/buy"); !strings.Contains(body, `value="王小明"`) || !strings.Contains(body, `value="西湖区"`) {
		t.Fatalf("the next checkout does not start from the last details:\n%s", body)
	}
}

// A pickup order's page shows its code and a QR code of it, to its buyer only.
func TestH5PickupCodeOnOrderPage(t *testing.T) {
	st := newH5Stack(t)
	m := st.merchant("到店商家")
	c := st.campaign(m, 10, func(s *campaign.Settings) { s.Fulfilment = campaign.Pickup })
	su, _ := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: "到店客", Subscribed: true})
	page := fmt.Sprintf("%s/c/%d", st.base, c.ID)
	f := newFollower()
	f.signIn(t, st, m, page, su.OpenID)
	status, a := f.order(t, st, c, `{"qty":1}`)
	if status != http.StatusOK {
		t.Fatalf("pickup checkout: %d %+v", status, a)
	}
	if err := st.sim.Pay(strings.TrimPrefix(a.Pay.Package, "prepay_id="), su.OpenID); err != nil {
		t.Fatal(err)
	}
	o := waitPaid(t, st, m, a.OrderID)
	orderPage := fmt.Sprintf("%s/c/%d/orders/%d", st.base, c.ID, a.OrderID)
	if _, body := f.get(t, orderPage); !strings.Contains(body, *o.PickupCode) || !strings.Contains(body, "待核销") {
		t.Fatalf("pickup order page:\n%s", body)
	}
	if resp, body := f.get(t, orderPage+"/code.png"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "\x89PNG") {
		t.Fatalf("own pickup QR: %d", resp.StatusCode)
	}
	other := newFollower()
	ou, _ := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: "路人", Subscribed: true})
	other.signIn(t, st, m, page, ou.OpenID)
	if resp, _ := other.get(t, orderPage+"/code.png"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another follower's pickup QR: %d, want 404", resp.StatusCode)
	}
	if _, err := st.srv.Campaign.VerifyPickup(context.Background(), m.id, *o.PickupCode); err != nil {
		t.Fatal(err)
	}
	if _, body := f.get(t, orderPage); !strings.Contains(body, "已核销") || strings.Contains(body, "code.png") {
		t.Fatalf("verified order page:\n%s", body)
	}
	// A partial refund shows on the buyer's page with the merchant's reason.
	if _, err := st.srv.Campaign.RefundPart(context.Background(), m.id, o.ID, decimal.NewFromInt(20), "少送一份"); err != nil {
		t.Fatal(err)
	}
	if _, body := f.get(t, orderPage); !strings.Contains(body, "¥20.00 · 少送一份") {
		t.Fatalf("partly refunded order page:\n%s", body)
	}
}
