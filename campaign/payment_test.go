package campaign_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"fenxiao/campaign"
	"fenxiao/wallet"
	"fenxiao/wechat"
)

// One batch of payments holds every kind WeChat can report, in one order: a sharer's own
// first order followed by their friend's (buy-before-share holds within the batch), the same
// payment twice, a payment of an order closed meanwhile, another amount, an unknown order.
// Each gets the answer it would get alone, and the ledger and counters agree (audit).
func TestPaymentBatchAnswersEachAsAlone(t *testing.T) {
	e := newEnv(t, "1000")
	c := e.campaign(20, func(s *campaign.Settings) { s.BuyBeforeShare = true })
	sharer, friend, stranger, closer, cheat := e.user("分享者"), e.user("好友"), e.user("路人"), e.user("晚付"), e.user("改价")
	if _, err := e.svc.Bind(ctx, c, friend, e.svc.ShareToken(c.ID, sharer.ID)); err != nil {
		t.Fatal(err)
	}
	order := func(u *campaign.User, qty int) *campaign.Order {
		o, err := e.svc.ReserveOrder(ctx, c.ID, u, qty)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	own, friends, strangers, late, cheats := order(sharer, 1), order(friend, 2), order(stranger, 1), order(closer, 1), order(cheat, 1)
	if closed, err := e.svc.CloseOrder(ctx, late); err != nil || !closed {
		t.Fatalf("close: %v %v", closed, err)
	}
	pay := func(o *campaign.Order, txn string) campaign.Payment {
		return campaign.Payment{MerchantID: e.merchant, OutTradeNo: o.OutTradeNo, TransactionID: txn, Fen: o.Amount.Shift(2).IntPart()}
	}
	wrong := pay(cheats, "4200cheat")
	wrong.Fen = 1
	got := e.svc.PayTogether([]campaign.Payment{
		pay(own, "4200own"), pay(friends, "4200friend"), pay(friends, "4200friend-again"), pay(strangers, "4200stranger"),
		pay(late, "4200late"), wrong, {MerchantID: e.merchant, OutTradeNo: "FXNOSUCHORDER", TransactionID: "4200none", Fen: 100},
	})
	want := []struct {
		recorded bool
		err      error
	}{{true, nil}, {true, nil}, {false, nil}, {true, nil}, {true, nil}, {false, wechat.ErrAmountMismatch}, {false, campaign.ErrNotFound}}
	for i, w := range want {
		if got[i].Recorded != w.recorded || (w.err == nil) != (got[i].Err == nil) || (w.err != nil && !errors.Is(got[i].Err, w.err)) {
			t.Errorf("payment %d: recorded %v, err %v; want %v, %v", i, got[i].Recorded, got[i].Err, w.recorded, w.err)
		}
	}
	check := func(o *campaign.Order, status campaign.OrderStatus, commission, why string, paidLate bool) {
		t.Helper()
		r, err := e.svc.Order(ctx, e.merchant, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != status || r.CommissionStatus != commission || r.NoCommission != why || r.PaidLate != paidLate {
			t.Errorf("order %d: %s, commission %s (%q), late %v; want %s, %s (%q), late %v", o.ID, r.Status, r.CommissionStatus, r.NoCommission,
				r.PaidLate, status, commission, why, paidLate)
		}
	}
	check(own, campaign.Paid, "none", campaign.NoSharer, false)
	check(friends, campaign.Paid, "earned", "", false)
	check(strangers, campaign.Paid, "none", campaign.NoSharer, false)
	check(late, campaign.Paid, "none", campaign.NoSharer, true)
	check(cheats, campaign.Pending, "none", "", false)
	if r, _ := e.svc.Order(ctx, e.merchant, friends.ID); r.TransactionID == nil || *r.TransactionID != "4200friend" {
		t.Errorf("friend's order kept transaction %v, want the first report's", r.TransactionID)
	}
	if r := e.reload(c); r.Sold != 5 || r.Held != 1 || r.Earned != 2 || r.Buyers != 5 {
		t.Errorf("campaign: sold %d, held %d, earned %d, buyers %d; want 5, 1, 2, 5", r.Sold, r.Held, r.Earned, r.Buyers)
	}
	equal(t, "sharer's vault", e.balance(wallet.VaultOf(e.merchant, sharer.ID)), "4.00")

	// The same reports again, batched or alone, change nothing.
	again := e.svc.PayTogether([]campaign.Payment{pay(own, "4200own"), pay(friends, "4200friend")})
	if again[0].Recorded || again[1].Recorded || again[0].Err != nil || again[1].Err != nil {
		t.Errorf("replayed batch: %+v", again)
	}
	equal(t, "sharer's vault after replays", e.balance(wallet.VaultOf(e.merchant, sharer.ID)), "4.00")
	audit(t, e.db)
}

// A batch that fails as a whole (here: one payment names a WeChat transaction already paid
// for another order) is recorded one by one: the bad payment is refused, the others land.
func TestPaymentBatchSurvivesOneBadPayment(t *testing.T) {
	e := newEnv(t, "1000")
	c := e.campaign(10)
	sharer := e.user("分享者")
	var orders []*campaign.Order
	for i := range 4 {
		u := e.user(fmt.Sprintf("买家%d", i))
		if _, err := e.svc.Bind(ctx, c, u, e.svc.ShareToken(c.ID, sharer.ID)); err != nil {
			t.Fatal(err)
		}
		o, err := e.svc.ReserveOrder(ctx, c.ID, u, 1)
		if err != nil {
			t.Fatal(err)
		}
		orders = append(orders, o)
	}
	fen := orders[0].Amount.Shift(2).IntPart()
	if _, err := e.svc.MarkPaid(ctx, e.merchant, orders[0].OutTradeNo, "4200taken", fen, time.Time{}); err != nil {
		t.Fatal(err)
	}
	var ps []campaign.Payment
	for i, o := range orders[1:] {
		txn := fmt.Sprintf("4200ok%d", i)
		if i == 1 {
			txn = "4200taken" // the transaction of orders[0]: forged or a WeChat mix-up
		}
		ps = append(ps, campaign.Payment{MerchantID: e.merchant, OutTradeNo: o.OutTradeNo, TransactionID: txn, Fen: fen})
	}
	got := e.svc.PayTogether(ps)
	if !got[0].Recorded || !got[2].Recorded || got[0].Err != nil || got[2].Err != nil {
		t.Errorf("good payments: %+v, %+v", got[0], got[2])
	}
	if got[1].Err == nil || got[1].Recorded {
		t.Errorf("a reused transaction id was accepted: %+v", got[1])
	}
	if r := e.reload(c); r.Sold != 3 || r.Earned != 3 || r.Held != 1 {
		t.Errorf("campaign: sold %d, earned %d, held %d; want 3, 3, 1", r.Sold, r.Earned, r.Held)
	}
	equal(t, "sharer's vault", e.balance(wallet.VaultOf(e.merchant, sharer.ID)), "6.00")
	audit(t, e.db)
}

// Payments arriving together on two replicas of one campaign, each report twice, are each
// recorded exactly once and credit exactly once.
func TestPaymentsOnTwoReplicasRecordedOnce(t *testing.T) {
	e := newEnv(t, "1000")
	c := e.campaign(100)
	sharer := e.user("分享者")
	other := newService(t, e.db)
	var orders []*campaign.Order
	for i := range 40 {
		u := e.user(fmt.Sprintf("买家%d", i))
		if _, err := e.svc.Bind(ctx, c, u, e.svc.ShareToken(c.ID, sharer.ID)); err != nil {
			t.Fatal(err)
		}
		o, err := e.svc.ReserveOrder(ctx, c.ID, u, 1)
		if err != nil {
			t.Fatal(err)
		}
		orders = append(orders, o)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	recorded := map[int64]int{}
	errs := make(chan error, 4*len(orders))
	for _, o := range orders {
		for _, svc := range []*campaign.Service{e.svc, other, e.svc, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := svc.MarkPaid(ctx, e.merchant, o.OutTradeNo, fmt.Sprintf("4200two%020d", o.ID), o.Amount.Shift(2).IntPart(), time.Time{})
				if err != nil {
					errs <- err
					return
				}
				if ok {
					mu.Lock()
					recorded[o.ID]++
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, o := range orders {
		if recorded[o.ID] != 1 {
			t.Errorf("order %d recorded %d times", o.ID, recorded[o.ID])
		}
	}
	if r := e.reload(c); r.Sold != 40 || r.Earned != 40 || r.Held != 0 {
		t.Errorf("campaign: sold %d, earned %d, held %d; want 40, 40, 0", r.Sold, r.Earned, r.Held)
	}
	equal(t, "sharer's vault", e.balance(wallet.VaultOf(e.merchant, sharer.ID)), "80.00")
	audit(t, e.db)
}
