package campaign_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"fenxiao/campaign"
	"fenxiao/wallet"
)

// Without a hold period a refund keeps the sharer's commission (the classic rule) and does not
// return stock; with one, the commission is pending until the hold passes, a refund within it
// voids it back to the reserve, and after it the commission is the sharer's.
func TestRefunds(t *testing.T) {
	t.Run("no hold: commission kept", func(t *testing.T) {
		e := newEnv(t, "100")
		c := e.campaign(10)
		a, b := e.user("甲"), e.user("乙")
		e.svc.Bind(ctx, c, b, e.svc.ShareToken(c.ID, a.ID)) //nolint:errcheck
		o := e.buy(c, b, 2)
		o, err := e.svc.Refund(ctx, e.merchant, o.ID, "不想要了")
		if err != nil || o.Status != campaign.Refunded || o.CommissionStatus != "earned" {
			t.Fatalf("refund: %+v %v", o, err)
		}
		equal(t, "A's vault", e.balance(wallet.VaultOf(e.merchant, a.ID)), "4")
		if c = e.reload(c); c.Sold != 2 || c.Left() != 8 {
			t.Fatalf("stock returned by a refund: sold %d left %d", c.Sold, c.Left())
		}
		// Refunding again, or WeChat's refund notification, changes nothing.
		if _, err := e.svc.Refund(ctx, e.merchant, o.ID, ""); err != nil {
			t.Fatal(err)
		}
		led := simulator.Ledger()
		refunds := 0
		for _, r := range led.Refunds {
			if r.OutTradeNo == o.OutTradeNo {
				refunds++
			}
		}
		if refunds != 1 {
			t.Fatalf("simulator refunded the order %d times", refunds)
		}
		audit(t, e.db)
	})

	t.Run("hold: refund within voids, after keeps", func(t *testing.T) {
		e := newEnv(t, "100")
		c := e.campaign(10, func(s *campaign.Settings) { s.HoldDays = 7 })
		a, b, x := e.user("甲"), e.user("乙"), e.user("丙")
		e.svc.Bind(ctx, c, b, e.svc.ShareToken(c.ID, a.ID)) //nolint:errcheck
		e.svc.Bind(ctx, c, x, e.svc.ShareToken(c.ID, a.ID)) //nolint:errcheck
		ob, ox := e.buy(c, b, 2), e.buy(c, x, 1)
		if ob.CommissionStatus != "held" {
			t.Fatalf("commission %s, want held", ob.CommissionStatus)
		}
		v, _ := e.wallet.Vault(ctx, e.merchant, a.ID)
		equal(t, "pending", v.Pending, "6")
		equal(t, "available", v.Available, "0")

		// B's order is refunded within the hold: its 4.00 goes back to the reserve.
		if _, err := e.svc.Refund(ctx, e.merchant, ob.ID, ""); err != nil {
			t.Fatal(err)
		}
		equal(t, "reserve after the void", e.balance(wallet.ReserveOf(e.merchant, c.ID)), "18")
		audit(t, e.db)

		// Nothing settles early; after seven days X's commission becomes claimable.
		if _, err := e.svc.SettleHeld(ctx); err != nil {
			t.Fatal(err)
		}
		if v, _ = e.wallet.Vault(ctx, e.merchant, a.ID); !v.Pending.Equal(d("2")) {
			t.Fatalf("pending %s after settling before the hold passed, want 2", v.Pending)
		}
		clock.Advance(7*24*time.Hour + time.Minute)
		defer clock.Advance(-7*24*time.Hour - time.Minute)
		if _, err := e.svc.SettleHeld(ctx); err != nil {
			t.Fatal(err)
		}
		v, _ = e.wallet.Vault(ctx, e.merchant, a.ID)
		equal(t, "pending after the hold", v.Pending, "0")
		equal(t, "available after the hold", v.Available, "2")
		// A refund after the hold keeps the commission.
		if o, err := e.svc.Refund(ctx, e.merchant, ox.ID, ""); err != nil || o.CommissionStatus != "earned" {
			t.Fatalf("refund after the hold: %+v %v", o, err)
		}
		equal(t, "A's vault after the late refund", e.balance(wallet.VaultOf(e.merchant, a.ID)), "2")
		audit(t, e.db)
	})
}

