package campaign_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"fenxiao/campaign"
	"fenxiao/wallet"
)

var address = campaign.Contact{Name: "王小明", Mobile: "138 0013 8000", Province: "浙江省", City: "杭州市", District: "西湖区",
	Detail: "龙井路 1 号", Remark: "工作日送货"}

// buyWith orders and pays with contact details, as the buy page does.
func (e *env) buyWith(c *campaign.Campaign, u *campaign.User, qty int, ct campaign.Contact) *campaign.Order {
	e.t.Helper()
	co, err := e.svc.BuyWith(ctx, c, u, campaign.OrderForm{Qty: qty, Contact: ct}, "127.0.0.1")
	if err != nil {
		e.t.Fatalf("order by %s: %v", u.Nickname, err)
	}
	e.pay(co, u)
	return e.waitStatus(co.Order.ID, campaign.Paid)
}

func state(o *campaign.Order) campaign.FulfilState {
	if o.FulfilState == nil {
		return ""
	}
	return *o.FulfilState
}

// Every checkout field answers what is wrong with it, nothing is ordered until all are right,
// and what was given is kept with the order and offered at the buyer's next checkout.
func TestCheckoutFieldsForDelivery(t *testing.T) {
	e := newEnv(t, "1000")
	c := e.campaign(20, func(s *campaign.Settings) { s.Fulfilment = campaign.Delivery })
	u := e.user("收件人")
	for _, tc := range []struct {
		name   string
		change func(*campaign.Contact)
		field  string
		want   string
	}{
		{"nothing", func(ct *campaign.Contact) { *ct = campaign.Contact{} }, "name", "请填写收货人姓名"},
		{"ten digits", func(ct *campaign.Contact) { ct.Mobile = "1380013800" }, "mobile", "11 位"},
		{"twelve digits", func(ct *campaign.Contact) { ct.Mobile = "138001380001" }, "mobile", "11 位"},
		{"not a mobile", func(ct *campaign.Contact) { ct.Mobile = "02112345678" }, "mobile", "以 1 开头"},
		{"no district", func(ct *campaign.Contact) { ct.District = "" }, "region", "请填写区县（如 西湖区）"},
		{"no city", func(ct *campaign.Contact) { ct.City = "" }, "region", "省份和城市"},
		{"no street", func(ct *campaign.Contact) { ct.Detail = " " }, "detail", "详细地址"},
		{"remark of 101", func(ct *campaign.Contact) { ct.Remark = strings.Repeat("好", 101) }, "remark", "最多 100 个字"},
	} {
		ct := address
		tc.change(&ct)
		_, err := e.svc.BuyWith(ctx, c, u, campaign.OrderForm{Qty: 1, Contact: ct}, "127.0.0.1")
		var ve *campaign.ValidationError
		if !errors.As(err, &ve) || !strings.Contains(ve.Fields[tc.field], tc.want) {
			t.Errorf("%s: %v, want %s: …%s…", tc.name, err, tc.field, tc.want)
		}
	}
	if r := e.reload(c); r.Held != 0 {
		t.Fatalf("%d units held by refused checkouts", r.Held)
	}
	ok := address
	ok.Remark = strings.Repeat("好", 100)
	o := e.buyWith(c, u, 1, ok)
	got, found, err := e.svc.OrderContact(ctx, o)
	if err != nil || !found || got.Mobile != "13800138000" || got.Address() != "浙江省杭州市西湖区 龙井路 1 号" || got.Remark != ok.Remark {
		t.Fatalf("order's contact: %+v %v %v", got, found, err)
	}
	next, err := e.svc.LastContact(ctx, u)
	if err != nil || next.Name != "王小明" || next.District != "西湖区" || next.Remark != "" {
		t.Fatalf("next checkout's details: %+v %v", next, err)
	}
	if state(o) != campaign.ToShip {
		t.Fatalf("paid delivery order is %q, want to_ship", state(o))
	}
	audit(t, e.db)
}

