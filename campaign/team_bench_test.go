package campaign_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"fenxiao/campaign"
	"fenxiao/campaign/seed"
	"fenxiao/migrations/dbtest"
	"fenxiao/wallet"
)

// BenchmarkTeamAtScale measures the sharer's promotion page on a campaign of 100k paid orders
// spread over 10 sharers (about 9,000 friends and orders each: the busiest sharer a campaign
// is likely to have), first page and a page deep down each list, then the same after putting
// back the indexes of before migration 0021 ("before" cases). ms/op is the median of three.
//
//	go test -run '^$' -bench TeamAtScale -benchtime 1x ./campaign/
func BenchmarkTeamAtScale(b *testing.B) {
	db := dbtest.DB(b)
	svc, err := campaign.NewService(campaign.Config{
		DB: db, Wallet: wallet.NewService(db), Merchants: merchantsFor(b, db), Regions: regions,
		Secret: testSecret, BaseURL: hookURL, Now: clock.Now,
	})
	if err != nil {
		b.Fatal(err)
	}
	const n = 100_000
	m, c := seedable(b, svc, db, "推广规模商家")
	if _, err := seed.Fill(ctx, db, seed.Spec{MerchantID: m, CampaignID: c.ID, Orders: n, Sharers: 10, RefundEvery: 50}); err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	var sharerID int64
	if err := db.GetContext(ctx, &sharerID, `SELECT sharer_id FROM orders WHERE campaign_id = $1 AND sharer_id IS NOT NULL
GROUP BY sharer_id ORDER BY count(*) DESC LIMIT 1`, c.ID); err != nil {
		b.Fatal(err)
	}
	sharer, err := svc.User(ctx, m, sharerID)
	if err != nil {
		b.Fatal(err)
	}
	// Cursors half way down each list, walked the way the page walks them.
	deep := map[campaign.TeamTab]string{}
	for _, tab := range []campaign.TeamTab{campaign.TeamFriends, campaign.TeamOrders} {
		q := campaign.TeamQuery{Tab: tab, Limit: 100}
		for range 45 {
			p, err := svc.Team(ctx, c, sharer, q)
			if err != nil {
				b.Fatal(err)
			}
			q.After = p.Next
		}
		deep[tab] = q.After
	}
	first, _ := svc.Team(ctx, c, sharer, campaign.TeamQuery{})
	b.Logf("sharer %d: %+v", sharerID, first.Totals)
	run := func(label string) {
		for _, tab := range []campaign.TeamTab{campaign.TeamFriends, campaign.TeamOrders} {
			for _, after := range []string{"", deep[tab]} {
				name := fmt.Sprintf("%s/%s/first", label, tab)
				if after != "" {
					name = fmt.Sprintf("%s/%s/deep", label, tab)
				}
				b.Run(name, func(b *testing.B) {
					var per time.Duration
					for range b.N {
						var took [3]time.Duration
						for i := range took {
							t0 := time.Now()
							if _, err := svc.Team(ctx, c, sharer, campaign.TeamQuery{Tab: tab, After: after}); err != nil {
								b.Fatal(err)
							}
							took[i] = time.Since(t0)
						}
						slices.Sort(took[:])
						per += took[1]
					}
					b.ReportMetric(float64((per/time.Duration(b.N)).Microseconds())/1000, "ms/op")
				})
			}
		}
	}
	run("after")
	if _, err := db.ExecContext(ctx, `DROP INDEX bindings_sharer; DROP INDEX orders_sharer;
CREATE INDEX bindings_sharer ON bindings (campaign_id, sharer_id);
CREATE INDEX orders_sharer ON orders (sharer_id) WHERE sharer_id IS NOT NULL; ANALYZE`); err != nil {
		b.Fatal(err)
	}
	run("before")
}
