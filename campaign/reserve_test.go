package campaign_test

import (
	"errors"
	"fmt"
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
