package campaign_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"fenxiao/campaign"
	"fenxiao/campaign/merchant"
	"fenxiao/wallet"
	"fenxiao/wechat"
)

// The flash-sale benchmarks: 256 buyers on one campaign, the real service path against the
// naive transaction measured in the same run, each reported as orders/s, p99 and their ratio.
// Deadlocks (40P01) and any other error fail the benchmark; the audit runs after each.
//
//	go test -run '^$' -bench 'Reserve|Pay' -benchtime 1x ./campaign/

const benchBuyers = 256

// stubPay answers WeChat's unifiedorder in process: that round trip is WeChat's cost, not ours.
type stubPay struct{ campaign.WeChat }

func (stubPay) PrepayJSAPI(ctx context.Context, p wechat.Prepay) (wechat.PayRequest, error) {
	return wechat.PayRequest{Package: "prepay_id=stub" + p.OutTradeNo}, nil
}

func (stubPay) AppID() string { return "wxstub" }

// benchEnv is a merchant with a stubbed WeChat Pay and one running campaign per side.
func benchEnv(b *testing.B, stock int) (*env, *campaign.Campaign, *campaign.Campaign) {
	e := newEnv(b, fmt.Sprint(stock*20))
	// Both sides keep their connections: the test pool's default of 2 idle connections would
	// make every burst open and close dozens (a PostgreSQL backend start each).
	e.db.SetMaxIdleConns(40)
	svc, err := campaign.NewService(campaign.Config{
		DB: e.db, Wallet: wallet.NewService(e.db), Regions: regions, Secret: testSecret, BaseURL: hookURL, Now: clock.Now,
		Merchants: merchantsFor(b, e.db, func(c *merchant.Config) {
			c.Clients = func(context.Context, int64) (merchant.WeChat, error) { return stubPay{}, nil }
		}),
	})
	if err != nil {
		b.Fatal(err)
	}
	e.svc = svc
	return e, e.campaign(stock), e.campaign(stock)
}

// users makes n WeChat users of the merchant, bound to sharer when it is not 0.
func (e *env) users(n int, sharer int64, c *campaign.Campaign) []*campaign.User {
	e.t.Helper()
	var ids []int64
	tag := time.Now().UnixNano()
	if err := e.db.Select(&ids, `INSERT INTO wechat_users (merchant_id, openid, nickname)
SELECT $1, 'bench' || $2 || '-' || g, '买家' || g FROM generate_series(1, $3) g RETURNING id`, e.merchant, fmt.Sprint(tag), n); err != nil {
		e.t.Fatal(err)
	}
	us := make([]*campaign.User, n)
	for i, id := range ids {
		us[i] = &campaign.User{ID: id, MerchantID: e.merchant, OpenID: fmt.Sprintf("bench%d-%d", tag, i+1)}
	}
	if sharer != 0 {
		// The binding rows a share link's first visit writes (Bind), for all of them at once.
		if _, err := e.db.Exec(`INSERT INTO bindings (campaign_id, visitor_id, merchant_id, sharer_id)
SELECT $1, v, $2, $3 FROM unnest($4::bigint[]) v`, c.ID, e.merchant, sharer, pq.Array(ids)); err != nil {
			e.t.Fatal(err)
		}
	}
	return us
}

// run calls op(i) for i in [0, n) from benchBuyers goroutines and returns ops/s and the p99.
func run(b *testing.B, n int, op func(i int) error) (perSec float64, p99 time.Duration) {
	b.Helper()
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	start := time.Now()
	for range benchBuyers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				err := op(i)
				lat[i] = time.Since(t0)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	failIfErrors(b, errs)
	slices.Sort(lat)
	return float64(n) / elapsed.Seconds(), lat[n*99/100]
}

