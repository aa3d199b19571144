package main

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"fenxiao/campaign"
	"fenxiao/wechat"
)

// BenchmarkPosterMemory measures the server process's resident memory (RSS) while 20 sharers
// ask for their first poster at once, as the review did: the peak (VmHWM, reset just
// before) against the idle RSS measured in the same run, right before. Two product images:
// an honest 3000×3000 photo uploaded through the upload path, and an 8000×8000 PNG of a few
// hundred KB stored as the upload check before the pixel budget let it be. A sharer told
// 海报生成中 asks again after Retry-After, as the share page does; busy counts those answers.
func BenchmarkPosterMemory(b *testing.B) {
	st := newH5Stack(b)
	m := st.merchant("内存压测")
	ctx := context.Background()

	photoUpload, err := st.srv.campaign.SaveUpload(ctx, m.id, benchPhoto(b, 3000))
	if err != nil {
		b.Fatal(err)
	}
	big := bombPNG(8000, 8000, 8000)
	sum := sha256.Sum256(big)
	if _, err := st.srv.db.Exec(`INSERT INTO uploads (merchant_id, sha256, content_type, width, height, size, data)
VALUES ($1, $2, 'image/png', 8000, 8000, $3, $4) ON CONFLICT DO NOTHING`, m.id, hex.EncodeToString(sum[:]), len(big), big); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ name, image string }{
		{"photo-3000px", photoUpload.URL()},
		{"old-upload-8000px", fmt.Sprintf("/media/%d/%s.png", m.id, hex.EncodeToString(sum[:]))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			// Each run freezes 500 yuan: fund it, however often the benchmark calls this.
			if _, err := st.srv.wallet.TopUpAssets(ctx, nil, m.id, decimal.NewFromInt(500), fmt.Sprintf("bench-%s-%d", tc.name, time.Now().UnixNano()), ""); err != nil {
				b.Fatal(err)
			}
			c := st.campaign(m, 100, func(s *campaign.Settings) { s.ProductImages = campaign.StringList{tc.image} })
			var idle, peak, busy, secs float64
			for i := 0; b.Loop(); i++ {
				sharers := make([]*campaign.User, 20)
				for j := range sharers {
					u, err := st.srv.campaign.SignIn(ctx, m.id, wechat.OAuthToken{OpenID: fmt.Sprintf("mem-%s-%d-%d-%d", tc.name, time.Now().UnixNano(), i, j)},
						&wechat.User{Nickname: "分享达人"})
					if err != nil {
						b.Fatal(err)
					}
					sharers[j] = u
				}
				runtime.GC()
				debug.FreeOSMemory()
				idle = procStatusMB(b, "VmRSS")
				resetPeakRSS()
				start := time.Now()
				var wg sync.WaitGroup
				var busyN atomic.Int64
				for _, u := range sharers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for try := 0; ; try++ {
							_, _, err := st.srv.campaign.Poster(ctx, c, u)
							if errors.Is(err, campaign.ErrPosterBusy) && try < 20 {
								busyN.Add(1)
								time.Sleep(posterRetryAfter * time.Second)
								continue
							}
							if err != nil {
								b.Error(err)
							}
							return
						}
					}()
				}
				wg.Wait()
				secs = time.Since(start).Seconds()
				peak = procStatusMB(b, "VmHWM")
				busy = float64(busyN.Load())
			}
			b.ReportMetric(idle, "MB-idle")
			b.ReportMetric(peak, "MB-peak")
			b.ReportMetric(peak/idle, "x_idle")
			b.ReportMetric(busy, "busy-answers")
			b.ReportMetric(secs, "s/20-posters")
		})
	}
}

// procStatusMB reads a memory line of /proc/self/status, in MB.
func procStatusMB(b *testing.B, key string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status:", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return float64(kb) / 1024
		}
	}
	b.Fatalf("no %s in /proc/self/status", key)
	return 0
}

// resetPeakRSS sets VmHWM to the current RSS (Linux: "5" to clear_refs), so the peak read
// after is this run's.
func resetPeakRSS() {
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) //nolint:errcheck
}

// benchPhoto is a side×side JPEG with detail, about what a phone camera's crop weighs.
func benchPhoto(b *testing.B, side int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, side, side))
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			o := img.PixOffset(x, y)
			img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = uint8(x*255/side), uint8(y*255/side), uint8((x/40+y/40)%2*90), 0xff
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// bombPNG is a w×h RGBA PNG whose first rows rows are zeros (all of them: a valid image;
// fewer: one that fails once those are read): small on disk, w×h×4 bytes decoded.
func bombPNG(w, h, rows int) []byte {
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&out, binary.BigEndian, uint32(len(data))) //nolint:errcheck
		out.WriteString(typ)
		out.Write(data)
		binary.Write(&out, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...))) //nolint:errcheck
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 8, 6
	chunk("IHDR", ihdr)
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	row := make([]byte, 1+4*w)
	for y := 0; y < rows; y++ {
		zw.Write(row) //nolint:errcheck
	}
	zw.Close()
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return out.Bytes()
}
