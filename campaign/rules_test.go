package campaign_test

import (
	"errors"
	"fmt"
	"image/color"
	"strings"
	"testing"
	"time"

	"fenxiao/campaign"
	"fenxiao/wallet"
)

// Issue 17 point 7: once the end time passed, a stock change is refused even before the
// release job ran (the minute in which 调整库存 froze more money), and after an early end
// too; the reserve does not move.
func TestStockRefusedAfterTheEnd(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(10)
	if _, err := e.db.Exec(`UPDATE campaigns SET ends_at = $2 WHERE id = $1`, c.ID, clock.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.AdjustStock(ctx, e.merchant, c.ID, 5)
	if !errors.Is(err, campaign.ErrConflict) || !strings.Contains(campaign.Explain(err), "活动已结束，不能再调整库存") {
		t.Fatalf("adding stock past the end, before the release job: %v", err)
	}
	equal(t, "reserve", e.balance(wallet.ReserveOf(e.merchant, c.ID)), "20")

	early := e.campaign(10)
	if _, err := e.svc.EndNow(ctx, e.merchant, early.ID); err != nil {
		t.Fatal(err)
	}
	for _, delta := range []int{5, -5} {
		if _, err := e.svc.AdjustStock(ctx, e.merchant, early.ID, delta); !errors.Is(err, campaign.ErrConflict) {
			t.Errorf("stock %+d after an early end: %v", delta, err)
		}
	}
	equal(t, "reserve of the campaign ended early", e.balance(wallet.ReserveOf(e.merchant, early.ID)), "20")
	if got := e.reload(early); got.Stock != 10 {
		t.Errorf("stock changed to %d", got.Stock)
	}
	audit(t, e.db)
}

// Issue 17 point 8: a buyer limit below the buyers a campaign already has cannot work: it is
// refused with the number.
func TestBuyerLimitBelowTheBuyersRefused(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(10)
	for _, name := range []string{"甲", "乙", "丙"} {
		e.buy(c, e.user(name), 1)
	}
	set := e.reload(c).Settings
	set.BuyerLimit = 2
	_, err := e.svc.Update(ctx, e.merchant, c.ID, set)
	var ve *campaign.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(ve.Fields["buyer_limit"], "已有 3 位买家，限购人数不能少于 3 人") {
		t.Fatalf("buyer limit 2 with 3 buyers: %v", err)
	}
	set.BuyerLimit = 3
	if _, err := e.svc.Update(ctx, e.merchant, c.ID, set); err != nil {
		t.Fatalf("buyer limit equal to the buyers: %v", err)
	}
}

// Issue 17 point 9: removing more than there is says the most that can be removed; not
// enough balance says the amounts with thousands separators and what is missing.
func TestStockAndFundsMessages(t *testing.T) {
	e := newEnv(t, "100")
	draft, err := e.svc.Create(ctx, e.merchant, settings(), 90)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.AdjustStock(ctx, e.merchant, draft.ID, -500)
	if msg := campaign.Explain(err); !strings.Contains(msg, "最多还能减少 90 件") {
		t.Errorf("removing 500 of 90: %q", msg)
	}
	big, err := e.svc.Create(ctx, e.merchant, settings(), 100000)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Publish(ctx, e.merchant, big.ID)
	var ve *campaign.ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, wallet.ErrInsufficientFunds) {
		t.Fatalf("publish without the balance: %v", err)
	}
	if msg := campaign.Explain(err); !strings.Contains(msg, "需要冻结 ¥200,000.00，可用余额 ¥100.00，还差 ¥199,900.00") {
		t.Errorf("funds message %q", msg)
	}
	equal(t, "shortfall", ve.Shortfall, "199900")
}

