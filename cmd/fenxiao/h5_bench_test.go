package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"fenxiao/campaign"
	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// BenchmarkH5 measures the landing page against a trivial Fiber handler served the same way
// in the same run (loopback HTTP, keep-alive, parallel clients), so the ratio says what the
// page itself costs on this machine; and the poster, drawn (first) and from the cache.
func BenchmarkH5(b *testing.B) {
	st := newH5Stack(b)
	m := st.merchant("压测商家")
	c := st.campaign(m, 150, func(s *campaign.Settings) { s.ShowParticipants, s.OrderTicker = true, true })
	landing := fmt.Sprintf("%s/c/%d", st.base, c.ID)
	visitors := crowd(b, st, m, landing, 64)
	su, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: "压测用户", Subscribed: true})
	if err != nil {
		b.Fatal(err)
	}

	trivial := fiber.New(fiber.Config{DisableStartupMessage: true})
	trivial.Get("/", func(c *fiber.Ctx) error { return c.SendString("ok") })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go trivial.Listener(ln)                                            //nolint:errcheck
	b.Cleanup(func() { trivial.ShutdownWithTimeout(5 * time.Second) }) //nolint:errcheck

	// The same crowd on a replica that reads every request's session (no reuse): what a visitor
	// this replica has not seen within the last second costs.
	cold := newH5StackWith(b, func(c *Config) { c.sessionReuse = -1 })
	cm := cold.merchant("压测商家")
	cc := cold.campaign(cm, 150, func(s *campaign.Settings) { s.ShowParticipants, s.OrderTicker = true, true })
	coldLanding := fmt.Sprintf("%s/c/%d", cold.base, cc.ID)
	coldVisitors := crowd(b, cold, cm, coldLanding, 64)

	// The same page for a campaign with 100 paid orders and one with 100,000: the page must
	// cost the same whatever the campaign's size (issue 15, goal 3).
	sizes := []struct {
		name   string
		orders int
	}{{"100", 100}, {"100k", 100_000}}
	pages := map[string]string{}
	for _, sz := range sizes {
		big := st.campaign(m, 10, func(s *campaign.Settings) { s.ShowParticipants, s.OrderTicker = true, true })
		seedPaidOrders(b, st, m.id, big.ID, sz.orders)
		pages[sz.name] = fmt.Sprintf("%s/c/%d", st.base, big.ID)
	}

	var baseline float64
	rates := map[string]float64{}
	b.Run("trivial", func(b *testing.B) { baseline = serveParallel(b, visitors, "http://"+ln.Addr().String()+"/") })
	b.Run("landing", func(b *testing.B) {
		page := serveParallel(b, visitors, landing)
		if baseline > 0 {
			b.ReportMetric(page/baseline, "x_trivial")
		}
		b.ReportMetric(float64(st.srv.Campaign.FollowerReads()), "session_reads")
	})
	b.Run("landing-no-session-reuse", func(b *testing.B) {
		page := serveParallel(b, coldVisitors, coldLanding)
		if baseline > 0 {
			b.ReportMetric(page/baseline, "x_trivial")
		}
	})
	for _, sz := range sizes {
		b.Run("landing-"+sz.name+"-paid", func(b *testing.B) {
			rates[sz.name] = serveParallel(b, visitors, pages[sz.name])
			if baseline > 0 {
				b.ReportMetric(rates[sz.name]/baseline, "x_trivial")
			}
			if r := rates["100"]; r > 0 && sz.name != "100" {
				b.ReportMetric(rates[sz.name]/r, "x_100_orders")
			}
		})
	}
	st.srv.h5.Flush(10 * time.Second)

	ctx := context.Background()
	b.Run("poster-first", func(b *testing.B) {
		// A new sharer each time: nothing cached.
		for i := 0; b.Loop(); i++ {
			u, err := st.srv.Campaign.SignIn(ctx, m.id, wechat.OAuthToken{OpenID: fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i)},
				&wechat.User{Nickname: "分享达人"})
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := st.srv.Campaign.Poster(ctx, c, u); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/poster")
	})
	b.Run("poster-cached", func(b *testing.B) {
		u, err := st.srv.Campaign.SignIn(ctx, m.id, wechat.OAuthToken{OpenID: su.OpenID}, &wechat.User{Nickname: "压测用户"})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := st.srv.Campaign.Poster(ctx, c, u); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for b.Loop() {
			if _, _, err := st.srv.Campaign.Poster(ctx, c, u); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/poster")
	})
}

// crowd signs in n followers of m through page's OAuth round trip: the visitors a
// benchmark's requests take turns as.
func crowd(b *testing.B, st *h5Stack, m *h5Merchant, page string, n int) []*follower {
	b.Helper()
	fs := make([]*follower, n)
	for i := range fs {
		su, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: fmt.Sprintf("访客%d", i), Subscribed: true})
		if err != nil {
			b.Fatal(err)
		}
		fs[i] = newFollower()
		fs[i].signIn(b, st, m, page, su.OpenID)
	}
	return fs
}

