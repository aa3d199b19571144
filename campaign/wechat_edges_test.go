package campaign_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"fenxiao/campaign"
	"fenxiao/wallet"
	"fenxiao/wechat/sim"
)

// simPayment is the simulator's record of an order's payment.
func simPayment(t *testing.T, outTradeNo string) sim.Payment {
	t.Helper()
	for _, p := range simulator.Ledger().Payments {
		if p.OutTradeNo == outTradeNo {
			return p
		}
	}
	t.Fatalf("the simulator knows no order %s", outTradeNo)
	return sim.Payment{}
}

// expire makes an order's timeout pass and lets the expiry job close it (at WeChat too).
func (e *env) expire(co *campaign.Checkout) {
	e.t.Helper()
	clock.Advance(16 * time.Minute)
	e.t.Cleanup(func() { clock.Advance(-16 * time.Minute) })
	if _, err := e.svc.CloseExpired(ctx); err != nil {
		e.t.Fatal(err)
	}
	e.waitStatus(co.Order.ID, campaign.Closed)
}

// waitDelivered waits until WeChat has been answered SUCCESS for the order's notification.
func waitDelivered(t *testing.T, outTradeNo string) sim.Payment {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p := simPayment(t, outTradeNo)
		if p.NotifyDelivered {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("WeChat's notification of %s was never answered SUCCESS (%d attempts)", outTradeNo, p.NotifyAttempts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func prepayID(co *campaign.Checkout) string { return strings.TrimPrefix(co.Pay.Package, "prepay_id=") }

// oversold makes a campaign of one unit whose first order closes, whose unit then goes to
// another buyer, and whose first buyer then pays: the payment WeChat reports is oversold.
func (e *env) oversold() (*campaign.Campaign, *campaign.Checkout) {
	e.t.Helper()
	c := e.campaign(1)
	late, other := e.user("迟付"), e.user("抢到")
	co, err := e.svc.CreateOrder(ctx, c.ID, late, 1, "127.0.0.1")
	if err != nil {
		e.t.Fatal(err)
	}
	e.expire(co)
	e.buy(c, other, 1) // the last unit
	if err := simulator.PayLate(prepayID(co), late.OpenID); err != nil {
		e.t.Fatal(err)
	}
	return c, co
}

// A payment for an order closed meanwhile is never lost: with the stock still there it is
// recorded paid (late), takes its stock and buyer place again and earns its sharer's
// commission.
func TestLatePaymentWithStockIsRecorded(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(10)
	a, b := e.user("甲"), e.user("乙")
	e.svc.Bind(ctx, c, b, e.svc.ShareToken(c.ID, a.ID)) //nolint:errcheck
	co, err := e.svc.CreateOrder(ctx, c.ID, b, 2, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	e.expire(co)
	if c = e.reload(c); c.Held != 0 || c.Buyers != 0 {
		t.Fatalf("after the close: held %d buyers %d", c.Held, c.Buyers)
	}
	if err := simulator.PayLate(prepayID(co), b.OpenID); err != nil {
		t.Fatal(err)
	}
	o := e.waitStatus(co.Order.ID, campaign.Paid)
	waitDelivered(t, co.Order.OutTradeNo)
	if !o.PaidLate || o.TransactionID == nil || o.CommissionStatus != "earned" || !strings.Contains(o.Notice(), "请正常发货") {
		t.Fatalf("late payment: %+v (notice %q)", o, o.Notice())
	}
	if c = e.reload(c); c.Sold != 2 || c.Buyers != 1 {
		t.Fatalf("after the late payment: sold %d buyers %d", c.Sold, c.Buyers)
	}
	equal(t, "A's vault", e.balance(wallet.VaultOf(e.merchant, a.ID)), "4")
	audit(t, e.db)
}

// When the stock went to others after the close, the payment is recorded as oversold, WeChat
// is told SUCCESS, and the job refunds it through WeChat Pay; the console says so.
func TestLatePaymentOversoldIsRefunded(t *testing.T) {
	e := newEnv(t, "100")
	c, co := e.oversold()
	o := e.waitStatus(co.Order.ID, campaign.Oversold)
	waitDelivered(t, co.Order.OutTradeNo)
	if o.TransactionID == nil || o.CommissionStatus != "none" || !strings.Contains(o.Notice(), "正在自动原路退款") {
		t.Fatalf("oversold order: %+v (notice %q)", o, o.Notice())
	}
	if n, err := e.svc.RefundOversold(ctx); err != nil || n != 1 {
		t.Fatalf("refunded %d oversold orders (%v)", n, err)
	}
	o, err := e.svc.Order(ctx, e.merchant, o.ID)
	if err != nil || o.RefundedAt == nil || !o.Refunded.Equal(o.Amount) || !strings.Contains(o.Notice(), "已自动原路退款") {
		t.Fatalf("after the refund job: %+v %v", o, err)
	}
	if p := simPayment(t, o.OutTradeNo); p.RefundedFen != 8800 {
		t.Fatalf("WeChat refunded %d fen, want 8800", p.RefundedFen)
	}
	if n, err := e.svc.RefundOversold(ctx); err != nil || n != 0 {
		t.Fatalf("a second run refunded %d (%v)", n, err)
	}
	if c = e.reload(c); c.Sold != 1 || c.Buyers != 1 {
		t.Fatalf("sold %d buyers %d, want 1 and 1", c.Sold, c.Buyers)
	}
	audit(t, e.db)
}

// After the campaign ended and released its reserve, a late payment is still recorded (not
// answered FAIL forever) and earns nothing: the reserve no longer holds its commission.
func TestLatePaymentAfterReleaseEarnsNothing(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(10)
	a, b := e.user("甲"), e.user("乙")
	e.svc.Bind(ctx, c, b, e.svc.ShareToken(c.ID, a.ID)) //nolint:errcheck
	co, err := e.svc.CreateOrder(ctx, c.ID, b, 1, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	e.expire(co)
	if _, err := e.svc.EndNow(ctx, e.merchant, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ReleaseEnded(ctx); err != nil {
		t.Fatal(err)
	}
	if c = e.reload(c); c.Status != campaign.Ended {
		t.Fatalf("campaign %s after the release job", c.Status)
	}
	if err := simulator.PayLate(prepayID(co), b.OpenID); err != nil {
		t.Fatal(err)
	}
	o := e.waitStatus(co.Order.ID, campaign.Paid)
	waitDelivered(t, co.Order.OutTradeNo)
	if o.CommissionStatus != "none" || o.NoCommission != campaign.ReserveReleased || !strings.Contains(o.CommissionLabel(), "不计佣金") {
		t.Fatalf("commission %s (%s) on a payment after the release", o.CommissionStatus, o.NoCommission)
	}
	equal(t, "A's vault", e.balance(wallet.VaultOf(e.merchant, a.ID)), "0")
	equal(t, "reserve", e.balance(wallet.ReserveOf(e.merchant, c.ID)), "0")
	if earn, err := e.svc.Earnings(ctx, e.merchant, a.ID, 10); err != nil || earn.UnitsAfterRelease != 1 {
		t.Fatalf("the sharer's page is not told of the unit paid after the release: %+v %v", earn, err)
	}
	audit(t, e.db)
}

// The buyer limit counts a late buyer: their payment takes a place back even when that goes
// over the limit, and the next newcomer is refused.
func TestLatePaymentCountsAgainstTheBuyerLimit(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(10, func(s *campaign.Settings) { s.BuyerLimit = 1 })
	late, first, third := e.user("迟付"), e.user("先到"), e.user("后来")
	co, err := e.svc.CreateOrder(ctx, c.ID, late, 1, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	e.expire(co)
	e.buy(c, first, 1)
	if err := simulator.PayLate(prepayID(co), late.OpenID); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(co.Order.ID, campaign.Paid)
	if c = e.reload(c); c.Buyers != 2 {
		t.Fatalf("buyers %d, want 2 (the late buyer counts)", c.Buyers)
	}
	if _, err := e.svc.CreateOrder(ctx, c.ID, third, 1, "127.0.0.1"); err == nil {
		t.Fatal("a third buyer got in past a limit of 1")
	}
	audit(t, e.db)
}

// WeChat-side state reaches the order: an order paid and then refunded in WeChat Pay's
// merchant platform (no notification reached us) is recorded paid and refunded by the query
// job, its held commission voided; an order WeChat closed is closed here, its stock back.
func TestWeChatSideStateReachesTheOrder(t *testing.T) {
	t.Run("refunded in the merchant platform", func(t *testing.T) {
		e := newEnv(t, "100")
		c := e.campaign(10, func(s *campaign.Settings) { s.HoldDays = 7 })
		a, b := e.user("甲"), e.user("乙")
		e.svc.Bind(ctx, c, b, e.svc.ShareToken(c.ID, a.ID)) //nolint:errcheck
		co, err := e.svc.CreateOrder(ctx, c.ID, b, 1, "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		hooks.Delete(e.merchant) // our notification endpoint is down: WeChat's notifications fail
		if err := simulator.Pay(prepayID(co), b.OpenID); err != nil {
			t.Fatal(err)
		}
		if _, err := simulator.RefundInPlatform(e.creds.MchID, co.Order.OutTradeNo, 8800, ""); err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Minute)
		defer clock.Advance(-2 * time.Minute)
		if n, err := e.svc.QueryUnpaid(ctx); err != nil || n != 1 {
			t.Fatalf("found %d paid (%v)", n, err)
		}
		o, err := e.svc.Order(ctx, e.merchant, co.Order.ID)
		if err != nil || o.Status != campaign.Refunded || o.TransactionID == nil || o.CommissionStatus != "voided" || !o.Refunded.Equal(d("88")) {
			t.Fatalf("order after the query: %+v %v", o, err)
		}
		if c = e.reload(c); c.Held != 0 || c.Sold != 1 {
			t.Fatalf("held %d sold %d", c.Held, c.Sold)
		}
		equal(t, "A's pending", e.balance(wallet.PendingOf(e.merchant, a.ID)), "0")
		hooks.Store(e.merchant, e.svc)
		audit(t, e.db)
	})

	t.Run("closed by WeChat", func(t *testing.T) {
		e := newEnv(t, "100")
		c := e.campaign(10)
		b := e.user("乙")
		co, err := e.svc.CreateOrder(ctx, c.ID, b, 3, "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		wx, err := e.svc.Merchants().WeChatFor(ctx, e.merchant)
		if err != nil {
			t.Fatal(err)
		}
		if err := wx.CloseOrder(ctx, co.Order.OutTradeNo); err != nil { // closed at WeChat, not here
			t.Fatal(err)
		}
		clock.Advance(2 * time.Minute)
		defer clock.Advance(-2 * time.Minute)
		if _, err := e.svc.QueryUnpaid(ctx); err != nil {
			t.Fatal(err)
		}
		e.waitStatus(co.Order.ID, campaign.Closed)
		if c = e.reload(c); c.Held != 0 || c.Left() != 10 || c.Buyers != 0 {
			t.Fatalf("after WeChat's close: held %d left %d buyers %d", c.Held, c.Left(), c.Buyers)
		}
		audit(t, e.db)
	})
}

// A partial refund made in WeChat Pay's platform refunds part of the order: the order stays
// paid, and only the held commission of the whole units it covers is voided. The console's
// refund then refunds the rest.
func TestPartialRefundInThePlatform(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(10, func(s *campaign.Settings) { s.HoldDays = 7 })
	a, b := e.user("甲"), e.user("乙")
	e.svc.Bind(ctx, c, b, e.svc.ShareToken(c.ID, a.ID)) //nolint:errcheck
	o := e.buy(c, b, 3)                                 // 264.00, commission 6.00 held
	if _, err := simulator.RefundInPlatform(e.creds.MchID, o.OutTradeNo, 10000, e.svc.Merchants().RefundNotifyURL(e.merchant)); err != nil {
		t.Fatal(err) // 100.00: one whole unit (88.00) and a part of another
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if o, _ = e.svc.Order(ctx, e.merchant, o.ID); o.Refunded.IsPositive() || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if o.Status != campaign.Paid || !o.Refunded.Equal(d("100")) || o.VoidedQty != 1 || o.CommissionStatus != "held" || !strings.Contains(o.Notice(), "部分退款") {
		t.Fatalf("after a partial refund: %+v", o)
	}
	equal(t, "A's pending", e.balance(wallet.PendingOf(e.merchant, a.ID)), "4")
	audit(t, e.db)

	if o, err := e.svc.Refund(ctx, e.merchant, o.ID, "全部退"); err != nil || o.Status != campaign.Refunded || !o.Refunded.Equal(d("264")) || o.CommissionStatus != "voided" {
		t.Fatalf("refund of the rest: %+v %v", o, err)
	}
	if p := simPayment(t, o.OutTradeNo); p.RefundedFen != 26400 {
		t.Fatalf("WeChat refunded %d fen in all, want 26400", p.RefundedFen)
	}
	equal(t, "A's pending", e.balance(wallet.PendingOf(e.merchant, a.ID)), "0")
	audit(t, e.db)
}

// One merchant's broken WeChat (a wrong API key: SIGN_ERROR) or hanging WeChat does not stop
// the expiry job for the others: a healthy merchant's expired orders close in the same run,
// and the failing rows are backed off instead of being tried first again.
func TestExpiryJobIsolatesMerchants(t *testing.T) {
	broken, hanging, healthy := newEnv(t, "100"), newEnv(t, "100"), newEnv(t, "100")
	order := func(e *env, n int) []*campaign.Checkout {
		c := e.campaign(50)
		var cos []*campaign.Checkout
		for i := range n {
			co, err := e.svc.CreateOrder(ctx, c.ID, e.user(fmt.Sprintf("买家%d", i)), 1, "127.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			cos = append(cos, co)
		}
		return cos
	}
	// The broken and hanging merchants' orders are the oldest: today's job takes them first.
	order(broken, 25)
	order(hanging, 25)
	mine := order(healthy, 3)
	for _, f := range []sim.Fault{
		{Endpoint: "orderquery", Fault: "SIGN_ERROR", Count: 1000, Merchant: broken.creds.MchID},
		{Endpoint: "orderquery", Fault: sim.FaultTimeout, Count: 1000, Merchant: hanging.creds.MchID},
	} {
		if err := simulator.InjectFault(f); err != nil {
			t.Fatal(err)
		}
	}
	defer simulator.ClearFaults()
	clock.Advance(16 * time.Minute)
	defer clock.Advance(-16 * time.Minute)

	jctx, cancel := context.WithTimeout(ctx, 20*time.Second) // less than one timeout per hanging order
	defer cancel()
	start := time.Now()
	n, err := healthy.svc.CloseExpired(jctx)
	t.Logf("one run: %d closed in %s (%v)", n, time.Since(start).Round(time.Millisecond), err)
	for _, co := range mine {
		if o, _ := healthy.svc.Order(ctx, healthy.merchant, co.Order.ID); o.Status != campaign.Closed {
			t.Errorf("the healthy merchant's order %d is %s after the run", o.ID, o.Status)
		}
	}
	var backedOff int
	if err := broken.db.Get(&backedOff, `SELECT count(*) FROM orders WHERE merchant_id IN ($1, $2) AND retry_at > $3 AND last_error <> ''`,
		broken.merchant, hanging.merchant, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if backedOff == 0 {
		t.Error("no failing order was backed off")
	}
	audit(t, healthy.db)
}

// A refund made in WeChat Pay's platform with no refund notification set up there still
// reaches the order: paid orders ask WeChat for their refunds an hour, a day and a week after
// payment.
func TestPlatformRefundWithoutNotificationIsFound(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(10)
	b := e.user("乙")
	o := e.buy(c, b, 1)
	if _, err := simulator.RefundInPlatform(e.creds.MchID, o.OutTradeNo, 8800, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SyncRefunds(ctx); err != nil {
		t.Fatal(err)
	}
	if o, _ = e.svc.Order(ctx, e.merchant, o.ID); o.Status != campaign.Paid {
		t.Fatalf("checked before its hour: %s", o.Status)
	}
	clock.Advance(61 * time.Minute)
	defer clock.Advance(-61 * time.Minute)
	if n, err := e.svc.SyncRefunds(ctx); err != nil || n < 1 {
		t.Fatalf("checked %d orders (%v)", n, err)
	}
	if o, _ = e.svc.Order(ctx, e.merchant, o.ID); o.Status != campaign.Refunded || !o.Refunded.Equal(d("88")) {
		t.Fatalf("after the refund check: %s, refunded %s", o.Status, o.Refunded)
	}
	audit(t, e.db)
}

// Before a held commission becomes claimable WeChat is asked for the order's refunds: a
// platform refund within the hold that no notification reported voids what it covers.
func TestSettleAsksForPlatformRefundsFirst(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(10, func(s *campaign.Settings) { s.HoldDays = 7 })
	a, b := e.user("甲"), e.user("乙")
	e.svc.Bind(ctx, c, b, e.svc.ShareToken(c.ID, a.ID)) //nolint:errcheck
	o := e.buy(c, b, 2)                                 // 176.00, commission 4.00 held
	if _, err := simulator.RefundInPlatform(e.creds.MchID, o.OutTradeNo, 8800, ""); err != nil {
		t.Fatal(err) // one unit's worth, and nobody told us
	}
	clock.Advance(7*24*time.Hour + time.Minute)
	defer clock.Advance(-7*24*time.Hour - time.Minute)
	if _, err := e.svc.SettleHeld(ctx); err != nil {
		t.Fatal(err)
	}
	if o, _ = e.svc.Order(ctx, e.merchant, o.ID); o.VoidedQty != 1 || o.CommissionStatus != "earned" {
		t.Fatalf("after settling: voided %d, commission %s", o.VoidedQty, o.CommissionStatus)
	}
	equal(t, "A's claimable vault", e.balance(wallet.VaultOf(e.merchant, a.ID)), "2")
	audit(t, e.db)
}

// An oversold order that the merchant partly refunded in WeChat's platform (no notification)
// is refunded for what is left, not for its whole amount, which WeChat would refuse forever.
// Found by the simulation (seed 5).
func TestOversoldRefundCountsPlatformRefunds(t *testing.T) {
	e := newEnv(t, "100")
	_, co := e.oversold()
	e.waitStatus(co.Order.ID, campaign.Oversold)
	if _, err := simulator.RefundInPlatform(e.creds.MchID, co.Order.OutTradeNo, 3000, ""); err != nil {
		t.Fatal(err)
	}
	if n, err := e.svc.RefundOversold(ctx); err != nil || n != 1 {
		t.Fatalf("refunded %d (%v)", n, err)
	}
	o, err := e.svc.Order(ctx, e.merchant, co.Order.ID)
	if err != nil || o.RefundedAt == nil || !o.Refunded.Equal(d("88")) || o.LastError != "" {
		t.Fatalf("after the refund job: %+v %v", o, err)
	}
	if p := simPayment(t, o.OutTradeNo); p.RefundedFen != 8800 {
		t.Fatalf("WeChat refunded %d fen, want 8800", p.RefundedFen)
	}
	audit(t, e.db)
}
