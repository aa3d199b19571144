package campaign_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"fenxiao/campaign"
	"fenxiao/wallet"
)

func TestValidationMessages(t *testing.T) {
	e := newEnv(t, "")
	cases := []struct {
		field, want string
		edit        func(*campaign.Settings)
	}{
		{"title", "请填写活动标题", func(s *campaign.Settings) { s.Title = "  " }},
		{"ends_at", "结束时间必须晚于开始时间", func(s *campaign.Settings) { s.EndsAt = s.StartsAt }},
		{"commission", "0.30 元到 200.00 元", func(s *campaign.Settings) { s.Commission = d("0.29") }},
		{"commission", "0.30 元到 200.00 元", func(s *campaign.Settings) { s.Commission = d("200.01") }},
		{"commission", "最多两位小数", func(s *campaign.Settings) { s.Commission = d("1.005") }},
		{"price", "价格必须大于 0", func(s *campaign.Settings) { s.Price = d("0") }},
		{"product_name", "请填写商品名称", func(s *campaign.Settings) { s.ProductName = "" }},
		{"buyer_limit", "不能为负数", func(s *campaign.Settings) { s.BuyerLimit = -1 }},
		{"regions", "未知的省份", func(s *campaign.Settings) { s.Regions = []string{"火星省"} }},
		{"regions", "没有城市", func(s *campaign.Settings) { s.Regions = []string{"广东省/纽约"} }},
		{"buttons", "http://", func(s *campaign.Settings) {
			s.Buttons = campaign.Buttons{{Label: "店铺", Link: "javascript:alert(1)"}}
		}},
		{"splash_link", "http://", func(s *campaign.Settings) { s.SplashLink = "ftp://x" }},
		{"hold_days", "0 到 90", func(s *campaign.Settings) { s.HoldDays = 91 }},
	}
	for _, tc := range cases {
		_, err := e.svc.Create(ctx, e.merchant, settings(tc.edit), 10)
		var ve *campaign.ValidationError
		if !errors.As(err, &ve) || !errors.Is(err, campaign.ErrInvalid) {
			t.Errorf("%s: %v, want a validation error", tc.field, err)
			continue
		}
		if msg := ve.Fields[tc.field]; !strings.Contains(msg, tc.want) {
			t.Errorf("%s: message %q does not say %q (all: %v)", tc.field, msg, tc.want, ve.Fields)
		}
	}
	if _, err := e.svc.Create(ctx, e.merchant, settings(), -1); err == nil {
		t.Error("negative stock accepted")
	}
	good, err := e.svc.Create(ctx, e.merchant, settings(func(s *campaign.Settings) {
		s.Regions = []string{"广东省/深圳市", "北京市"}
		s.Buttons = campaign.Buttons{{Label: "进店", Link: "https://shop.example.com"}}
	}), 10)
	if err != nil || good.Status != campaign.Draft || len(good.Regions) != 2 || len(good.Buttons) != 1 {
		t.Fatalf("valid campaign: %+v %v", good, err)
	}
}

