package campaign_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"fenxiao/campaign"
	"fenxiao/wallet"
)

// slowInserts makes every order inserted with clientIP wait inside its transaction for d: the
// window in which another transaction races it. The trigger lives in the test database only.
func slowInserts(t *testing.T, db *sqlx.DB, clientIP string, d time.Duration) {
	t.Helper()
	db.MustExec(fmt.Sprintf(`CREATE OR REPLACE FUNCTION test_slow_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF NEW.client_ip = '%s' THEN PERFORM pg_sleep(%f); END IF; RETURN NEW; END $$`, clientIP, d.Seconds()))
	db.MustExec(`CREATE TRIGGER test_slow_order AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION test_slow_order()`)
	t.Cleanup(func() { db.MustExec(`DROP TRIGGER test_slow_order ON orders`) })
}

// waitAsleep waits until a transaction is inside a test trigger's pg_sleep: the window the
// test races into is open (on a loaded machine the goroutine may take a while to get there).
func waitAsleep(t *testing.T, db *sqlx.DB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = current_database()`); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no transaction reached the test trigger's sleep within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func deadlock(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == "40P01"
}

// A refund within the hold period (which voids a commission back to the reserve) racing
// payments of the same campaign (which move commissions out of it) always finishes: every
// path locks the campaign's reserve before its other accounts and the campaign row.
func TestRefundRacingPaymentsNoDeadlock(t *testing.T) {
	e := newEnv(t, "1000")
	c := e.campaign(200, func(s *campaign.Settings) { s.HoldDays = 7 })
	sharer := e.user("分享者")
	const n = 24
	var paid, pending []*campaign.Order
	for i := range 2 * n {
		u := e.user(fmt.Sprintf("买家%d", i))
		if _, err := e.svc.Bind(ctx, c, u, e.svc.ShareToken(c.ID, sharer.ID)); err != nil {
			t.Fatal(err)
		}
		if i < n {
			paid = append(paid, e.buy(c, u, 1))
			continue
		}
		co, err := e.svc.CreateOrder(ctx, c.ID, u, 1, "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, co.Order)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(2)
		go func(o *campaign.Order) {
			defer wg.Done()
			if _, err := e.svc.Refund(ctx, e.merchant, o.ID, "race"); err != nil {
				errs <- fmt.Errorf("refund %d: %w", o.ID, err)
			}
		}(paid[i])
		go func(o *campaign.Order) {
			defer wg.Done()
			if _, err := e.svc.MarkPaid(ctx, e.merchant, o.OutTradeNo, fmt.Sprintf("4200race%020d", o.ID), 8800, time.Time{}); err != nil {
				errs <- fmt.Errorf("payment of %d: %w", o.ID, err)
			}
		}(pending[i])
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
	equal(t, "sharer's pending commissions", e.balance(wallet.PendingOf(e.merchant, sharer.ID)), fmt.Sprint(2*n))
	audit(t, e.db)
}

// Closing an expired order while its buyer orders again keeps the buyer's slot: the buyer
// count always equals the distinct buyers with an order that is not closed.
func TestBuyerSlotSurvivesCloseRacingANewOrder(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(50, func(s *campaign.Settings) { s.BuyerLimit = 10 })
	// Every order's transaction waits a second right after taking (or finding) its buyer slot
	// while the switch is on: the window in which the close races it.
	e.db.MustExec(`CREATE TABLE test_slow_slot (on_ boolean NOT NULL)`)
	e.db.MustExec(`CREATE OR REPLACE FUNCTION test_slow_slot() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF EXISTS (SELECT 1 FROM test_slow_slot WHERE on_) THEN PERFORM pg_sleep(1); END IF; RETURN NULL; END $$`)
	e.db.MustExec(`CREATE TRIGGER test_slow_slot AFTER INSERT ON campaign_buyers FOR EACH STATEMENT EXECUTE FUNCTION test_slow_slot()`)
	t.Cleanup(func() { e.db.MustExec(`DROP TRIGGER test_slow_slot ON campaign_buyers; DROP TABLE test_slow_slot`) })
	for i := range 3 {
		u := e.user(fmt.Sprintf("回头客%d", i))
		first, err := e.svc.CreateOrder(ctx, c.ID, u, 1, "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		// The first order's time is up (a live one would be the buyer's order again).
		clock.Advance(16 * time.Minute)
		defer clock.Advance(-16 * time.Minute)
		// The second order's transaction has seen the buyer's slot and is still open when the
		// first order is closed.
		e.db.MustExec(`INSERT INTO test_slow_slot VALUES (true)`)
		done := make(chan error, 1)
		go func() {
			_, err := e.svc.CreateOrder(ctx, c.ID, u, 1, "127.0.0.1")
			done <- err
		}()
		waitAsleep(t, e.db) // the second order's transaction holds its slot, and sleeps
		e.db.MustExec(`DELETE FROM test_slow_slot`)
		if ok, err := e.svc.CloseOrder(ctx, first.Order); err != nil || !ok {
			t.Fatalf("close: %v %v", ok, err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the second order did not finish within 10 s")
		}
		var counted int
		if err := e.db.Get(&counted, `SELECT count(DISTINCT buyer_id) FROM orders WHERE campaign_id = $1 AND status <> 'closed'`, c.ID); err != nil {
			t.Fatal(err)
		}
		if c = e.reload(c); c.Buyers != counted || counted != i+1 {
			t.Fatalf("round %d: the campaign counts %d buyers, %d have a live order", i, c.Buyers, counted)
		}
	}
	audit(t, e.db)
}

// The release job meeting an order that is being created at the campaign's last moment never
// releases the reserve under a pending order: it waits for that order to close.
func TestReleaseWaitsForALastMomentOrder(t *testing.T) {
	e := newEnv(t, "100")
	c := e.campaign(10)
	u := e.user("最后一秒")
	slowInserts(t, e.db, "10.9.9.8", 400*time.Millisecond)
	done := make(chan error, 1)
	go func() {
		_, err := e.svc.CreateOrder(context.Background(), c.ID, u, 1, "10.9.9.8")
		done <- err
	}()
	waitAsleep(t, e.db)           // the order's transaction has reserved its unit, and sleeps
	clock.Advance(25 * time.Hour) // the campaign has ended while the order is being made
	defer clock.Advance(-25 * time.Hour)
	if _, err := e.svc.ReleaseEnded(ctx); err != nil {
		t.Fatal(err)
	}
	if c = e.reload(c); c.Status == campaign.Ended {
		t.Fatal("released the reserve while an order was being created")
	}
	select {
	case <-done: // WeChat refuses its prepay (the sim's clock is past its expiry): it is closed
	case <-time.After(10 * time.Second):
		t.Fatal("the order was not created within 10 s")
	}
	if _, err := e.svc.ReleaseEnded(ctx); err != nil {
		t.Fatal(err)
	}
	if c = e.reload(c); c.Status != campaign.Ended {
		t.Fatalf("campaign %s once no order was pending, want ended", c.Status)
	}
	equal(t, "reserve after the release", e.balance(wallet.ReserveOf(e.merchant, c.ID)), "0")
	audit(t, e.db)
}