// Issue 17 point 8: risky settings are named with their consequence, for the console to ask.
func TestRisksNameTheConsequence(t *testing.T) {
	e := newEnv(t, "10")
	r, err := e.svc.Risks(ctx, e.merchant, 0, settings(func(s *campaign.Settings) {
		s.Commission, s.Price = d("100"), d("68")
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r["commission"], "每卖一件你亏 ¥32.00") {
		t.Errorf("commission above the price: %q", r["commission"])
	}
	if !strings.Contains(r["starts_at"], "开始时间已经过去") {
		t.Errorf("start in the past: %q", r["starts_at"])
	}
	calm := settings(func(s *campaign.Settings) { s.StartsAt = clock.Now().Add(time.Hour) })
	if r, err := e.svc.Risks(ctx, e.merchant, 0, calm); err != nil || len(r) != 0 {
		t.Errorf("ordinary settings: %v %v", r, err)
	}
	// A published campaign's start is history, not a risk.
	c := e.campaign(1)
	if r, err := e.svc.Risks(ctx, e.merchant, c.ID, c.Settings); err != nil || r["starts_at"] != "" {
		t.Errorf("published campaign: %v %v", r, err)
	}
}

// Issue 17 point 10: drafts and published campaigns copy into a new draft with the same
// settings (the same images), no stock and no money; only drafts can be deleted, and only
// the merchant's own.
func TestCopyAndDeleteDrafts(t *testing.T) {
	e := newEnv(t, "100")
	img, err := e.svc.Merchants().SaveUpload(ctx, e.merchant, solid(t, 40, 40, color.RGBA{20, 120, 60, 255}))
	if err != nil {
		t.Fatal(err)
	}
	pub := e.campaign(10, func(s *campaign.Settings) {
		s.ProductImages, s.Logo, s.BuyerLimit, s.Regions = campaign.StringList{img.URL()}, img.URL(), 7, campaign.StringList{"北京市"}
	})
	cp, err := e.svc.Copy(ctx, e.merchant, pub.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := pub.Settings
	want.Title = "副本 " + pub.Title
	if cp.Status != campaign.Draft || cp.Stock != 0 || cp.Sold != 0 || cp.ID == pub.ID {
		t.Fatalf("copy: status %s, stock %d, sold %d", cp.Status, cp.Stock, cp.Sold)
	}
	if cp.Title != want.Title || cp.ProductImages[0] != img.URL() || cp.Logo != img.URL() || cp.BuyerLimit != 7 ||
		!cp.Commission.Equal(pub.Commission) || !cp.Price.Equal(pub.Price) || !cp.StartsAt.Equal(pub.StartsAt) || cp.Regions[0] != "北京市" {
		t.Fatalf("copy's settings differ:\n%+v\nwant\n%+v", cp.Settings, want)
	}
	equal(t, "original's reserve", e.balance(wallet.ReserveOf(e.merchant, pub.ID)), "20")
	equal(t, "copy's reserve", e.balance(wallet.ReserveOf(e.merchant, cp.ID)), "0")

	again, err := e.svc.Copy(ctx, e.merchant, cp.ID)
	if err != nil || again.Title != "副本 副本 "+pub.Title {
		t.Fatalf("copy of a draft: %+v %v", again, err)
	}
	if err := e.svc.Delete(ctx, e.merchant, pub.ID); !errors.Is(err, campaign.ErrConflict) {
		t.Fatalf("deleting a published campaign: %v", err)
	}
	other, err := e.svc.Merchants().CreateMerchant(ctx, "别人")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Delete(ctx, other, cp.ID); !errors.Is(err, campaign.ErrNotFound) {
		t.Fatalf("another merchant deleting the draft: %v", err)
	}
	if _, err := e.svc.Copy(ctx, other, cp.ID); !errors.Is(err, campaign.ErrNotFound) {
		t.Fatalf("another merchant copying the draft: %v", err)
	}
	if _, err := e.svc.AdjustStock(ctx, e.merchant, again.ID, 5); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{cp.ID, again.ID} {
		if err := e.svc.Delete(ctx, e.merchant, id); err != nil {
			t.Fatalf("deleting draft %d: %v", id, err)
		}
		if _, err := e.svc.Get(ctx, e.merchant, id); !errors.Is(err, campaign.ErrNotFound) {
			t.Fatalf("deleted draft %d still there: %v", id, err)
		}
	}
	if _, err := e.svc.Merchants().Media(ctx, e.merchant, strings.TrimPrefix(img.URL(), fmt.Sprintf("/media/%d/", e.merchant))); err != nil {
		t.Errorf("the shared image went with the draft: %v", err)
	}
	if got := e.reload(pub); got.ProductImages[0] != img.URL() {
		t.Error("the original lost its image")
	}
	audit(t, e.db)
}

// Issue 17 point 7: after the end nobody's share earns, and the share card says it ended.
func TestShareAfterTheEnd(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(10)
	u := e.user("甲")
	if r, err := e.svc.CanShare(ctx, c, u); err != nil || r != campaign.Open {
		t.Fatalf("running: %q %v", r, err)
	}
	ended, err := e.svc.EndNow(ctx, e.merchant, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := e.svc.CanShare(ctx, ended, u); err != nil || r != campaign.HasEnded {
		t.Fatalf("ended: %q %v", r, err)
	}
}