func TestPublishAndStockMoveTheReserve(t *testing.T) {
	e := newEnv(t, "50")
	c, err := e.svc.Create(ctx, e.merchant, settings(func(s *campaign.Settings) { s.Commission = d("3") }), 20)
	if err != nil {
		t.Fatal(err)
	}
	// 20 × 3 = 60 > 50: refused with the amounts, nothing changed.
	_, err = e.svc.Publish(ctx, e.merchant, c.ID)
	var ve *campaign.ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, wallet.ErrInsufficientFunds) || !strings.Contains(ve.Fields["stock"], "需要冻结 ¥60.00，可用余额 ¥50.00，还差 ¥10.00") {
		t.Fatalf("publish without funds: %v", err)
	}
	if c = e.reload(c); c.Status != campaign.Draft {
		t.Fatalf("status %s after a refused publish", c.Status)
	}
	equal(t, "available", e.balance(wallet.AvailableOf(e.merchant)), "50")

	// Drafts change stock freely; publishing freezes what is there.
	if c, err = e.svc.AdjustStock(ctx, e.merchant, c.ID, -5); err != nil || c.Stock != 15 {
		t.Fatalf("draft stock: %v", err)
	}
	if c, err = e.svc.Publish(ctx, e.merchant, c.ID); err != nil {
		t.Fatal(err)
	}
	equal(t, "reserve", e.balance(wallet.ReserveOf(e.merchant, c.ID)), "45")
	if _, err := e.svc.Publish(ctx, e.merchant, c.ID); !errors.Is(err, campaign.ErrConflict) {
		t.Fatalf("second publish: %v", err)
	}
	// +2 freezes 6 (only 5 available: refused), +1 freezes 3, −4 releases 12.
	if _, err := e.svc.AdjustStock(ctx, e.merchant, c.ID, 2); !errors.Is(err, wallet.ErrInsufficientFunds) {
		t.Fatalf("adding stock beyond the balance: %v", err)
	}
	if _, err := e.svc.AdjustStock(ctx, e.merchant, c.ID, 1); err != nil {
		t.Fatal(err)
	}
	if c, err = e.svc.AdjustStock(ctx, e.merchant, c.ID, -4); err != nil || c.Stock != 12 {
		t.Fatalf("remove stock: %v", err)
	}
	equal(t, "reserve after changes", e.balance(wallet.ReserveOf(e.merchant, c.ID)), "36")
	equal(t, "available after changes", e.balance(wallet.AvailableOf(e.merchant)), "14")

	// Stock never drops below sold + held.
	u := e.user("买家")
	e.buy(c, u, 2)
	if _, err := e.svc.CreateOrder(ctx, c.ID, e.user("未付"), 3, ""); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.AdjustStock(ctx, e.merchant, c.ID, -8)
	if !errors.As(err, &ve) || !strings.Contains(ve.Fields["stock"], "最多还能减少 7 件") {
		t.Fatalf("removing sold/held stock: %v", err)
	}

	// Frozen fields: start and commission once published.
	set := e.reload(c).Settings
	set.StartsAt = set.StartsAt.Add(time.Minute)
	set.Commission = d("4")
	_, err = e.svc.Update(ctx, e.merchant, c.ID, set)
	if !errors.As(err, &ve) || ve.Fields["starts_at"] == "" || ve.Fields["commission"] == "" {
		t.Fatalf("editing frozen fields: %v", err)
	}
	set = e.reload(c).Settings
	set.Title = "新标题"
	if c2, err := e.svc.Update(ctx, e.merchant, c.ID, set); err != nil || c2.Title != "新标题" || c2.Version <= c.Version {
		t.Fatalf("editing the title: %v", err)
	}
	// Ended: the end time is frozen.
	if _, err := e.svc.EndNow(ctx, e.merchant, c.ID); err != nil {
		t.Fatal(err)
	}
	set = e.reload(c).Settings
	set.EndsAt = set.EndsAt.Add(time.Hour)
	if _, err := e.svc.Update(ctx, e.merchant, c.ID, set); !errors.As(err, &ve) || ve.Fields["ends_at"] == "" {
		t.Fatalf("editing the end of an ended campaign: %v", err)
	}
	audit(t, e.db)
}

// Another merchant cannot read or change a campaign.
func TestTenantIsolation(t *testing.T) {
	e, other := newEnv(t, "100"), newEnv(t, "100")
	c := e.campaign(5)
	if _, err := other.svc.Get(ctx, other.merchant, c.ID); !errors.Is(err, campaign.ErrNotFound) {
		t.Errorf("get: %v", err)
	}
	if _, err := other.svc.Publish(ctx, other.merchant, c.ID); !errors.Is(err, campaign.ErrNotFound) {
		t.Errorf("publish: %v", err)
	}
	if _, err := other.svc.AdjustStock(ctx, other.merchant, c.ID, 1); !errors.Is(err, campaign.ErrNotFound) {
		t.Errorf("stock: %v", err)
	}
	o := e.buy(c, e.user("买家"), 1)
	if _, err := other.svc.Refund(ctx, other.merchant, o.ID, ""); !errors.Is(err, campaign.ErrNotFound) {
		t.Errorf("refund: %v", err)
	}
}

// WeChat secrets are sealed at rest and open only with the key and for their merchant.
func TestWeChatSecretsSealed(t *testing.T) {
	e := newEnv(t, "")
	var sealed []byte
	if err := e.db.Get(&sealed, `SELECT sealed FROM merchant_wechat WHERE merchant_id = $1`, e.merchant); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), e.creds.APIKey) || strings.Contains(string(sealed), e.creds.AppSecret) {
		t.Fatal("secrets stored in the clear")
	}
	if _, err := e.svc.Merchants().WeChatFor(ctx, e.merchant); err != nil {
		t.Fatal(err)
	}
	// The blob copied to another merchant does not open.
	other := newEnv(t, "")
	if _, err := e.db.Exec(`UPDATE merchant_wechat SET sealed = $1, updated_at = now() WHERE merchant_id = $2`, sealed, other.merchant); err != nil {
		t.Fatal(err)
	}
	if _, err := other.svc.Merchants().WeChatFor(ctx, other.merchant); err == nil {
		t.Fatal("a sealed blob opened for another merchant")
	}
	// A bad certificate is refused when saving.
	bad := e.creds
	bad.CertP12 = []byte("not a certificate")
	if err := e.svc.Merchants().SetWeChat(ctx, e.merchant, bad); !errors.Is(err, campaign.ErrInvalid) {
		t.Fatalf("bad certificate: %v", err)
	}
}