// A delivery goes 待发货 → 已发货 (carrier and tracking number) → 已完成, by the buyer's
// confirmation or by itself N days after shipping; only the buyer confirms, once.
func TestDeliveryJourney(t *testing.T) {
	e := newEnv(t, "1000")
	c := e.campaign(20, func(s *campaign.Settings) { s.Fulfilment, s.AutoCompleteDays = campaign.Delivery, 3 })
	u, other := e.user("买家"), e.user("别人")
	o := e.buyWith(c, u, 1, address)
	if _, err := e.svc.ConfirmReceipt(ctx, u, o.ID); !errors.Is(err, campaign.ErrConflict) {
		t.Fatalf("confirming before shipping: %v", err)
	}
	if _, err := e.svc.Ship(ctx, e.merchant, o.ID, "顺丰速运", "SF 123"); err == nil {
		t.Fatal("a tracking number with a space was accepted")
	}
	shipped, err := e.svc.Ship(ctx, e.merchant, o.ID, "顺丰速运", "sf1234567890")
	if err != nil || state(shipped) != campaign.Shipped || shipped.TrackingNo != "SF1234567890" || shipped.ShippedAt == nil {
		t.Fatalf("ship: %+v %v", shipped, err)
	}
	if _, err := e.svc.Ship(ctx, e.merchant+1000, o.ID, "顺丰速运", "SF1"); err == nil {
		t.Fatal("another merchant shipped the order")
	}
	if _, err := e.svc.ConfirmReceipt(ctx, other, o.ID); !errors.Is(err, campaign.ErrNotFound) {
		t.Fatalf("another buyer confirmed: %v", err)
	}
	done, err := e.svc.ConfirmReceipt(ctx, u, o.ID)
	if err != nil || state(done) != campaign.Done || done.DoneHow != "confirmed" {
		t.Fatalf("confirm: %+v %v", done, err)
	}
	if _, err := e.svc.ConfirmReceipt(ctx, u, o.ID); !errors.Is(err, campaign.ErrConflict) {
		t.Fatalf("confirming twice: %v", err)
	}
	if _, err := e.svc.Ship(ctx, e.merchant, o.ID, "圆通", "YT1234"); !errors.Is(err, campaign.ErrConflict) {
		t.Fatalf("shipping a completed order: %v", err)
	}

	// Shipped and never confirmed: done by itself after three days, not before.
	o2 := e.buyWith(c, other, 1, address)
	if _, err := e.svc.Ship(ctx, e.merchant, o2.ID, "中通快递", "ZT88886666"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * 24 * time.Hour)
	defer clock.Advance(-2 * 24 * time.Hour)
	if n, err := e.svc.AutoComplete(ctx); err != nil || n != 0 {
		t.Fatalf("auto-complete after 2 days: %d %v", n, err)
	}
	clock.Advance(24*time.Hour + time.Minute)
	defer clock.Advance(-24*time.Hour - time.Minute)
	if n, err := e.svc.AutoComplete(ctx); err != nil || n != 1 {
		t.Fatalf("auto-complete after 3 days: %d %v", n, err)
	}
	if r, _ := e.svc.Order(ctx, e.merchant, o2.ID); state(r) != campaign.Done || r.DoneHow != "auto" {
		t.Fatalf("after auto-complete: %s %s", state(r), r.DoneHow)
	}
	audit(t, e.db)
}

// A pickup order shows a 12-digit code that staff verify once; a second try says when it was
// used. A virtual order is done at payment and asks for nothing unless the campaign wants it.
func TestPickupAndVirtual(t *testing.T) {
	e := newEnv(t, "1000")
	shop := e.campaign(20, func(s *campaign.Settings) { s.Fulfilment, s.AskContact = campaign.Pickup, true })
	u := e.user("到店")
	if _, err := e.svc.BuyWith(ctx, shop, u, campaign.OrderForm{Qty: 1}, "127.0.0.1"); !errors.Is(err, campaign.ErrInvalid) {
		t.Fatalf("pickup asking for contact, given none: %v", err)
	}
	o := e.buyWith(shop, u, 1, campaign.Contact{Name: "李四", Mobile: "13912345678", Province: "浙江省", Detail: "不该留下"})
	if state(o) != campaign.ToVerify || o.PickupCode == nil || len(*o.PickupCode) != 12 {
		t.Fatalf("paid pickup order: %s code %v", state(o), o.PickupCode)
	}
	if ct, _, _ := e.svc.OrderContact(ctx, o); ct.Province != "" || ct.Detail != "" || ct.Name != "李四" {
		t.Fatalf("pickup contact kept an address: %+v", ct)
	}
	if _, err := e.svc.VerifyPickup(ctx, e.merchant, "000000000000"); !errors.Is(err, campaign.ErrInvalid) {
		t.Fatalf("unknown code: %v", err)
	}
	if _, err := e.svc.VerifyPickup(ctx, e.merchant+1000, *o.PickupCode); err == nil {
		t.Fatal("another merchant's staff verified the code")
	}
	code := (*o.PickupCode)[:4] + " " + (*o.PickupCode)[4:]
	v, err := e.svc.VerifyPickup(ctx, e.merchant, code)
	if err != nil || state(v) != campaign.Done || v.DoneHow != "verified" {
		t.Fatalf("verify: %+v %v", v, err)
	}
	var used *campaign.CodeUsedError
	if _, err := e.svc.VerifyPickup(ctx, e.merchant, *o.PickupCode); !errors.As(err, &used) || !used.At.Equal(*v.DoneAt) {
		t.Fatalf("the code a second time: %v, want when it was used (%v)", err, v.DoneAt)
	}

	online := e.campaign(20, func(s *campaign.Settings) { s.Fulfilment = campaign.Virtual })
	w := e.buyWith(online, e.user("线上"), 1, campaign.Contact{Name: "不问", Remark: "发邮箱"})
	if state(w) != campaign.Done || w.DoneHow != "virtual" || w.DoneAt == nil {
		t.Fatalf("paid virtual order: %s %s", state(w), w.DoneHow)
	}
	if ct, found, _ := e.svc.OrderContact(ctx, w); !found || ct.Name != "" || ct.Remark != "发邮箱" {
		t.Fatalf("virtual order's contact: %+v %v", ct, found)
	}
	audit(t, e.db)
}

