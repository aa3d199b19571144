package campaign_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"fenxiao/campaign"
)

// Two replicas (two Services on one database, each batching its own buyers' orders) selling
// one campaign at once sell exactly its stock: the batches decide on the locked campaign row.
// Every buyer gets an order or a clear sold-out, the buyer limit holds, and a buyer's second
// attempt in the same moment gets their first order back.
func TestTwoReplicasSellExactlyTheStock(t *testing.T) {
	e := newEnv(t, "1000")
	const stock, buyers = 60, 200
	c := e.campaign(stock, func(s *campaign.Settings) { s.BuyerLimit = 50 })
	replicas := []*campaign.Service{e.svc, newService(t, e.db)}
	us := make([]*campaign.User, buyers)
	for i := range us {
		us[i] = e.user(fmt.Sprintf("抢购%d", i))
	}
	type outcome struct {
		order *campaign.Order
		err   error
	}
	out := make([][2]outcome, buyers)
	var wg sync.WaitGroup
	for i, u := range us {
		for k := range 2 { // each buyer tries twice at once, on both replicas
			wg.Add(1)
			go func() {
				defer wg.Done()
				co, err := replicas[(i+k)%2].CreateOrder(ctx, c.ID, u, 1, "127.0.0.1")
				if err == nil {
					out[i][k].order = co.Order
				}
				out[i][k].err = err
			}()
		}
	}
	wg.Wait()
	sold, limited := 0, 0
	for i, o := range out {
		a, b := o[0], o[1]
		switch {
		case a.err == nil && b.err == nil:
			if a.order.ID != b.order.ID {
				t.Errorf("buyer %d got two orders %d and %d", i, a.order.ID, b.order.ID)
			}
			sold++
		case a.err == nil || b.err == nil:
			t.Errorf("buyer %d: one attempt made an order, the other failed: %v %v", i, a.err, b.err)
		case errors.Is(a.err, campaign.ErrBuyerLimit) && errors.Is(b.err, campaign.ErrBuyerLimit):
			limited++
		case errors.Is(a.err, campaign.ErrSoldOut) && errors.Is(b.err, campaign.ErrSoldOut):
		default:
			t.Errorf("buyer %d: %v / %v", i, a.err, b.err)
		}
	}
	if sold != 50 {
		t.Errorf("%d buyers got an order, want the buyer limit, 50", sold)
	}
	if limited != buyers-50 {
		t.Errorf("%d buyers refused by the buyer limit, want %d", limited, buyers-50)
	}
	if c = e.reload(c); c.Held != 50 || c.Buyers != 50 {
		t.Errorf("campaign holds %d units for %d buyers, want 50 and 50", c.Held, c.Buyers)
	}
	// Without a buyer limit the stock is the limit.
	c2 := e.campaign(stock)
	var mu sync.Mutex
	made, soldOut := 0, 0
	for i, u := range us {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := replicas[i%2].CreateOrder(ctx, c2.ID, u, 1, "127.0.0.1")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				made++
			case errors.Is(err, campaign.ErrSoldOut):
				soldOut++
			default:
				t.Errorf("buyer %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if made != stock || soldOut != buyers-stock {
		t.Errorf("%d orders, %d sold out; want %d and %d", made, soldOut, stock, buyers-stock)
	}
	if c2 = e.reload(c2); c2.Held != stock || c2.Left() != 0 {
		t.Errorf("campaign holds %d units, %d left; want %d and 0", c2.Held, c2.Left(), stock)
	}
	audit(t, e.db)
}

// A price or per-order limit changed between the page's read of the campaign and the order's
// batch is the one the order gets: the batch prices and limits orders from the campaign row it
// has locked, not from what the request read (a snapshot up to a second old, or a page left
// open).
func TestOrderTakesThePriceAndLimitOfItsBatch(t *testing.T) {
	e := newEnv(t, "1000")
	c := e.campaign(50)
	stale := *c // what a request read before the merchant's change
	set := c.Settings
	set.Price, set.MaxPerOrder = d("99.00"), 2
	if _, err := e.svc.Update(ctx, e.merchant, c.ID, set); err != nil {
		t.Fatal(err)
	}
	co, err := e.svc.Buy(ctx, &stale, e.user("新价买家"), 2, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if !co.Order.Amount.Equal(d("198.00")) {
		t.Errorf("order of 2 at the new price costs %s, want 198.00", co.Order.Amount)
	}
	_, err = e.svc.Buy(ctx, &stale, e.user("多买"), 5, "127.0.0.1")
	var ve *campaign.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(ve.Fields["qty"], "1 到 2 件") {
		t.Errorf("5 units over the new limit of 2: %v", err)
	}
	if r := e.reload(c); r.Held != 2 {
		t.Errorf("%d units held, want 2", r.Held)
	}
	audit(t, e.db)
}