// naiveReserve is the textbook reservation: one conditional UPDATE and one INSERT.
func naiveReserve(db *sqlx.DB, c *campaign.Campaign, u *campaign.User, i int, status string) error {
	return wallet.Transact(ctx, db, func(tx *sqlx.Tx) error {
		res, err := tx.Exec(`UPDATE campaigns SET held = held + 1 WHERE id = $1 AND stock - sold - held >= 1`, c.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return campaign.ErrSoldOut
		}
		_, err = tx.Exec(`INSERT INTO orders (merchant_id, campaign_id, buyer_id, out_trade_no, qty, amount, client_ip, created_at, expires_at, status)
VALUES ($1, $2, $3, $4, 1, $5, '127.0.0.1', now(), now() + interval '15 minutes', $6)`,
			c.MerchantID, c.ID, u.ID, fmt.Sprintf("NV%s%08d", c.Title[:0], int(c.ID)*10000000+i), c.Price, status)
		return err
	})
}

// undoNaive removes what the naive side wrote, so the audit judges the real path alone.
func undoNaive(b *testing.B, e *env, c *campaign.Campaign) {
	e.db.MustExec(`DELETE FROM orders WHERE campaign_id = $1`, c.ID)
	e.db.MustExec(`UPDATE campaigns SET held = 0, sold = 0 WHERE id = $1`, c.ID)
}

func checkSold(b *testing.B, e *env, c *campaign.Campaign, want int) {
	var got struct {
		Stock int `db:"stock"`
		Taken int `db:"taken"`
		Rows  int `db:"rows"`
	}
	if err := e.db.Get(&got, `SELECT stock, sold + held AS taken, (SELECT coalesce(sum(qty), 0) FROM orders o WHERE o.campaign_id = c.id AND o.status IN ('pending', 'paid')) AS rows
FROM campaigns c WHERE id = $1`, c.ID); err != nil {
		b.Fatal(err)
	}
	if got.Taken != want || got.Rows != want || got.Taken > got.Stock {
		b.Fatalf("campaign %d: %d units taken, %d in orders, want %d (stock %d)", c.ID, got.Taken, got.Rows, want, got.Stock)
	}
}

// BenchmarkReserve: the H5 reserve path (Buy, prepay answered in process) against the
// naive transaction, 256 buyers at once on one campaign each.
func BenchmarkReserve(b *testing.B) {
	const n = 2048
	for range b.N {
		e, real, naive := benchEnv(b, n)
		sharer := e.users(1, 0, real)[0]
		buyers := e.users(n, sharer.ID, real)
		naiveBuyers := e.users(n, 0, naive)
		naiveRate, naiveP99 := run(b, n, func(i int) error { return naiveReserve(e.db, naive, naiveBuyers[i], i, "pending") })
		rate, p99 := run(b, n, func(i int) error {
			// What the H5 handler does: read the campaign for the page's request, then Buy
			// (rate limit, gates, reservation, prepay).
			c, err := e.svc.Public(ctx, real.ID)
			if err != nil {
				return err
			}
			_, err = e.svc.Buy(ctx, c, buyers[i], 1, "127.0.0.1")
			return err
		})
		checkSold(b, e, real, n)
		checkSold(b, e, naive, n)
		undoNaive(b, e, naive)
		audit(b, e.db)
		b.ReportMetric(rate, "orders/s")
		b.ReportMetric(float64(p99.Milliseconds()), "p99-ms")
		b.ReportMetric(naiveRate, "naive-orders/s")
		b.ReportMetric(float64(naiveP99.Milliseconds()), "naive-p99-ms")
		b.ReportMetric(rate/naiveRate, "ratio")
	}
}

