package campaign_test

import (
	"sync"
	"testing"
	"time"

	"fenxiao/campaign"
	"fenxiao/wallet"
)

// Two replicas run every job at the same time on one database: unpaid orders close once (their
// stock back once), paid-but-unnotified orders are found once, held commissions settle once,
// the reserve is released once.
func TestTwoReplicasRunJobsOnce(t *testing.T) {
	e := newEnv(t, "1000")
	replicas := []*campaign.Service{e.svc, newService(t, e.db)}
	c := e.campaign(50, func(s *campaign.Settings) { s.HoldDays = 1 })
	sharer := e.user("分享者")

	// 10 orders paid with a commission held; 10 paid at WeChat whose notification is lost;
	// 10 never paid.
	for i := range 10 {
		u := e.user("买家" + string(rune('A'+i)))
		e.svc.Bind(ctx, c, u, e.svc.ShareToken(c.ID, sharer.ID)) //nolint:errcheck
		e.buy(c, u, 1)
	}
	var lost, unpaid []*campaign.Checkout // paid without notification; never paid
	for i := range 20 {
		u := e.user("待付" + string(rune('A'+i)))
		co, err := e.svc.CreateOrder(ctx, c.ID, u, 1, "")
		if err != nil {
			t.Fatal(err)
		}
		if i < 10 {
			// Paid, but the merchant's endpoint is "down": the simulator's notifications fail.
			hooks.Delete(e.merchant)
			e.pay(co, u)
			lost = append(lost, co)
		} else {
			unpaid = append(unpaid, co)
		}
	}
	time.Sleep(100 * time.Millisecond) // let the simulator's first notifications fail
	hooks.Store(e.merchant, e.svc)

	clock.Advance(25 * time.Hour) // past the order timeout, the hold and the campaign's end
	defer clock.Advance(-25 * time.Hour)

	run := func(job func(*campaign.Service) (int, error)) int {
		var wg sync.WaitGroup
		counts := make([]int, len(replicas))
		for i, r := range replicas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := job(r)
				if err != nil {
					t.Error(err)
				}
				counts[i] = n
			}()
		}
		wg.Wait()
		return counts[0] + counts[1]
	}
	// The jobs see every merchant of the package's database (other tests' orders too): the two
	// replicas' counts must add up to what changed in all of it.
	var closedBefore, closedAfter int
	e.db.Get(&closedBefore, `SELECT count(*) FROM orders WHERE status = 'closed'`) //nolint:errcheck
	closed := run(func(s *campaign.Service) (int, error) { return s.CloseExpired(ctx) })
	e.db.Get(&closedAfter, `SELECT count(*) FROM orders WHERE status = 'closed'`) //nolint:errcheck
	settled := run(func(s *campaign.Service) (int, error) { return s.SettleHeld(ctx) })
	released := run(func(s *campaign.Service) (int, error) { return s.ReleaseEnded(ctx) })

	c = e.reload(c)
	if c.Sold != 20 || c.Held != 0 {
		t.Fatalf("sold %d held %d: want the 10 notified and 10 found paid by query, nothing held", c.Sold, c.Held)
	}
	var closedRows int
	e.db.Get(&closedRows, `SELECT count(*) FROM orders WHERE campaign_id = $1 AND status = 'closed'`, c.ID) //nolint:errcheck
	if closedRows != 10 || closed != closedAfter-closedBefore {
		t.Fatalf("%d orders closed here, %d in all; the jobs reported %d: want 10 here and each close counted once",
			closedRows, closedAfter-closedBefore, closed)
	}
	// The jobs see every merchant of the package's database, so count this merchant's rows.
	var settles, releases int
	e.db.Get(&settles, `SELECT count(*) FROM transfers WHERE merchant_id = $1 AND kind = 'commission_settle'`, e.merchant) //nolint:errcheck
	e.db.Get(&releases, `SELECT count(*) FROM transfers WHERE merchant_id = $1 AND kind = 'release'`, e.merchant)          //nolint:errcheck
	if settles != 10 || settled < 10 {
		t.Fatalf("%d settle transfers (jobs reported %d), want 10", settles, settled)
	}
	if releases != 1 || released < 1 || c.Status != campaign.Ended {
		t.Fatalf("%d release transfers (jobs reported %d), status %s", releases, released, c.Status)
	}
	v, _ := e.wallet.Vault(ctx, e.merchant, sharer.ID)
	equal(t, "sharer's claimable vault", v.Available, "20")
	equal(t, "reserve", e.balance(wallet.ReserveOf(e.merchant, c.ID)), "0")
	// 1000 − 50 × 2 frozen + (50 − 10 earned) × 2 released = 980
	equal(t, "available", e.balance(wallet.AvailableOf(e.merchant)), "980")
	audit(t, e.db)
}
