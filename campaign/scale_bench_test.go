package campaign_test

import (
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"fenxiao/campaign"
	"fenxiao/campaign/seed"
	"fenxiao/migrations/dbtest"
	"fenxiao/wallet"
)

// BenchmarkConsoleAtScale measures the console's reads on one campaign filled by the
// generator with 10k and 100k paid orders (and as many top-ups on the merchant's statement),
// each beside a SELECT 1 round trip measured in the same run: the x-select1 metric is the
// figure divided by that baseline, so runs on other machines compare. ms/op is the median of
// three calls.
//
//	go test -run '^$' -bench ConsoleAtScale ./campaign/
func BenchmarkConsoleAtScale(b *testing.B) {
	db := dbtest.DB(b)
	svc, err := campaign.NewService(campaign.Config{
		DB: db, Wallet: wallet.NewService(db), Merchants: merchantsFor(b, db), Regions: regions,
		Secret: testSecret, BaseURL: hookURL, Now: clock.Now,
	})
	if err != nil {
		b.Fatal(err)
	}
	loc, _ := time.LoadLocation("Asia/Shanghai")
	for _, n := range []int{10_000, 100_000} {
		m, c := seedable(b, svc, db, fmt.Sprintf("规模商家 %d", n))
		start := time.Now()
		if _, err := seed.Fill(ctx, db, seed.Spec{MerchantID: m, CampaignID: c.ID, Orders: n, TopUps: n, RefundEvery: 50}); err != nil {
			b.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `ANALYZE`); err != nil {
			b.Fatal(err)
		}
		b.Logf("%d orders seeded in %s", n, time.Since(start).Round(time.Millisecond))

		var baseline time.Duration
		{
			const rounds = 200
			t0 := time.Now()
			for range rounds {
				var one int
				if err := db.GetContext(ctx, &one, `SELECT 1`); err != nil {
					b.Fatal(err)
				}
			}
			baseline = time.Since(t0) / rounds
		}
		var deep int64 // the cursor of a page half way down the statement
		if err := db.GetContext(ctx, &deep, `SELECT e.id FROM entries e JOIN accounts a ON a.id = e.account_id
WHERE a.merchant_id = $1 AND a.kind = 'available' ORDER BY e.id OFFSET $2 LIMIT 1`, m, n/2); err != nil {
			b.Fatal(err)
		}
		cases := []struct {
			name string
			run  func() error
		}{
			{"select1", func() error { var one int; return db.GetContext(ctx, &one, `SELECT 1`) }},
			{"results", func() error { _, err := svc.Results(ctx, m, c.ID, loc); return err }},
			{"statement-first", func() error { _, err := svc.Statement(ctx, m, wallet.Filter{}); return err }},
			{"statement-deep", func() error { _, err := svc.Statement(ctx, m, wallet.Filter{Before: deep}); return err }},
			{"statement-csv", func() error { return svc.ExportStatement(ctx, m, wallet.Filter{}, loc, io.Discard) }},
			{"orders-campaign", func() error {
				_, err := svc.Orders(ctx, m, campaign.OrderFilter{CampaignID: c.ID})
				return err
			}},
			{"orders-refunded", func() error {
				_, err := svc.Orders(ctx, m, campaign.OrderFilter{Status: campaign.Refunded})
				return err
			}},
			{"orders-buyer", func() error {
				_, err := svc.Orders(ctx, m, campaign.OrderFilter{Buyer: "买家777"})
				return err
			}},
			{"orders-sharer", func() error {
				_, err := svc.Orders(ctx, m, campaign.OrderFilter{Sharer: "分享者12"})
				return err
			}},
			{"orders-day", func() error {
				day := clock.Now().Add(-3 * 24 * time.Hour)
				_, err := svc.Orders(ctx, m, campaign.OrderFilter{CampaignID: c.ID, From: day, To: day.Add(24 * time.Hour)})
				return err
			}},
			{"orders-csv", func() error { return svc.ExportOrders(ctx, m, campaign.OrderFilter{CampaignID: c.ID}, loc, io.Discard) }},
			{"audit", func() error {
				return campaign.AuditAll(ctx, db, func(v wallet.Violation) error { return fmt.Errorf("audit: %s", v) })
			}},
		}
		for _, tc := range cases {
			b.Run(fmt.Sprintf("%s/orders=%d", tc.name, n), func(b *testing.B) {
				// The median of three: with -benchtime 1x one call is one sample, and a
				// checkpoint or another helper's burst on this shared machine made outliers.
				var per time.Duration
				for range b.N {
					var took [3]time.Duration
					for i := range took {
						t0 := time.Now()
						if err := tc.run(); err != nil {
							b.Fatal(err)
						}
						took[i] = time.Since(t0)
					}
					slices.Sort(took[:])
					per += took[1]
				}
				per /= time.Duration(b.N)
				b.ReportMetric(float64(per.Microseconds())/1000, "ms/op")
				b.ReportMetric(float64(per)/float64(baseline), "x-select1")
			})
		}
	}
}
