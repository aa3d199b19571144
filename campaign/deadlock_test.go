package campaign_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"fenxiao/campaign"
)

// Payments of one campaign racing many buyers' first orders (each inserts its buyer slot,
// whose foreign key takes KEY SHARE on the campaign row, then updates the campaign's counters)
// never deadlock: every notification is recorded and every order is made.
func TestPaymentsRacingFirstOrdersNoDeadlock(t *testing.T) {
	e := newEnv(t, "10000")
	c := e.campaign(1000)
	sharer := e.user("分享者")
	const n = 64
	var pending []*campaign.Order
	var fresh []*campaign.User
	for i := range 2 * n {
		u := e.user(fmt.Sprintf("买家%d", i))
		if _, err := e.svc.Bind(ctx, c, u, e.svc.ShareToken(c.ID, sharer.ID)); err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			fresh = append(fresh, u)
			continue
		}
		o, err := e.svc.ReserveOrder(ctx, c.ID, u, 1)
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, o)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(2)
		go func(o *campaign.Order) {
			defer wg.Done()
			if _, err := e.svc.MarkPaid(ctx, e.merchant, o.OutTradeNo, fmt.Sprintf("4200dl%020d", o.ID), 8800, time.Time{}); err != nil {
				errs <- fmt.Errorf("payment of %d: %w", o.ID, err)
			}
		}(pending[i])
		go func(u *campaign.User) {
			defer wg.Done()
			if _, err := e.svc.ReserveOrder(ctx, c.ID, u, 1); err != nil {
				errs <- fmt.Errorf("order of %s: %w", u.Nickname, err)
			}
		}(fresh[i])
	}
	wg.Wait()
	close(errs)
	deadlocks := 0
	for err := range errs {
		if deadlock(err) {
			deadlocks++
		}
		t.Error(err)
	}
	if deadlocks > 0 {
		t.Errorf("%d deadlocks (40P01)", deadlocks)
	}
	c = e.reload(c)
	if c.Sold != n || c.Held != n || c.Buyers != 2*n || c.Earned != n {
		t.Errorf("campaign sold %d held %d buyers %d earned %d, want %d %d %d %d", c.Sold, c.Held, c.Buyers, c.Earned, n, n, 2*n, n)
	}
	audit(t, e.db)
}