// BenchmarkPay: 256 payment notifications at once for one campaign (markPaid: record the
// payment, attribute, move the commission through the ledger, enqueue the sharer's note),
// every buyer bound to a sharer, against the naive reserve+pay transaction.
func BenchmarkPay(b *testing.B) {
	const n = 2048
	for range b.N {
		e, real, naive := benchEnv(b, n)
		sharer := e.users(1, 0, real)[0]
		buyers := e.users(n, sharer.ID, real)
		naiveBuyers := e.users(n, 0, naive)
		orders := make([]*campaign.Order, n)
		for i, u := range buyers {
			o, err := e.svc.ReserveOrder(ctx, real.ID, u, 1)
			if err != nil {
				b.Fatal(err)
			}
			orders[i] = o
		}
		reserve := wallet.ReserveOf(e.merchant, naive.ID)
		before := e.balance(reserve)
		naiveRate, naiveP99 := run(b, n, func(i int) error {
			return wallet.Transact(ctx, e.db, func(tx *sqlx.Tx) error {
				res, err := tx.Exec(`UPDATE campaigns SET sold = sold + 1 WHERE id = $1 AND stock - sold - held >= 1`, naive.ID)
				if err != nil {
					return err
				}
				if n, _ := res.RowsAffected(); n != 1 {
					return campaign.ErrSoldOut
				}
				if _, err := tx.Exec(`INSERT INTO orders (merchant_id, campaign_id, buyer_id, out_trade_no, qty, amount, client_ip, created_at, expires_at, status, paid_at, transaction_id)
VALUES ($1, $2, $3, $4, 1, $5, '127.0.0.1', now(), now(), 'paid', now(), $4)`, naive.MerchantID, naive.ID, naiveBuyers[i].ID, fmt.Sprintf("NP%d-%d", naive.ID, i), naive.Price); err != nil {
					return err
				}
				_, err = tx.Exec(`UPDATE accounts SET balance = balance - $3 WHERE merchant_id = $1 AND kind = 'reserve' AND ref_id = $2`, naive.MerchantID, naive.ID, naive.Commission)
				return err
			})
		})
		e.db.MustExec(`UPDATE accounts SET balance = $3 WHERE merchant_id = $1 AND kind = 'reserve' AND ref_id = $2`, naive.MerchantID, naive.ID, before)
		fen := int64(real.Price.IntPart() * 100)
		rate, p99 := run(b, n, func(i int) error {
			_, err := e.svc.MarkPaid(ctx, e.merchant, orders[i].OutTradeNo, fmt.Sprintf("4200bench%018d", orders[i].ID), fen, time.Time{})
			return err
		})
		checkSold(b, e, real, n)
		checkSold(b, e, naive, n)
		undoNaive(b, e, naive)
		if c := e.reload(real); c.Sold != n || c.Earned != n {
			b.Fatalf("sold %d, earned %d, want %d", c.Sold, c.Earned, n)
		}
		equal(b, "sharer's vault", e.balance(wallet.VaultOf(e.merchant, sharer.ID)), fmt.Sprintf("%d.00", 2*n))
		audit(b, e.db)
		b.ReportMetric(rate, "payments/s")
		b.ReportMetric(float64(p99.Milliseconds()), "p99-ms")
		b.ReportMetric(naiveRate, "naive-payments/s")
		b.ReportMetric(float64(naiveP99.Milliseconds()), "naive-p99-ms")
		b.ReportMetric(rate/naiveRate, "ratio")
	}
}

