package campaign_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fenxiao/campaign"
	"fenxiao/wallet"
)

// One follower cannot hold the stock: a buyer has at most one live unpaid order per campaign,
// and buying again (however often, however fast) pays that one. Once it is paid, the next
// purchase is a new order, and other buyers are not affected.
func TestOneLiveUnpaidOrderPerBuyer(t *testing.T) {
	e := newEnv(t, "1000")
	c := e.campaign(100)
	hog, other := e.user("囤货"), e.user("正常")
	first, err := e.svc.CreateOrder(ctx, c.ID, hog, 2, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([]*campaign.Checkout, 11)
	errs := make([]error, 11)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i], errs[i] = e.svc.CreateOrder(ctx, c.ID, hog, 10, "127.0.0.1") }()
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i].Order.ID != first.Order.ID || !got[i].Existing || got[i].Pay.Package != first.Pay.Package {
			t.Fatalf("buy %d while an order is unpaid: %+v %v", i, got[i], errs[i])
		}
	}
	if c = e.reload(c); c.Held != 2 || c.Buyers != 1 {
		t.Fatalf("after 12 buys by one follower: held %d, buyers %d; want 2 and 1", c.Held, c.Buyers)
	}
	o := e.buy(c, other, 3) // another buyer buys as usual
	if o.Qty != 3 {
		t.Fatalf("the other buyer's order: %+v", o)
	}
	e.pay(first, hog)
	e.waitStatus(first.Order.ID, campaign.Paid)
	next, err := e.svc.CreateOrder(ctx, c.ID, hog, 1, "127.0.0.1")
	if err != nil || next.Existing || next.Order.ID == first.Order.ID {
		t.Fatalf("a purchase after paying: %+v %v", next, err)
	}
	if c = e.reload(c); c.Held != 1 || c.Sold != 5 {
		t.Fatalf("held %d sold %d, want 1 and 5", c.Held, c.Sold)
	}
	audit(t, e.db)
}

