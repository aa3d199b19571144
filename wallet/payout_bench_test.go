package wallet_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fenxiao/wallet"
	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// BenchmarkPayouts measures the sending pipeline (lease in PostgreSQL, send, record the answer)
// against the simulator, with a baseline from the same run: the adapter alone sending packets
// to the simulator from 8 goroutines, the ceiling the pipeline can approach. "x_baseline" is
// the pipeline's time per packet over the baseline's. With the merchant's rate limit as the
// bottleneck (200/s), "limit_use" is the rate achieved over the limit.
func BenchmarkPayouts(b *testing.B) {
	var seq atomic.Int64
	var baseline float64 // ns per packet of the adapter alone
	perPacket := func(b *testing.B, start time.Time) float64 {
		return float64(time.Since(start).Nanoseconds()) / float64(b.N)
	}

	b.Run("baseline-adapter-only", func(b *testing.B) {
		e := newPayEnv(b)
		users := e.users(b, b.N)
		b.ResetTimer()
		start := time.Now()
		var wg sync.WaitGroup
		next := make(chan int)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					bill := fmt.Sprintf("BASE%012d", seq.Add(1))
					if _, err := e.client.SendRedPacket(ctx, wechat.RedPacket{BillNo: bill, OpenID: users[i], AmountFen: 100,
						SendName: "基准", Wishing: "基准", ActName: "基准", ClientIP: "127.0.0.1"}); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		for i := range b.N {
			next <- i
		}
		close(next)
		wg.Wait()
		baseline = perPacket(b, start)
		b.ReportMetric(1e9/baseline, "packets/s")
	})

	for _, tc := range []struct {
		name string
		rate float64
	}{{"pipeline-limit-raised", 1e6}, {"pipeline-limit-200/s", 200}} {
		b.Run(tc.name, func(b *testing.B) {
			e := newPayEnv(b)
			p := e.payouts(func(c *wallet.PayoutConfig) { c.Rate = tc.rate; c.Workers = 8; c.Lease = time.Minute })
			users := e.users(b, b.N)
			for _, openid := range users {
				sharer := seq.Add(1)
				e.fund(sharer, "1")
				if _, err := p.Claim(ctx, e.merchant, sharer, openid); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			start := time.Now()
			sent, err := p.SendDue(ctx)
			if err != nil || sent != b.N {
				b.Fatalf("sent %d of %d: %v", sent, b.N, err)
			}
			ns := perPacket(b, start)
			b.ReportMetric(1e9/ns, "packets/s")
			if baseline > 0 {
				b.ReportMetric(ns/baseline, "x_baseline")
			}
			if tc.rate < 1e6 {
				b.ReportMetric(1e9/ns/tc.rate, "limit_use")
			}
		})
	}
}

// users adds n simulator users of the merchant (one packet each keeps WeChat's per-user daily
// limits out of the measurement).
func (e *payEnv) users(b *testing.B, n int) []string {
	out := make([]string, n)
	for i := range out {
		u, err := e.sim.AddUser(sim.User{AppID: e.creds.AppID})
		if err != nil {
			b.Fatal(err)
		}
		out[i] = u.OpenID
	}
	return out
}
