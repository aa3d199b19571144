package campaign_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"fenxiao/campaign"
	"fenxiao/campaign/merchant"
	"fenxiao/campaign/merchant/merchanttest/imagetest"
	"fenxiao/wallet"
)

// solid is a w×h JPEG of one colour.
func solid(t testing.TB, w, h int, c color.RGBA) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// imageHost is a loopback web server with one image per path, counting the requests for each.
type imageHost struct {
	*httptest.Server
	files map[string][]byte
	hits  map[string]*atomic.Int64
}

func newImageHost(t *testing.T, files map[string][]byte) *imageHost {
	h := &imageHost{files: files, hits: map[string]*atomic.Int64{}}
	for p := range files {
		h.hits[p] = &atomic.Int64{}
	}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := h.hits[r.URL.Path]; n != nil {
			n.Add(1)
		}
		if r.URL.Path == "/loop" {
			http.Redirect(w, r, "/loop", http.StatusFound)
			return
		}
		if to := r.URL.Query().Get("to"); to != "" {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		b, ok := h.files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b) //nolint:errcheck
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *imageHost) hitsOf(path string) int64 { return h.hits[path].Load() }

// imageService is the test service whose image fetcher may also reach the origins in
// fetchAllow, and which fetches avatars from avatarHosts (nil: WeChat's).
func imageService(t *testing.T, e *env, fetchAllow, avatarHosts []string) *campaign.Service {
	t.Helper()
	cfg := campaign.Config{
		DB: e.db, Wallet: wallet.NewService(e.db), Regions: regions, Secret: testSecret, BaseURL: hookURL, Now: clock.Now,
		Merchants:   merchantsFor(t, e.db, func(c *merchant.Config) { c.FetchAllow = fetchAllow }),
		AvatarHosts: avatarHosts,
	}
	svc, err := campaign.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// allocated runs fn and returns the bytes it allocated (the whole process's, an upper bound).
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// posterMax is more than any honest poster allocates (a 750×1334 canvas, a 1280-pixel photo
// and its scaled copy) and far less than one decode of the bomb (40 GB) or of 8000×8000
// (256 MB).
const posterMax = 200 << 20

// The 100000×100000 PNG, by every path a merchant has, never reaches image.Decode: uploaded,
// pasted as an address, already saved as an address before the fix, already stored as an
// upload before the fix, or served as a sharer's avatar from an avatar host. Each answer is a
// clear refusal or a poster with a stand-in picture, and no path allocates the bitmap.
func TestBombPNGNeverDecoded(t *testing.T) {
	requireFont(t)
	e := newEnv(t, "100")
	bomb := imagetest.Bomb(100000, 100000, 1)
	host := newImageHost(t, map[string][]byte{"/bomb.png": bomb, "/avatar.png": bomb})
	svc := imageService(t, e, []string{host.URL}, []string{strings.TrimPrefix(host.URL, "http://")})

	// 1. Uploaded.
	_, err := svc.Merchants().SaveUpload(ctx, e.merchant, bomb)
	wantField(t, err, "file", "图片尺寸过大（100000×100000）")

	// 2. Pasted into the campaign form: fetched once at save time, refused like an upload.
	_, err = svc.Create(ctx, e.merchant, settings(func(s *campaign.Settings) { s.ProductImages = campaign.StringList{host.URL + "/bomb.png"} }), 10)
	wantField(t, err, "product_images", "图片尺寸过大（100000×100000）")
	if n := host.hitsOf("/bomb.png"); n != 1 {
		t.Fatalf("the pasted address was fetched %d times, want once", n)
	}

	// 3. Saved as an address before the fix (the row as an old release wrote it): the poster
	// does not fetch it and draws the generated cover.
	c := e.campaign(10)
	if _, err := e.db.Exec(`UPDATE campaigns SET product_images = $2, version = version + 1 WHERE id = $1`, c.ID, campaign.StringList{host.URL + "/bomb.png"}); err != nil {
		t.Fatal(err)
	}
	c, _ = svc.Get(ctx, e.merchant, c.ID)
	a := e.user("王小明")
	var b []byte
	if n := allocated(func() { b, _, err = svc.Poster(ctx, c, a) }); err != nil || n > posterMax {
		t.Fatalf("poster from an old address row: %v, %d MB allocated", err, n>>20)
	}
	if n := host.hitsOf("/bomb.png"); n != 1 {
		t.Fatalf("the poster fetched the old address (%d requests in all)", n)
	}
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}

	// 4. Stored as an upload before the budget existed (the old check allowed 8000 px only,
	// but a row is a row): the poster refuses it by its header and draws the cover.
	sum := sha256.Sum256(bomb)
	if _, err := e.db.Exec(`INSERT INTO uploads (merchant_id, sha256, content_type, width, height, size, data) VALUES ($1, $2, 'image/png', 100000, 100000, $3, $4)`,
		e.merchant, hex.EncodeToString(sum[:]), len(bomb), bomb); err != nil {
		t.Fatal(err)
	}
	old := fmt.Sprintf("/media/%d/%s.png", e.merchant, hex.EncodeToString(sum[:]))
	set := c.Settings
	set.ProductImages = campaign.StringList{old}
	if c, err = svc.Update(ctx, e.merchant, c.ID, set); err != nil {
		t.Fatal(err)
	}
	if n := allocated(func() { _, _, err = svc.Poster(ctx, c, a) }); err != nil || n > posterMax {
		t.Fatalf("poster from an old upload row: %v, %d MB allocated", err, n>>20)
	}

	// 5. The sharer's avatar, from an avatar host: fetched, refused by its header; the poster
	// shows the nickname's initial.
	if _, err := e.db.Exec(`UPDATE wechat_users SET avatar_url = $2 WHERE id = $1`, a.ID, host.URL+"/avatar.png"); err != nil {
		t.Fatal(err)
	}
	a, _ = svc.User(ctx, e.merchant, a.ID)
	if n := allocated(func() { _, _, err = svc.Poster(ctx, c, a) }); err != nil || n > posterMax {
		t.Fatalf("poster with a bomb avatar: %v, %d MB allocated", err, n>>20)
	}
	if n := host.hitsOf("/avatar.png"); n != 1 {
		t.Fatalf("avatar fetched %d times, want once", n)
	}
}

