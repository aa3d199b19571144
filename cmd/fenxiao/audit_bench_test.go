package main

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"fenxiao/campaign/seed"
	"fenxiao/migrations/dbtest"
)

// BenchmarkAudit runs "fenxiao audit" on a database of its own filled by the generator to
// about 40k and 1M ledger entries (10k and 250k paid orders, 90 % with a commission transfer,
// and 10k and 275k top-ups: two entries each), reporting its time, the peak growth of the Go
// heap meanwhile, and the time per 1,000 entries, whose ratio between the sizes shows how
// the audit scales (issue 15, goal 4: ≤ 30 s at 1M entries in bounded memory).
//
//	go test -run '^$' -bench Audit -benchtime 1x ./cmd/fenxiao/
func BenchmarkAudit(b *testing.B) {
	dbtest.DB(b)
	for _, size := range []struct{ orders, topups int }{{10_000, 10_000}, {250_000, 275_000}} {
		url := dbtest.NewDatabase(b, fmt.Sprintf("auditbench%d", size.orders))
		if code := runWith(context.Background(), []string{"migrate", "-db", url}, &bytes.Buffer{}, &bytes.Buffer{}, nil); code != 0 {
			b.Fatalf("migrate exit %d", code)
		}
		db := sqlx.MustOpen("postgres", url)
		var m, c int64
		if err := db.Get(&m, `INSERT INTO merchants (name) VALUES ('audit') RETURNING id`); err != nil {
			b.Fatal(err)
		}
		if err := db.Get(&c, `INSERT INTO campaigns (merchant_id, status, title, starts_at, ends_at, commission, product_name, price, stock)
VALUES ($1, 'published', '对账压测', now() - interval '10 days', now() + interval '10 days', 2, '茶', 10, 0) RETURNING id`, m); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := seed.Fill(context.Background(), db, seed.Spec{MerchantID: m, CampaignID: c, Orders: size.orders, TopUps: size.topups, RefundEvery: 50}); err != nil {
			b.Fatal(err)
		}
		db.MustExec(`VACUUM ANALYZE`)
		var entries int
		if err := db.Get(&entries, `SELECT count(*) FROM entries`); err != nil {
			b.Fatal(err)
		}
		db.Close()
		b.Logf("%d entries seeded in %s", entries, time.Since(start).Round(time.Millisecond))
		b.Run(fmt.Sprintf("entries=%dk", entries/1000), func(b *testing.B) {
			var took time.Duration
			var grown uint64
			for range b.N {
				var out, errOut bytes.Buffer
				peak := watchHeap(b)
				t0 := time.Now()
				if code := runWith(context.Background(), []string{"audit", "-db", url}, &out, &errOut, nil); code != exitOK {
					b.Fatalf("audit exit %d\n%s%s", code, out.String(), errOut.String())
				}
				took = time.Since(t0)
				grown = peak()
			}
			b.ReportMetric(took.Seconds(), "s")
			b.ReportMetric(float64(took.Microseconds())/1000/(float64(entries)/1000), "ms/1k-entries")
			b.ReportMetric(float64(grown)/(1<<20), "heap-MB")
		})
	}
}
