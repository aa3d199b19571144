package campaign_test

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"

	"fenxiao/campaign"
	"fenxiao/campaign/poster"
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
	if _, err := poster.Cover(1, "字"); err != nil {
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
	if got := img.Bounds().Size(); got != (image.Point{poster.Width, poster.Height}) {
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
	b, err := poster.Cover(7, "西湖明前龙井 250g 礼盒")
	if err != nil {
		t.Fatal(err)
	}
	saveArtifact(t, "cover.png", b)
	q, err := poster.QRPNG("https://example.com/sim/follow?ticket=abc", 240)
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

// The fingerprint names what a poster draws: it changes with the title, the product name,
// the price, the product image, the sharer's nickname or avatar, and stays when nothing drawn
// changes (a new description, more stock: the settings version moves, the poster does not,
// and it is not drawn again). The commission is not drawn (the poster says 分享赚佣金).
func TestPosterFingerprint(t *testing.T) {
	requireFont(t)
	e := newEnv(t, "100")
	c := e.campaign(10)
	a := e.user("王小明")
	base := e.svc.PosterFingerprint(c, a)
	seen := map[string]string{base: "unchanged"}
	for _, tc := range []struct {
		name   string
		change func(c *campaign.Campaign, u *campaign.User)
	}{
		{"title", func(c *campaign.Campaign, _ *campaign.User) { c.Title = "新标题" }},
		{"product name", func(c *campaign.Campaign, _ *campaign.User) { c.ProductName = "新品名" }},
		{"price", func(c *campaign.Campaign, _ *campaign.User) { c.Price = d("88.01") }},
		{"product image", func(c *campaign.Campaign, _ *campaign.User) {
			c.ProductImages = campaign.StringList{fmt.Sprintf("/media/%d/%064x.jpg", e.merchant, 1)}
		}},
		{"nickname", func(_ *campaign.Campaign, u *campaign.User) { u.Nickname = "王小红" }},
		{"avatar", func(_ *campaign.Campaign, u *campaign.User) { u.AvatarURL = "https://thirdwx.qlogo.cn/mmopen/x/132" }},
	} {
		cc, uu := *c, *a
		tc.change(&cc, &uu)
		fp := e.svc.PosterFingerprint(&cc, &uu)
		if prev, ok := seen[fp]; ok {
			t.Errorf("changing the %s gives the fingerprint of %s: %s", tc.name, prev, fp)
		}
		seen[fp] = tc.name
	}

	_, fp, err := e.svc.Poster(ctx, c, a)
	if err != nil || fp != base {
		t.Fatalf("poster fingerprint %s, want %s (%v)", fp, base, err)
	}
	var drawn time.Time
	if err := e.db.Get(&drawn, `SELECT created_at FROM posters WHERE campaign_id = $1`, c.ID); err != nil {
		t.Fatal(err)
	}
	set := c.Settings
	set.Description = "新的商品介绍"
	if c, err = e.svc.Update(ctx, e.merchant, c.ID, set); err != nil {
		t.Fatal(err)
	}
	if c, err = e.svc.AdjustStock(ctx, e.merchant, c.ID, 5); err != nil {
		t.Fatal(err)
	}
	if _, fp, err := e.svc.Poster(ctx, c, a); err != nil || fp != base {
		t.Fatalf("after a new description and stock (version %d) the fingerprint is %s, want %s (%v)", c.Version, fp, base, err)
	}
	var again time.Time
	if err := e.db.Get(&again, `SELECT created_at FROM posters WHERE campaign_id = $1`, c.ID); err != nil || !again.Equal(drawn) {
		t.Fatalf("the poster was drawn again (%s, then %s): %v", drawn, again, err)
	}
}

// Every sharer's poster of a campaign is drawn on a copy of the campaign's card, drawn and
// encoded once: each decodes pixel for pixel to the poster drawn from scratch for that
// sharer, so the card is shared, never drawn on, and the sharer's drawing stays inside the
// rows encoded for each sharer.
func TestPosterSharesTheCampaignCard(t *testing.T) {
	requireFont(t)
	e := newEnv(t, "100")
	c := e.campaign(10, func(s *campaign.Settings) { s.ProductName = "西湖明前龙井 250g 礼盒装" })
	for _, name := range []string{"甲", "乙乙", "丙丙丙"} {
		u := e.user(name)
		got, _, err := e.svc.Poster(ctx, c, u)
		if err != nil {
			t.Fatal(err)
		}
		want, err := poster.Render(poster.Input{Title: c.Title, ProductName: c.ProductName, Nickname: name, Price: c.Price,
			ShareURL: e.svc.ShareURL(c.ID, u.ID), CampaignID: c.ID})
		if err != nil {
			t.Fatal(err)
		}
		if !samePixels(t, got, want) {
			saveArtifact(t, name+"-got.png", got)
			saveArtifact(t, name+"-want.png", want)
			t.Fatalf("%s's poster differs from the one drawn from scratch", name)
		}
	}
}

// samePixels says whether two PNGs decode to the same picture.
func samePixels(t *testing.T, a, b []byte) bool {
	t.Helper()
	ia, err := png.Decode(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	ib, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if ia.Bounds() != ib.Bounds() {
		return false
	}
	for y := ia.Bounds().Min.Y; y < ia.Bounds().Max.Y; y++ {
		for x := ia.Bounds().Min.X; x < ia.Bounds().Max.X; x++ {
			r1, g1, b1, a1 := ia.At(x, y).RGBA()
			r2, g2, b2, a2 := ib.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				t.Logf("first difference at (%d, %d)", x, y)
				return false
			}
		}
	}
	return true
}