// An avatar anywhere but WeChat's avatar hosts is never requested; the default service knows
// only WeChat's.
func TestAvatarOnlyFromWeChatHosts(t *testing.T) {
	requireFont(t)
	e := newEnv(t, "100")
	face := solid(t, 132, 132, color.RGBA{0x20, 0x40, 0xe0, 0xff})
	host := newImageHost(t, map[string][]byte{"/face.jpg": face})
	c := e.campaign(10)
	a := e.user("李雷")
	if _, err := e.db.Exec(`UPDATE wechat_users SET avatar_url = $2 WHERE id = $1`, a.ID, host.URL+"/face.jpg"); err != nil {
		t.Fatal(err)
	}
	a, _ = e.svc.User(ctx, e.merchant, a.ID)
	if _, _, err := e.svc.Poster(ctx, c, a); err != nil {
		t.Fatal(err)
	}
	if n := host.hitsOf("/face.jpg"); n != 0 {
		t.Fatalf("an avatar on another host was requested %d times", n)
	}

	// The same server as the avatar host (as WeChat's would be): its avatar is drawn. (A new
	// avatar address: the poster above is cached under the old one.)
	if _, err := e.db.Exec(`UPDATE wechat_users SET avatar_url = $2 WHERE id = $1`, a.ID, host.URL+"/face.jpg?s=132"); err != nil {
		t.Fatal(err)
	}
	a, _ = e.svc.User(ctx, e.merchant, a.ID)
	svc := imageService(t, e, []string{host.URL}, []string{strings.TrimPrefix(host.URL, "http://")})
	b, _, err := svc.Poster(ctx, c, a)
	if err != nil {
		t.Fatal(err)
	}
	if n := host.hitsOf("/face.jpg"); n != 1 {
		t.Fatalf("the avatar host was asked %d times, want once", n)
	}
	img, _ := png.Decode(bytes.NewReader(b))
	if r, g, bl, _ := img.At(96, 96).RGBA(); bl>>8 < 0xc0 || r>>8 > 0x60 || g>>8 > 0x70 {
		t.Fatalf("the avatar's blue is not drawn: %x %x %x", r>>8, g>>8, bl>>8)
	}
}

// An 8000×8000 upload (a few hundred KB) is refused; a 3000×3000 photo is stored downscaled
// to 1280×1280.
func TestLargeUploadsDownscaledOrRefused(t *testing.T) {
	e := newEnv(t, "")
	_, err := e.svc.Merchants().SaveUpload(ctx, e.merchant, imagetest.Bomb(8000, 8000, 1))
	wantField(t, err, "file", "图片尺寸过大（8000×8000），长宽请不要超过 4096 像素")
	u, err := e.svc.Merchants().SaveUpload(ctx, e.merchant, solid(t, 3000, 3000, color.RGBA{200, 30, 30, 255}))
	if err != nil {
		t.Fatal(err)
	}
	if u.Width != 1280 || u.Height != 1280 || u.ContentType != "image/jpeg" {
		t.Fatalf("stored %+v", u)
	}
	name := strings.TrimPrefix(u.URL(), fmt.Sprintf("/media/%d/", e.merchant))
	got, err := e.svc.Merchants().Media(ctx, e.merchant, name)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := jpeg.DecodeConfig(bytes.NewReader(got.Data)); err != nil || cfg.Width != 1280 {
		t.Fatalf("stored bytes: %+v, %v", cfg, err)
	}
}