// The console refunds part of an order: an amount up to what is left, with a reason the buyer
// sees. With a hold, the held commission of the whole units refunded is voided and the rest
// kept; refunding the whole rest is the full refund. Without a hold a credited commission stays.
func TestPartialRefunds(t *testing.T) {
	e := newEnv(t, "1000")
	c := e.campaign(10, func(s *campaign.Settings) { s.HoldDays = 7 })
	sharer, buyer := e.user("分享者"), e.user("买三件")
	if _, err := e.svc.Bind(ctx, c, buyer, e.svc.ShareToken(c.ID, sharer.ID)); err != nil {
		t.Fatal(err)
	}
	o := e.buy(c, buyer, 3) // 264.00, commission 6.00 held
	for _, tc := range []struct{ amount, want string }{
		{"264.01", "0.01 到 264.00 元"}, {"0.001", "最多两位小数"}, {"-1", "0.01 到"},
	} {
		_, err := e.svc.RefundPart(ctx, e.merchant, o.ID, d(tc.amount), "")
		var ve *campaign.ValidationError
		if !errors.As(err, &ve) || !strings.Contains(ve.Fields["amount"], tc.want) {
			t.Errorf("refund of %s: %v, want …%s…", tc.amount, err, tc.want)
		}
	}
	r, err := e.svc.RefundPart(ctx, e.merchant, o.ID, d("100.00"), "少发一盒")
	if err != nil || r.Status != campaign.Paid || !r.Refunded.Equal(d("100")) || r.VoidedQty != 1 || r.CommissionStatus != "held" {
		t.Fatalf("partial refund: %+v %v", r, err)
	}
	v, _ := e.wallet.Vault(ctx, e.merchant, sharer.ID)
	equal(t, "pending after voiding one unit", v.Pending, "4")
	notes, err := e.svc.Refunds(ctx, r)
	if err != nil || len(notes) != 1 || notes[0].Reason != "少发一盒" || !notes[0].Amount.Equal(d("100")) {
		t.Fatalf("refund notes: %+v %v", notes, err)
	}
	audit(t, e.db)
	if _, err := e.svc.RefundPart(ctx, e.merchant, o.ID, d("164.01"), ""); !errors.Is(err, campaign.ErrInvalid) {
		t.Fatalf("more than the 164.00 left: %v", err)
	}
	r, err = e.svc.RefundPart(ctx, e.merchant, o.ID, d("164.00"), "全部退掉")
	if err != nil || r.Status != campaign.Refunded || r.CommissionStatus != "voided" || r.VoidedQty != 3 {
		t.Fatalf("refunding the rest: %+v %v", r, err)
	}
	equal(t, "reserve after voiding all", e.balance(wallet.ReserveOf(e.merchant, c.ID)), "20")
	audit(t, e.db)

	// No hold: a partial refund keeps the credited commission (the classic rule).
	free := e.campaign(10)
	b2 := e.user("买两件")
	if _, err := e.svc.Bind(ctx, free, b2, e.svc.ShareToken(free.ID, sharer.ID)); err != nil {
		t.Fatal(err)
	}
	o2 := e.buy(free, b2, 2)
	if r, err := e.svc.RefundPart(ctx, e.merchant, o2.ID, d("88.00"), ""); err != nil || r.CommissionStatus != "earned" || r.VoidedQty != 0 {
		t.Fatalf("partial refund without a hold: %+v %v", r, err)
	}
	v, _ = e.wallet.Vault(ctx, e.merchant, sharer.ID)
	equal(t, "claimable", v.Available, "4")
	audit(t, e.db)
}