// serveParallel GETs url from parallel keep-alive clients, each request as the next of
// visitors in turn, and reports requests per second.
func serveParallel(b *testing.B, visitors []*follower, url string) float64 {
	b.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections() // a server's shutdown waits for open keep-alive connections
	clients := make([]*http.Client, len(visitors))
	for i, f := range visitors {
		clients[i] = &http.Client{Jar: f.Jar, Transport: tr}
	}
	var failed, turn atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := clients[turn.Add(1)%int64(len(clients))].Get(url)
			if err != nil {
				failed.Add(1)
				continue
			}
			io.Copy(io.Discard, resp.Body) //nolint:errcheck
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				failed.Add(1)
			}
		}
	})
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d requests failed", n, b.N)
	}
	rps := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rps, "req/s")
	return rps
}

// seedPaidOrders gives campaign n paid orders straight in SQL, each of its own buyer and with a
// commission earned by one of n/20 sharers, and counts them sold on the campaign (its stock
// grows by as much, so the units left stay). Only what the landing page reads is written:
// no ledger entries, so the audit does not hold for this data (the data generator's job).
func seedPaidOrders(b *testing.B, st *h5Stack, merchantID, campaignID int64, n int) {
	b.Helper()
	ctx := context.Background()
	db := st.srv.DB
	sharers := max(n/20, 1)
	steps := []struct {
		query string
		args  []any
	}{
		{`INSERT INTO wechat_users (merchant_id, openid, nickname, subscribed)
SELECT $1, format('bench-%s-%s-%s', $2::bigint, kind, g), format('%s%s', CASE kind WHEN 'b' THEN '买家' ELSE '分享者' END, g), true
FROM (SELECT 'b' AS kind, g FROM generate_series(1, $3::int) g UNION ALL SELECT 's', g FROM generate_series(1, $4::int) g) x`,
			[]any{merchantID, campaignID, n, sharers}},
		// Without statistics of the users just written the planner may pair buyers and sharers
		// in a nested loop over both (100k × 5k split_parts: half an hour); with them, a merge join.
		{`ANALYZE wechat_users`, nil},
		{`INSERT INTO orders (merchant_id, campaign_id, buyer_id, sharer_id, out_trade_no, qty, amount, status, transaction_id,
    commission, commission_status, created_at, expires_at, paid_at)
SELECT $1, $2, buyer.id, sharer.id, format('B%sX%s', $2::bigint, buyer.g), 1, 68, 'paid', format('T%sX%s', $2::bigint, buyer.g),
       5, 'earned', now() - make_interval(secs => $3::int - buyer.g + 60), now(), now() - make_interval(secs => $3::int - buyer.g)
FROM (SELECT id, split_part(openid, '-', 4)::int AS g FROM wechat_users WHERE merchant_id = $1 AND openid LIKE format('bench-%s-b-%%', $2::bigint)) buyer
JOIN (SELECT id, split_part(openid, '-', 4)::int AS g FROM wechat_users WHERE merchant_id = $1 AND openid LIKE format('bench-%s-s-%%', $2::bigint)) sharer
  ON sharer.g = buyer.g % $4::int + 1`, []any{merchantID, campaignID, n, sharers}},
		{`UPDATE campaigns SET stock = stock + $2, sold = sold + $2, earned = earned + $2 WHERE id = $1`, []any{campaignID, n}},
		{`VACUUM ANALYZE orders`, nil},
		{`VACUUM ANALYZE wechat_users`, nil},
	}
	for _, s := range steps {
		if _, err := db.ExecContext(ctx, s.query, s.args...); err != nil {
			b.Fatalf("seed %d paid orders: %v\n%s", n, err, s.query)
		}
	}
}

// BenchmarkH5LandingInvite measures the landing page opened through a share link by a crowd
// of 64 friends who have opened it before (a reload, or the link opened again from the chat:
// the binding is known, the visitor's invite line is spliced in, the inviter's name comes from
// the in-process cache) against the same page opened without one. A friend's first opening
// costs one more statement, the binding (TestReopenedShareLinkSkipsTheQuery).
func BenchmarkH5LandingInvite(b *testing.B) {
	st := newH5Stack(b)
	m := st.merchant("邀请压测")
	c := st.campaign(m, 150, func(s *campaign.Settings) { s.ShowParticipants, s.OrderTicker = true, true })
	sharer, err := st.srv.Campaign.SignIn(context.Background(), m.id, wechat.OAuthToken{OpenID: "bench-sharer"}, &wechat.User{Nickname: "王小明"})
	if err != nil {
		b.Fatal(err)
	}
	landing := fmt.Sprintf("%s/c/%d", st.base, c.ID)
	friends := crowd(b, st, m, landing, 64)
	invited := landing + "?s=" + st.srv.Campaign.ShareToken(c.ID, sharer.ID)
	binds := st.srv.Campaign.BindQueries()
	var plain float64
	b.Run("plain", func(b *testing.B) { plain = serveParallel(b, friends, landing) })
	b.Run("invited", func(b *testing.B) {
		if r := serveParallel(b, friends, invited); plain > 0 {
			b.ReportMetric(r/plain, "x_plain")
		}
	})
	b.ReportMetric(float64(st.srv.Campaign.InviterReads()), "inviter_reads")
	b.ReportMetric(float64(st.srv.Campaign.BindQueries()-binds), "bind_queries")
}
