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
	su, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: "压测用户", Subscribed: true})
	if err != nil {
		b.Fatal(err)
	}
	landing := fmt.Sprintf("%s/c/%d", st.base, c.ID)
	f := newFollower()
	f.signIn(b, st, m, landing, su.OpenID)
	f.CheckRedirect = nil

	trivial := fiber.New(fiber.Config{DisableStartupMessage: true})
	trivial.Get("/", func(c *fiber.Ctx) error { return c.SendString("ok") })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go trivial.Listener(ln)                  //nolint:errcheck
	b.Cleanup(func() { trivial.Shutdown() }) //nolint:errcheck

	var baseline, page float64
	b.Run("trivial", func(b *testing.B) { baseline = serveParallel(b, f, "http://"+ln.Addr().String()+"/") })
	b.Run("landing", func(b *testing.B) {
		page = serveParallel(b, f, landing)
		if baseline > 0 {
			b.ReportMetric(page/baseline, "x_trivial")
		}
	})
	st.srv.visits.flush(10 * time.Second)

	ctx := context.Background()
	b.Run("poster-first", func(b *testing.B) {
		// A new sharer each time: nothing cached.
		for i := 0; b.Loop(); i++ {
			u, err := st.srv.campaign.SignIn(ctx, m.id, wechat.OAuthToken{OpenID: fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i)},
				&wechat.User{Nickname: "分享达人"})
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := st.srv.campaign.Poster(ctx, c, u); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/poster")
	})
	b.Run("poster-cached", func(b *testing.B) {
		u, err := st.srv.campaign.SignIn(ctx, m.id, wechat.OAuthToken{OpenID: su.OpenID}, &wechat.User{Nickname: "压测用户"})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := st.srv.campaign.Poster(ctx, c, u); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for b.Loop() {
			if _, _, err := st.srv.campaign.Poster(ctx, c, u); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/poster")
	})
}

// serveParallel GETs url from parallel keep-alive clients and reports requests per second.
func serveParallel(b *testing.B, f *follower, url string) float64 {
	b.Helper()
	client := &http.Client{Jar: f.Jar, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var failed atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
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