// BenchmarkFlashSaleSustained runs a flash sale for FENXIAO_SUSTAIN (default 15 s; the
// issue's 10-minute run is FENXIAO_SUSTAIN=10m): 256 buyers at once on one campaign, each
// reserving through Buy and, nine times in ten, paying through markPaid, while the merchant
// adds and removes stock every 100 ms and unpaid orders are closed as the expiry job does.
// Any error fails it, a deadlock (40P01) above all; the audit runs at the end.
func BenchmarkFlashSaleSustained(b *testing.B) {
	span := 15 * time.Second
	if v := os.Getenv("FENXIAO_SUSTAIN"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("FENXIAO_SUSTAIN=%q: %v", v, err)
		}
		span = d
	}
	const stock = 999_000 // near the most a campaign may have (stock moves ±1 below it): enough for 10 minutes
	for range b.N {
		e, c, _ := benchEnv(b, stock)
		sharer := e.users(1, 0, c)[0]
		pool := e.users(40_000, sharer.ID, c)
		fen := int64(c.Price.IntPart() * 100)
		stop := time.Now().Add(span)
		var reserved, paid, closed atomic.Int64
		var mu sync.Mutex
		var unpaid []*campaign.Order
		var bg sync.WaitGroup
		background := func(every time.Duration, f func(i int) error) {
			bg.Add(1)
			go func() {
				defer bg.Done()
				for i := 0; time.Now().Before(stop); i++ {
					time.Sleep(every)
					if err := f(i); err != nil {
						b.Errorf("background: %v", err)
						return
					}
				}
			}()
		}
		background(100*time.Millisecond, func(i int) error {
			_, err := e.svc.AdjustStock(ctx, e.merchant, c.ID, 1-2*(i%2))
			return err
		})
		background(50*time.Millisecond, func(int) error {
			mu.Lock()
			batch := unpaid
			unpaid = nil
			mu.Unlock()
			for _, o := range batch {
				ok, err := e.svc.CloseOrder(ctx, o)
				if err != nil {
					return err
				}
				if ok {
					closed.Add(1)
				}
			}
			return nil
		})
		var next atomic.Int64
		rate, p99 := runFor(b, stop, func() error {
			// A buyer comes back for another order after the other 39,999 had theirs: each has
			// one live order at most and stays within the per-buyer rate limit.
			u := pool[next.Add(1)%int64(len(pool))]
			pc, err := e.svc.Public(ctx, c.ID)
			if err != nil {
				return err
			}
			co, err := e.svc.Buy(ctx, pc, u, 1, "127.0.0.1")
			if err != nil {
				return err
			}
			reserved.Add(1)
			if co.Order.ID%10 == 0 {
				mu.Lock()
				unpaid = append(unpaid, co.Order)
				mu.Unlock()
				return nil
			}
			if _, err := e.svc.MarkPaid(ctx, e.merchant, co.Order.OutTradeNo, fmt.Sprintf("4200sus%020d", co.Order.ID), fen, time.Time{}); err != nil {
				return err
			}
			paid.Add(1)
			return nil
		})
		bg.Wait()
		audit(b, e.db)
		secs := span.Seconds()
		b.ReportMetric(rate, "buys/s")
		b.ReportMetric(float64(paid.Load())/secs, "payments/s")
		b.ReportMetric(float64(closed.Load()), "closed")
		b.ReportMetric(float64(p99.Milliseconds()), "p99-ms")
		b.ReportMetric(0, "deadlocks") // any deadlock failed the run above
	}
}

// runFor calls op from benchBuyers goroutines until stop and returns calls/s and the p99;
// an error fails the benchmark, counting the deadlocks (40P01) among the errors.
func runFor(b *testing.B, stop time.Time, op func() error) (perSec float64, p99 time.Duration) {
	b.Helper()
	var mu sync.Mutex
	var lat []time.Duration
	var errs []error
	var wg sync.WaitGroup
	start := time.Now()
	for range benchBuyers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(stop) {
				t0 := time.Now()
				err := op()
				mine = append(mine, time.Since(t0))
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	failIfErrors(b, errs)
	slices.Sort(lat)
	return float64(len(lat)) / elapsed.Seconds(), lat[len(lat)*99/100]
}

// failIfErrors fails the benchmark on any error, saying how many were deadlocks (40P01).
func failIfErrors(b *testing.B, errs []error) {
	b.Helper()
	deadlocks := 0
	for _, err := range errs {
		var pe *pq.Error
		if errors.As(err, &pe) && pe.Code == "40P01" {
			deadlocks++
		}
	}
	if len(errs) > 0 {
		b.Fatalf("%d errors, %d of them deadlocks (40P01); first: %v", len(errs), deadlocks, errs[0])
	}
}
