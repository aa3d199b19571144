package wallet_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"fenxiao/migrations/dbtest"
	"fenxiao/wallet"
)

// BenchmarkLedger measures transfers per second, and reports each figure against a baseline
// taken in the same run: a transaction that locks and updates one row and commits, the least
// any durable money movement can cost on this database. "x_baseline" is the ledger's time per
// transfer divided by the baseline's time per transaction.
func BenchmarkLedger(b *testing.B) {
	db := dbtest.DB(b)
	svc := wallet.NewService(db)
	var baseline float64 // ns per op of the baseline, set by the first sub-benchmark
	var seq atomic.Int64
	report := func(b *testing.B, start time.Time) {
		b.Helper()
		nsPerOp := float64(time.Since(start).Nanoseconds()) / float64(b.N)
		b.ReportMetric(1e9/nsPerOp, "transfers/s")
		if baseline > 0 {
			b.ReportMetric(nsPerOp/baseline, "x_baseline")
		}
	}

	b.Run("baseline-one-row-update", func(b *testing.B) {
		m := newMerchant(b, db)
		b.SetParallelism(8)
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				tx := db.MustBegin()
				tx.MustExec(`UPDATE merchants SET name = name WHERE id = $1`, m)
				if err := tx.Commit(); err != nil {
					b.Error(err)
					return
				}
			}
		})
		baseline = float64(time.Since(start).Nanoseconds()) / float64(b.N)
		b.ReportMetric(1e9/baseline, "transfers/s")
	})

	// One merchant, one hot available account: every transfer locks it.
	b.Run("hot-account", func(b *testing.B) {
		m := newMerchant(b, db)
		if _, err := svc.TopUpAssets(ctx, nil, m, decimal.NewFromInt(1_000_000_000), "bench-funds", ""); err != nil {
			b.Fatal(err)
		}
		cent := decimal.New(1, -2)
		b.SetParallelism(8)
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				n := seq.Add(1)
				if _, err := svc.FreezeReserve(ctx, nil, m, n%16+1, cent, fmt.Sprintf("hot-%d", n)); err != nil {
					b.Error(err)
					return
				}
			}
		})
		report(b, start)
	})

	// Sixteen merchants, each transfer on its own pair of accounts: contention only in the
	// database's commit path.
	b.Run("many-accounts", func(b *testing.B) {
		merchants := make([]int64, 16)
		for i := range merchants {
			merchants[i] = newMerchant(b, db)
		}
		b.SetParallelism(8)
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				n := seq.Add(1)
				m := merchants[n%int64(len(merchants))]
				if _, err := svc.TopUpAssets(ctx, nil, m, decimal.New(1, -2), fmt.Sprintf("many-%d", n), ""); err != nil {
					b.Error(err)
					return
				}
			}
		})
		report(b, start)
	})
}
