package campaign_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"fenxiao/campaign"
	"fenxiao/wallet"
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

// A payment locks the campaign row (the flash sale's hottest row) only with its last
// statement: while another transaction holds the row, the payment gets through its ledger
// move and outbox and waits at the counters' UPDATE, and finishes once the row is free.
func TestPaymentLocksTheCampaignRowLast(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(10)
	sharer, buyer := e.user("分享者"), e.user("买家")
	if _, err := e.svc.Bind(ctx, c, buyer, e.svc.ShareToken(c.ID, sharer.ID)); err != nil {
		t.Fatal(err)
	}
	o, err := e.svc.ReserveOrder(ctx, c.ID, buyer, 1)
	if err != nil {
		t.Fatal(err)
	}
	holder, err := e.db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback() //nolint:errcheck
	holder.MustExec(`SELECT 1 FROM campaigns WHERE id = $1 FOR NO KEY UPDATE`, c.ID)
	done := make(chan error, 1)
	go func() {
		_, err := e.svc.MarkPaid(ctx, e.merchant, o.OutTradeNo, "4200last0000000000001", 8800, time.Time{})
		done <- err
	}()
	var waiting string
	deadline := time.Now().Add(10 * time.Second)
	for waiting == "" {
		if time.Now().After(deadline) {
			t.Fatal("the payment did not wait for the campaign row within 10 s")
		}
		var qs []string
		if err := e.db.Select(&qs, `SELECT query FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`); err != nil {
			t.Fatal(err)
		}
		if len(qs) > 0 {
			waiting = strings.TrimSpace(qs[0])
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.HasPrefix(waiting, "UPDATE campaigns SET held = held -") {
		t.Errorf("the payment waits for the campaign row at %q, want its last statement, the counters' UPDATE", waiting)
	}
	var moved int
	if err := holder.Get(&moved, `SELECT count(*) FROM transfers WHERE campaign_id = $1 AND kind = 'commission'`, c.ID); err != nil {
		t.Fatal(err)
	}
	if moved != 0 {
		t.Errorf("%d commission transfers visible before the payment committed", moved)
	}
	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the payment did not finish within 10 s of the campaign row's release")
	}
	if c = e.reload(c); c.Sold != 1 || c.Held != 0 || c.Earned != 1 {
		t.Errorf("campaign sold %d held %d earned %d, want 1 0 1", c.Sold, c.Held, c.Earned)
	}
	equal(t, "sharer's vault", e.balance(wallet.VaultOf(e.merchant, sharer.ID)), "2")
	audit(t, e.db)
}

// Stock changes (campaign row and reserve: freeze or release) racing payments (reserve, then
// the campaign row) never deadlock: both lock the reserve first.
func TestStockChangesRacingPaymentsNoDeadlock(t *testing.T) {
	e := newEnv(t, "10000")
	c := e.campaign(500)
	sharer := e.user("分享者")
	const n = 32
	var pending []*campaign.Order
	for i := range n {
		u := e.user(fmt.Sprintf("买家%d", i))
		if _, err := e.svc.Bind(ctx, c, u, e.svc.ShareToken(c.ID, sharer.ID)); err != nil {
			t.Fatal(err)
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
			if _, err := e.svc.MarkPaid(ctx, e.merchant, o.OutTradeNo, fmt.Sprintf("4200st%020d", o.ID), 8800, time.Time{}); err != nil {
				errs <- fmt.Errorf("payment of %d: %w", o.ID, err)
			}
		}(pending[i])
		go func(delta int) {
			defer wg.Done()
			if _, err := e.svc.AdjustStock(ctx, e.merchant, c.ID, delta); err != nil {
				errs <- fmt.Errorf("stock %+d: %w", delta, err)
			}
		}(1 - 2*(i%2))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if deadlock(err) {
			t.Errorf("deadlock: %v", err)
		} else {
			t.Error(err)
		}
	}
	if c = e.reload(c); c.Sold != n || c.Stock != 500 || c.Earned != n {
		t.Errorf("campaign sold %d stock %d earned %d, want %d 500 %d", c.Sold, c.Stock, c.Earned, n, n)
	}
	audit(t, e.db)
}
