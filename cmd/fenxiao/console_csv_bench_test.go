package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"fenxiao/campaign/seed"
)

// BenchmarkConsoleCSV downloads the orders CSV of a campaign and the merchant's statement CSV
// over loopback HTTP, through the console's own handlers and session, for a campaign of 10k
// and of 100k paid orders (and as many statement lines): the time to the first byte (beside
// GET /healthz's in the same run: x-healthz), the time to the last, and how much the process
// grew meanwhile, server and client together — the peak resident set over the resident set
// before (rss-MB, Linux's VmHWM reset through /proc/self/clear_refs) and the peak Go heap
// over the heap before (heap-MB). An export streamed page by page grows by the same few MB
// whatever its size (issue 15, goal 4: ≤ 200 ms to the first byte, ≤ 20 MB of growth).
//
//	go test -run '^$' -bench ConsoleCSV -benchtime 1x ./cmd/fenxiao/
func BenchmarkConsoleCSV(b *testing.B) {
	srv, base := startStack(b, nil)
	for _, n := range []int{10_000, 100_000} {
		br, m := signUp(b, srv, base, fmt.Sprintf("导出压测 %d", n))
		camp, _, _ := merchantSetup(b, srv, m, 10)
		start := time.Now()
		if _, err := seed.Fill(b.Context(), srv.DB, seed.Spec{MerchantID: m, CampaignID: camp.ID, Orders: n, TopUps: n, RefundEvery: 50}); err != nil {
			b.Fatal(err)
		}
		if _, err := srv.DB.Exec(`ANALYZE`); err != nil {
			b.Fatal(err)
		}
		b.Logf("%d orders and top-ups seeded in %s", n, time.Since(start).Round(time.Millisecond))
		var healthz time.Duration
		const rounds = 50
		for range rounds {
			healthz += download(b, br, "/healthz").firstByte
		}
		healthz /= rounds
		for _, tc := range []struct{ name, path string }{
			{"orders", "/console/orders.csv?campaign=" + strconv.FormatInt(camp.ID, 10)},
			{"statement", "/console/assets/statement.csv"},
		} {
			b.Run(fmt.Sprintf("%s/orders=%d", tc.name, n), func(b *testing.B) {
				var d csvDownload
				for range b.N {
					d = download(b, br, tc.path)
				}
				b.ReportMetric(ms(d.firstByte), "first-byte-ms")
				b.ReportMetric(float64(d.firstByte)/float64(healthz), "x-healthz")
				b.ReportMetric(ms(d.total), "total-ms")
				b.ReportMetric(float64(d.lines), "lines")
				b.ReportMetric(float64(d.bytes)/(1<<20), "body-MB")
				b.ReportMetric(d.rss, "rss-MB")
				b.ReportMetric(float64(d.heap)/(1<<20), "heap-MB")
			})
		}
	}
}

// csvDownload is what one download took.
type csvDownload struct {
	firstByte, total time.Duration
	bytes, lines     int
	rss              float64 // peak growth of the resident set, MB
	heap             uint64  // peak growth of the Go heap, bytes
}

// download GETs path with the browser's session and reads the body as it comes, keeping none
// of it.
func download(b *testing.B, br *browser, path string) csvDownload {
	b.Helper()
	resetPeakRSS()
	rssBefore := procStatusMB(b, "VmRSS")
	heapPeak := watchHeap(b)
	req, _ := http.NewRequest(http.MethodGet, br.base+path, nil)
	t0 := time.Now()
	resp, err := br.http.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	var d csvDownload
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	if _, err := r.Peek(1); err != nil {
		b.Fatalf("GET %s: %v", path, err)
	}
	d.firstByte = time.Since(t0)
	buf := make([]byte, 64<<10)
	for {
		k, err := r.Read(buf)
		d.bytes += k
		d.lines += bytes.Count(buf[:k], []byte("\n"))
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatalf("GET %s: %v", path, err)
		}
	}
	d.total = time.Since(t0)
	d.heap = heapPeak()
	d.rss = max(procStatusMB(b, "VmHWM")-rssBefore, 0)
	return d
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
