package campaign_test

import (
	"sync"
	"testing"

	"fenxiao/campaign"
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