// With the hold counted from completion, a commission stays pending with no date until the
// order is done, then hold_days more; a refund before that voids it.
func TestCommissionMaturesAfterCompletion(t *testing.T) {
	e := newEnv(t, "1000")
	c := e.campaign(20, func(s *campaign.Settings) {
		s.Fulfilment, s.HoldFrom, s.HoldDays = campaign.Delivery, campaign.HoldFromCompletion, 7
	})
	sharer, buyer, other := e.user("分享者"), e.user("好友"), e.user("好友二")
	for _, u := range []*campaign.User{buyer, other} {
		if _, err := e.svc.Bind(ctx, c, u, e.svc.ShareToken(c.ID, sharer.ID)); err != nil {
			t.Fatal(err)
		}
	}
	o, refunded := e.buyWith(c, buyer, 1, address), e.buyWith(c, other, 1, address)
	if o.CommissionStatus != "held" || o.SettleAt != nil {
		t.Fatalf("commission %s until %v, want held without a date", o.CommissionStatus, o.SettleAt)
	}
	clock.Advance(30 * 24 * time.Hour) // long after payment: still waiting for the goods
	defer clock.Advance(-30 * 24 * time.Hour)
	if n, err := e.svc.SettleHeld(ctx); err != nil || n != 0 {
		t.Fatalf("settled %d before completion (%v)", n, err)
	}
	if _, err := e.svc.Refund(ctx, e.merchant, refunded.ID, "没收到"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Ship(ctx, e.merchant, o.ID, "顺丰速运", "SF0001"); err != nil {
		t.Fatal(err)
	}
	done, err := e.svc.ConfirmReceipt(ctx, buyer, o.ID)
	if err != nil || done.SettleAt == nil || !done.SettleAt.Equal(done.DoneAt.Add(7*24*time.Hour)) {
		t.Fatalf("completed: settle at %v, done at %v (%v)", done.SettleAt, done.DoneAt, err)
	}
	clock.Advance(7*24*time.Hour + time.Minute)
	defer clock.Advance(-7*24*time.Hour - time.Minute)
	if n, err := e.svc.SettleHeld(ctx); err != nil || n != 1 {
		t.Fatalf("settled %d after completion + 7 days (%v)", n, err)
	}
	v, _ := e.wallet.Vault(ctx, e.merchant, sharer.ID)
	equal(t, "claimable", v.Available, "2")
	equal(t, "pending", v.Pending, "0")
	if r, _ := e.svc.Order(ctx, e.merchant, refunded.ID); r.CommissionStatus != "voided" {
		t.Fatalf("refunded order's commission %s, want voided", r.CommissionStatus)
	}
	equal(t, "reserve", e.balance(wallet.ReserveOf(e.merchant, c.ID)), "38")
	audit(t, e.db)
}

// The fulfilment mode is the merchant's to change until the first order, not after.
func TestFulfilmentFixedAfterFirstOrder(t *testing.T) {
	e := newEnv(t, "1000")
	c := e.campaign(20)
	set := c.Settings
	set.Fulfilment = campaign.Delivery
	c, err := e.svc.Update(ctx, e.merchant, c.ID, set)
	if err != nil || c.Fulfilment != campaign.Delivery || !c.AskContact {
		t.Fatalf("before any order: %v %v", c.Fulfilment, err)
	}
	e.buyWith(c, e.user("首单"), 1, address)
	set = c.Settings
	set.Fulfilment = campaign.Virtual
	_, err = e.svc.Update(ctx, e.merchant, c.ID, set)
	var ve *campaign.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(ve.Fields["fulfilment"], "快递发货") {
		t.Fatalf("after the first order: %v", err)
	}
	// A buyer whose page still offered the old mode is told to reload.
	stale := *c
	stale.Fulfilment, stale.AskContact = campaign.Virtual, false
	if _, err := e.svc.BuyWith(ctx, &stale, e.user("旧页面"), campaign.OrderForm{Qty: 1}, "127.0.0.1"); !errors.Is(err, campaign.ErrSettingsChanged) {
		t.Fatalf("an order from a page with another mode: %v", err)
	}
}
