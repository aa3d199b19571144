package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"fenxiao/campaign"
	"fenxiao/wechat/sim"
)

// BenchmarkBuyHTTP is the flash sale end to end: 256 signed-in followers at once tapping 立即购买
// on one campaign, each a POST /api/h5/c/{id}/orders over loopback HTTP (session, CSRF guard,
// rate limit, gates, the batched reservation, and the unifiedorder the simulator answers over
// loopback, signed and verified as WeChat Pay's). It reports orders/s and the p99, and the
// resident memory of the process (server and clients: they share it) at its peak during the
// run against idle just before (issue 15, goals 1 and 7).
func BenchmarkBuyHTTP(b *testing.B) {
	const buyers, clients = 2048, 256
	st := newH5Stack(b)
	m := st.merchant("抢购压测")
	landing := fmt.Sprintf("%s/c/%d", st.base, st.campaign(m, 1).ID) // where they sign in
	followers := make([]*follower, buyers)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range followers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			su, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: fmt.Sprintf("抢购%d", i), Subscribed: true,
				ClientIP: fmt.Sprintf("113.108.%d.%d", 80+i/250, 1+i%250)}) // phones on their own addresses (广东)
			if err != nil {
				b.Error(err)
				return
			}
			f := newFollower()
			f.signIn(b, st, m, landing, su.OpenID)
			followers[i] = f
		}()
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	ctx := context.Background()
	for i := range b.N {
		// A campaign per round: every follower has one live order in the last one.
		if _, err := st.srv.Wallet.TopUpAssets(ctx, nil, m.id, decimal.NewFromInt(5*buyers), fmt.Sprintf("buy-bench-%d", i), ""); err != nil {
			b.Fatal(err)
		}
		c := st.campaign(m, buyers, func(s *campaign.Settings) { s.MaxPerOrder = 1 })
		orders := fmt.Sprintf("%s/api/h5/c/%d/orders", st.base, c.ID)
		runtime.GC()
		idle := procStatusMB(b, "VmRSS")
		resetPeakRSS()
		lat := make([]time.Duration, buyers)
		var next atomic.Int64
		var failed atomic.Int64
		var first sync.Once
		var firstErr string
		start := time.Now()
		var run sync.WaitGroup
		for range clients {
			run.Add(1)
			go func() {
				defer run.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= buyers {
						return
					}
					t0 := time.Now()
					status, body := buyOnce(followers[i], orders, st.base)
					lat[i] = time.Since(t0)
					if status != http.StatusOK || !strings.Contains(body, `"package"`) {
						failed.Add(1)
						first.Do(func() { firstErr = fmt.Sprintf("%d %.200s", status, body) })
					}
				}
			}()
		}
		run.Wait()
		elapsed := time.Since(start)
		peak := procStatusMB(b, "VmHWM")
		if n := failed.Load(); n > 0 {
			b.Fatalf("%d of %d orders failed; first: %s", n, buyers, firstErr)
		}
		var sold int
		if err := st.srv.DB.Get(&sold, `SELECT held + sold FROM campaigns WHERE id = $1`, c.ID); err != nil || sold != buyers {
			b.Fatalf("%d units taken (%v), want %d", sold, err, buyers)
		}
		slices.Sort(lat)
		b.ReportMetric(float64(buyers)/elapsed.Seconds(), "orders/s")
		b.ReportMetric(float64(lat[buyers*99/100].Milliseconds()), "p99-ms")
		b.ReportMetric(idle, "idle-MB")
		b.ReportMetric(peak, "peak-MB")
	}
}

// buyOnce posts one order as the buy page does (same-origin fetch, JSON).
func buyOnce(f *follower, url, origin string) (int, string) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"qty":1}`))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", origin)
	resp, err := f.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
