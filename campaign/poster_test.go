package campaign_test

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"

	"fenxiao/campaign"
)

// decodeQR reads the QR code in a picture, as a phone's long-press does.
func decodeQR(t testing.TB, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := gozxingqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		t.Fatalf("no QR code found in the poster: %v", err)
	}
	return res.GetText()
}

// saveArtifact keeps a picture under artifacts/ for a person to look at.
func saveArtifact(t testing.TB, name string, b []byte) {
	dir := filepath.Join("..", "artifacts", t.Name())
	if err := os.MkdirAll(dir, 0o755); err == nil {
		os.WriteFile(filepath.Join(dir, name), b, 0o644) //nolint:errcheck
	}
}

func requireFont(t testing.TB) {
	t.Helper()
	if _, err := campaign.RenderCover(1, "字"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// The poster is 750×1334, its QR code decodes to the sharer's link, and it is drawn once per
// campaign version and sharer profile: the second call is served from the cache, a settings
// change or a new nickname draws a new one.
func TestPoster(t *testing.T) {
	requireFont(t)
	e := newEnv(t, "100")
	c := e.campaign(10, func(s *campaign.Settings) {
		s.Title = "明前龙井 · 分享赚"
		s.ProductName = "西湖明前龙井 250g 礼盒装（特级）"
	})
	a := e.user("王小明")

	start := time.Now()
	b, fp, err := e.svc.Poster(ctx, c, a)
	if err != nil {
		t.Fatal(err)
	}
	first := time.Since(start)
	saveArtifact(t, "poster.png", b)
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if got := img.Bounds().Size(); got != (image.Point{campaign.PosterWidth, campaign.PosterHeight}) {
		t.Fatalf("poster is %v", got)
	}
	if got, want := decodeQR(t, img), e.svc.ShareURL(c.ID, a.ID); got != want {
		t.Fatalf("QR code says %q, want the share link %q", got, want)
	}

	start = time.Now()
	b2, fp2, err := e.svc.Poster(ctx, c, a)
	if err != nil || fp2 != fp || !bytes.Equal(b, b2) {
		t.Fatalf("second poster: fingerprint %s vs %s, same bytes %v, %v", fp2, fp, bytes.Equal(b, b2), err)
	}
	t.Logf("poster: first %s, cached %s, %d KB", first, time.Since(start), len(b)/1024)

	set := c.Settings
	set.Title = "新标题"
	if c, err = e.svc.Update(ctx, e.merchant, c.ID, set); err != nil {
		t.Fatal(err)
	}
	if _, fp3, err := e.svc.Poster(ctx, c, a); err != nil || fp3 == fp {
		t.Fatalf("after a settings change the fingerprint stayed %s (%v)", fp3, err)
	}
	var rows int
	if err := e.db.Get(&rows, `SELECT count(*) FROM posters WHERE campaign_id = $1`, c.ID); err != nil || rows != 1 {
		t.Fatalf("%d cached posters for one sharer (%v), want 1", rows, err)
	}
}

func TestCoverAndQRPNG(t *testing.T) {
	requireFont(t)
	b, err := campaign.RenderCover(7, "西湖明前龙井 250g 礼盒")
	if err != nil {
		t.Fatal(err)
	}
	saveArtifact(t, "cover.png", b)
	q, err := campaign.QRPNG("https://example.com/sim/follow?ticket=abc", 240)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(q))
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeQR(t, img); got != "https://example.com/sim/follow?ticket=abc" {
		t.Fatalf("QR says %q", got)
	}
}