// While units are only held by unpaid orders, the sold-out gate says when the first of them
// is released (not 已售罄 for good), and the buyer whose order holds them goes on to pay it.
func TestHeldStockGateSaysWhenItMayComeBack(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(1)
	holder, late := e.user("占着"), e.user("后来")
	co, err := e.svc.CreateOrder(ctx, c.ID, holder, 1, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	c = e.reload(c)
	g, err := e.svc.Enter(ctx, c, late, "127.0.0.1", 0)
	if err != nil || g.Reason != campaign.SoldOut || g.ReleasesAt == nil || !g.ReleasesAt.Equal(co.Order.ExpiresAt) {
		t.Fatalf("a latecomer while the last unit is held: %+v %v", g, err)
	}
	if g, err := e.svc.Enter(ctx, c, holder, "127.0.0.1", 0); err != nil || g.Reason != campaign.Open {
		t.Fatalf("the holder of the unpaid order: %+v %v", g, err)
	}
	e.pay(co, holder)
	e.waitStatus(co.Order.ID, campaign.Paid)
	if g, err := e.svc.Enter(ctx, e.reload(c), late, "127.0.0.1", 0); err != nil || g.Reason != campaign.SoldOut || g.ReleasesAt != nil {
		t.Fatalf("once the last unit is paid: %+v %v", g, err)
	}
	audit(t, e.db)
}

// The sharer is frozen on the order when it is made: a buyer bound to A who opens B's link
// between ordering and paying still pays A's commission, and the order names A from the start.
// The later binding counts for the buyer's next order, as documented.
func TestSharerIsFrozenWhenTheOrderIsMade(t *testing.T) {
	e := newEnv(t, "1000")
	c := e.campaign(20)
	a, b, buyer := e.user("阿明"), e.user("小白"), e.user("买家")
	if ok, err := e.svc.Bind(ctx, c, buyer, e.svc.ShareToken(c.ID, a.ID)); err != nil || !ok {
		t.Fatalf("bind to A: %v %v", ok, err)
	}
	co, err := e.svc.CreateOrder(ctx, c.ID, buyer, 2, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if co.Order.SharerID == nil || *co.Order.SharerID != a.ID {
		t.Fatalf("a new order of a buyer bound to A names sharer %v, want %d", co.Order.SharerID, a.ID)
	}
	if ok, err := e.svc.Bind(ctx, c, buyer, e.svc.ShareToken(c.ID, b.ID)); err != nil || !ok {
		t.Fatalf("bind to B before paying: %v %v", ok, err)
	}
	again, err := e.svc.CreateOrder(ctx, c.ID, buyer, 2, "127.0.0.1") // the same unpaid order
	if err != nil || !again.Existing || *again.Order.SharerID != a.ID {
		t.Fatalf("buying again before paying: %+v %v", again, err)
	}
	e.pay(co, buyer)
	o := e.waitStatus(co.Order.ID, campaign.Paid)
	if o.SharerID == nil || *o.SharerID != a.ID || !o.Commission.Equal(d("4")) {
		t.Fatalf("paid order credits %v with %s, want A with 4", o.SharerID, o.Commission)
	}
	equal(t, "A's vault", e.balance(wallet.VaultOf(e.merchant, a.ID)), "4")
	equal(t, "B's vault", e.balance(wallet.VaultOf(e.merchant, b.ID)), "0")

	next := e.buy(c, buyer, 1) // the next order follows the newer binding
	if next.SharerID == nil || *next.SharerID != b.ID {
		t.Fatalf("the next order credits %v, want B", next.SharerID)
	}
	equal(t, "B's vault", e.balance(wallet.VaultOf(e.merchant, b.ID)), "2")
	audit(t, e.db)
}

// Order attempts are limited per buyer and per public address, before WeChat is asked anything;
// loopback and private addresses (a proxy's, not a follower's) are not limited per address.
func TestOrderAttemptsAreRateLimited(t *testing.T) {
	defer clock.Freeze(inOneWindow())()
	e := newEnv(t, "3000")
	c := e.campaign(1000)
	hog := e.user("刷单")
	for i := range 10 {
		if _, err := e.svc.Buy(ctx, c, hog, 1, "127.0.0.1"); err != nil {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	_, err := e.svc.Buy(ctx, c, hog, 1, "127.0.0.1")
	var rl *campaign.RateLimitError
	if !errors.As(err, &rl) || !errors.Is(err, campaign.ErrTooManyRequests) || rl.Seconds() < 1 || rl.Seconds() > 60 {
		t.Fatalf("the 11th attempt in a minute: %v", err)
	}
	if _, err := e.svc.Buy(ctx, c, e.user("别人"), 1, "127.0.0.1"); err != nil {
		t.Fatalf("another buyer at the same time: %v", err)
	}

	// 60 buyers from one public address pass; the 61st is refused; another address is not.
	const ip = "113.108.81.189"
	for i := range 60 {
		if _, err := e.svc.Buy(ctx, c, e.user(fmt.Sprint("同址", i)), 1, ip); err != nil {
			t.Fatalf("buyer %d from %s: %v", i+1, ip, err)
		}
	}
	if _, err := e.svc.Buy(ctx, c, e.user("同址61"), 1, ip); !errors.As(err, &rl) {
		t.Fatalf("the 61st buyer from one address in a minute: %v", err)
	}
	if _, err := e.svc.Buy(ctx, c, e.user("别处"), 1, "123.125.71.38"); err != nil {
		t.Fatalf("a buyer from another address: %v", err)
	}
	for i := range 70 { // loopback: a proxy's address, never limited as an address
		if _, err := e.svc.Buy(ctx, c, e.user(fmt.Sprint("本机", i)), 1, "127.0.0.1"); err != nil {
			t.Fatalf("buyer %d from loopback: %v", i+1, err)
		}
	}
	audit(t, e.db)
}

// Many accounts together cannot guess a campaign's password: past 100 wrong tries a minute for
// the campaign, every try is refused with when to come back. Right answers before that do not
// use up the count.
func TestCampaignPasswordCapAcrossUsers(t *testing.T) {
	defer clock.Freeze(inOneWindow())()
	e := newEnv(t, "1000")
	c := e.campaign(10, func(s *campaign.Settings) { s.Password = "8848" })
	for i := range 20 { // 20 accounts, 5 wrong tries each: within each one's own limit
		u := e.user(fmt.Sprint("猜", i))
		for j := range 5 {
			if err := e.svc.TryPassword(ctx, c, u, fmt.Sprintf("%04d", i*5+j)); !errors.Is(err, campaign.ErrWrongPassword) {
				t.Fatalf("guess %d of account %d: %v", j, i, err)
			}
		}
		if i == 10 { // an honest follower in the middle of the attack gets in, using no place
			if err := e.svc.TryPassword(ctx, c, e.user("老客"), "8848"); err != nil {
				t.Fatalf("the right password during the attack: %v", err)
			}
		}
	}
	var rl *campaign.RateLimitError
	err := e.svc.TryPassword(ctx, c, e.user("第101次"), "8848")
	if !errors.As(err, &rl) || rl.What != "本活动的密码尝试" {
		t.Fatalf("a try after 100 wrong ones this minute: %v", err)
	}
}

// Share events count once per sharer, campaign and channel a minute, however many are posted.
func TestShareEventsCountOncePerMinute(t *testing.T) {
	defer clock.Freeze(inOneWindow())()
	e := newEnv(t, "1000")
	c := e.campaign(10)
	a, b := e.user("分享狂"), e.user("正常分享")
	for range 300 {
		if err := e.svc.RecordShare(ctx, c, a.ID, "chat"); err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range []string{"moments", "poster"} {
		if err := e.svc.RecordShare(ctx, c, a.ID, ch); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.svc.RecordShare(ctx, c, b.ID, "chat"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM shares WHERE campaign_id = $1`, c.ID); err != nil || n != 4 {
		t.Fatalf("shares counted: %d %v, want 4 (3 channels of one sharer, 1 of another)", n, err)
	}
}

// inOneWindow is a moment just after the next whole minute, for tests that count events in a
// rate limit's one-minute window: with the clock frozen there, none of them can straddle two.
func inOneWindow() time.Time {
	return clock.Now().Truncate(time.Minute).Add(time.Minute + time.Second)
}

// Parallel attempts, on two replicas at once, count one each: of 40 order attempts by one
// buyer in one minute exactly 10 get through (counts are batched per replica, so the batches
// must add up exactly and never count an attempt twice or lose one).
func TestParallelOrderAttemptsCountOnceEach(t *testing.T) {
	defer clock.Freeze(inOneWindow())()
	e := newEnv(t, "3000")
	c := e.campaign(1000)
	other := newService(t, e.db)
	hog := e.user("并发刷单")
	var wg sync.WaitGroup
	var passed, limited atomic.Int32
	errs := make(chan error, 40)
	for i := range 40 {
		svc := e.svc
		if i%2 == 1 {
			svc = other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := svc.Buy(ctx, c, hog, 1, "127.0.0.1")
			switch {
			case err == nil:
				passed.Add(1)
			case errors.Is(err, campaign.ErrTooManyRequests):
				limited.Add(1)
			default:
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if passed.Load() != 10 || limited.Load() != 30 {
		t.Fatalf("%d attempts passed and %d were limited, want 10 and 30", passed.Load(), limited.Load())
	}
	if r := e.reload(c); r.Held != 1 {
		t.Errorf("%d units held, want the one live order", r.Held)
	}
}
