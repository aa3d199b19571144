package wallet_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fenxiao/wallet"
	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// payoutBenchFor is how long every part of BenchmarkPayouts sends: the baseline and the
// pipelines are measured over the same wall-clock time, not the same number of packets
// (with -benchtime 1x that was one packet each).
const payoutBenchFor = 4 * time.Second

// BenchmarkPayouts measures the sending pipeline (lease in PostgreSQL, pace, send, record the
// answer), every part for payoutBenchFor:
//
//   - baseline-adapter-only: the adapter alone sending packets to the simulator from 8
//     goroutines, the ceiling the pipeline can approach;
//   - pipeline-limit-raised: the pipeline to the simulator, rate no limit; "x_baseline" is
//     its packets/s over the baseline's;
//   - pipeline-limit-200/s: the same with the merchant's rate (200/s) as the bottleneck;
//     "limit_use" is the rate achieved over the limit;
//   - ten-merchants-30/s: ten merchants at once, 30/s each, WeChat answered by an in-process
//     stub: "limit_use_min"/"_max" are the slowest and fastest merchant over its rate,
//     "share_min"/"_max" each one's packets over a tenth of all, "max_per_s" the most
//     calls of one merchant inside any sliding second.
func BenchmarkPayouts(b *testing.B) {
	var seq atomic.Int64
	var baseline float64 // packets per second of the adapter alone

	b.Run("baseline-adapter-only", func(b *testing.B) {
		e := newPayEnv(b)
		users := e.users(b, 20000)
		var sent, ok, failed atomic.Int64
		for b.Loop() {
			sent.Store(0)
			ok.Store(0)
			failed.Store(0)
			deadline := time.Now().Add(payoutBenchFor)
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for time.Now().Before(deadline) {
						i := sent.Add(1) - 1
						if int(i) >= len(users) {
							b.Error("baseline ran out of users")
							return
						}
						bill := fmt.Sprintf("BASE%012d", seq.Add(1))
						if _, err := e.client.SendRedPacket(ctx, wechat.RedPacket{BillNo: bill, OpenID: users[i], AmountFen: 100,
							SendName: "基准", Wishing: "基准", ActName: "基准", ClientIP: "127.0.0.1"}); err != nil {
							failed.Add(1) // a timeout on a loaded machine: not counted, reported
						} else {
							ok.Add(1)
						}
					}
				}()
			}
			wg.Wait()
		}
		baseline = float64(ok.Load()) / payoutBenchFor.Seconds()
		b.ReportMetric(baseline, "packets/s")
		b.ReportMetric(float64(failed.Load()), "errors")
	})

	for _, tc := range []struct {
		name string
		rate float64
	}{{"pipeline-limit-raised", 1e6}, {"pipeline-limit-200/s", 200}} {
		b.Run(tc.name, func(b *testing.B) {
			e := newPayEnv(b)
			p := e.payouts(func(c *wallet.PayoutConfig) { c.Rate = tc.rate; c.Workers = 8; c.Lease = time.Minute })
			var rate float64
			for b.Loop() {
				// Enough packets that the run ends by the clock, not by running out (sendFor
				// says so if not): the pipeline's own ceiling is far under the adapter's here.
				expect := tc.rate
				if expect >= 1e6 {
					expect = min(max(baseline, 100), 800)
				}
				n := int(math.Ceil(expect * payoutBenchFor.Seconds() * 1.3))
				e.claims(p, e.merchant, n, e.users(b, n)...)
				sent := sendFor(b, p, n)
				rate = float64(sent) / payoutBenchFor.Seconds()
			}
			b.ReportMetric(rate, "packets/s")
			if baseline > 0 {
				b.ReportMetric(rate/baseline, "x_baseline")
			}
			if tc.rate < 1e6 {
				b.ReportMetric(rate/tc.rate, "limit_use")
			}
		})
	}

	b.Run("ten-merchants-30/s", func(b *testing.B) {
		const rate, merchants = 30.0, 10
		e := newPayEnv(b)
		stub := newStubPackets()
		p := e.payouts(func(c *wallet.PayoutConfig) {
			c.Clients = stub.clients
			c.Rate = rate
			c.Workers = 4
			c.Lease = time.Minute
		})
		ids := make([]int64, merchants)
		for i := range ids {
			ids[i] = newMerchant(b, e.db)
		}
		var counts []int
		var most int
		for b.Loop() {
			per := int(math.Ceil(rate * payoutBenchFor.Seconds() * 1.3))
			for _, m := range ids {
				e.claims(p, m, per)
			}
			sendFor(b, p, per*merchants)
			counts, most = counts[:0], 0
			for _, m := range ids {
				calls := stub.callsOf(m)
				counts = append(counts, len(calls))
				most = max(most, maxInWindow(calls, time.Second))
			}
		}
		total, lo, hi := 0, counts[0], counts[0]
		for _, n := range counts {
			total, lo, hi = total+n, min(lo, n), max(hi, n)
		}
		secs := payoutBenchFor.Seconds()
		b.ReportMetric(float64(total)/secs, "packets/s")
		b.ReportMetric(float64(lo)/secs/rate, "limit_use_min")
		b.ReportMetric(float64(hi)/secs/rate, "limit_use_max")
		b.ReportMetric(float64(lo)*merchants/float64(total), "share_min")
		b.ReportMetric(float64(hi)*merchants/float64(total), "share_max")
		b.ReportMetric(float64(most), "max_per_s")
	})
}

// sendFor runs SendDue for payoutBenchFor and returns how many packets were accepted; the
// claimed packets must outlast it.
func sendFor(b *testing.B, p *wallet.Payouts, claimed int) int {
	b.Helper()
	run, cancel := context.WithTimeout(ctx, payoutBenchFor)
	defer cancel()
	sent, err := p.SendDue(run)
	if err != nil {
		b.Fatal(err)
	}
	if sent >= claimed {
		b.Fatalf("all %d packets went out before the %s were up: claim more", claimed, payoutBenchFor)
	}
	return sent
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