// A pasted address is fetched once at save time and becomes an upload of the merchant's own;
// the page and the poster use the stored copy and never ask the other host again.
func TestPastedImageAddressStoredOnce(t *testing.T) {
	requireFont(t)
	e := newEnv(t, "100")
	red := solid(t, 1600, 1600, color.RGBA{0xe0, 0x10, 0x10, 0xff})
	host := newImageHost(t, map[string][]byte{"/tea.jpg": red, "/logo.jpg": solid(t, 100, 100, color.RGBA{0, 0x80, 0, 0xff})})
	svc := imageService(t, e, []string{host.URL}, nil)

	c, err := svc.Create(ctx, e.merchant, settings(func(s *campaign.Settings) {
		s.ProductImages = campaign.StringList{host.URL + "/tea.jpg"}
		s.Logo = host.URL + "/logo.jpg"
	}), 10)
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("/media/%d/", e.merchant)
	if len(c.ProductImages) != 1 || !strings.HasPrefix(c.ProductImages[0], prefix) || !strings.HasPrefix(c.Logo, prefix) {
		t.Fatalf("saved images %q, logo %q: want uploads of the merchant", c.ProductImages, c.Logo)
	}
	u, err := svc.Merchants().Media(ctx, e.merchant, strings.TrimPrefix(c.ProductImages[0], prefix))
	if err != nil || u.Width != 1280 {
		t.Fatalf("stored copy %+v, %v", u, err)
	}
	if c, err = svc.Publish(ctx, e.merchant, c.ID); err != nil {
		t.Fatal(err)
	}
	// Saving again with the stored addresses fetches nothing.
	if c, err = svc.Update(ctx, e.merchant, c.ID, c.Settings); err != nil {
		t.Fatal(err)
	}
	b, _, err := svc.Poster(ctx, c, e.user("韩梅梅"))
	if err != nil {
		t.Fatal(err)
	}
	saveArtifact(t, "poster.png", b)
	if h1, h2 := host.hitsOf("/tea.jpg"), host.hitsOf("/logo.jpg"); h1 != 1 || h2 != 1 {
		t.Fatalf("the other host was asked %d and %d times, want once each", h1, h2)
	}
	img, _ := png.Decode(bytes.NewReader(b))
	if r, g, _, _ := img.At(375, 500).RGBA(); r>>8 < 0xc0 || g>>8 > 0x40 {
		t.Fatalf("the product photo is not on the poster: %x %x", r>>8, g>>8)
	}

	// Another merchant's upload, or another path of this server, is not an image of this one.
	for bad, want := range map[string]string{
		fmt.Sprintf("/media/%d/%s", e.merchant+1, strings.TrimPrefix(c.ProductImages[0], prefix)): "图片不存在，请重新上传",
		"/c/1/cover.png": "图片地址无效",
	} {
		set := c.Settings
		set.ProductImages = campaign.StringList{bad}
		_, err := svc.Update(ctx, e.merchant, c.ID, set)
		wantField(t, err, "product_images", want)
	}
}

// The fetch refuses internal addresses when it dials: the default service refuses a loopback
// server, and a redirect from an allowed server to 127.0.0.1 is refused too, so the internal
// server is never asked. Redirect chains are bounded; a file past 2 MB is not read on.
func TestPastedAddressSSRF(t *testing.T) {
	e := newEnv(t, "")
	internal := newImageHost(t, map[string][]byte{"/secret.png": imagetest.Bomb(10, 10, 1)})
	outside := newImageHost(t, map[string][]byte{"/r": nil, "/big.jpg": make([]byte, merchant.MaxUploadSize+100)})
	allowed := imageService(t, e, []string{outside.URL}, nil)

	for _, tc := range []struct {
		name string
		svc  *campaign.Service
		url  string
		want string
	}{
		{"loopback, default policy", e.svc, internal.URL + "/secret.png", "内部网络"},
		{"localhost by name", e.svc, strings.Replace(internal.URL, "127.0.0.1", "localhost", 1) + "/secret.png", "内部网络"},
		{"cloud metadata", e.svc, "http://169.254.169.254/latest/meta-data/", "内部网络"},
		{"redirect to 127.0.0.1", allowed, outside.URL + "/r?to=" + internal.URL + "/secret.png", "内部网络"},
		{"redirect loop", allowed, outside.URL + "/loop", "跳转次数过多"},
		{"past 2 MB", allowed, outside.URL + "/big.jpg", "不能超过 2 MB"},
		{"not http", allowed, "file:///etc/passwd", "http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.svc.Merchants().ImportImage(ctx, e.merchant, tc.url)
			wantField(t, err, "file", tc.want)
		})
	}
	if n := internal.hitsOf("/secret.png"); n != 0 {
		t.Fatalf("the internal server was asked %d times", n)
	}
	// The campaign form says which address failed and why.
	_, err := e.svc.Create(ctx, e.merchant, settings(func(s *campaign.Settings) { s.SplashImage = internal.URL + "/secret.png" }), 1)
	wantField(t, err, "splash_image", "内部网络")
}
