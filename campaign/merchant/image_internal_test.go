package merchant

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/netip"
	"strings"
	"testing"

	"fenxiao/campaign/merchant/merchanttest/imagetest"
)

// webp1x1 is a 1×1 lossless WebP (a transparent pixel).
var webp1x1 = []byte("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00")

func encoded(t testing.TB, format string, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&b, img)
	case "jpeg":
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 80})
	case "gif":
		err = gif.Encode(&b, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// photo is a w×h opaque picture with some detail.
func photo(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Pix[img.PixOffset(x, y)+0] = uint8(x * 255 / w)
			img.Pix[img.PixOffset(x, y)+1] = uint8(y * 255 / h)
			img.Pix[img.PixOffset(x, y)+2] = uint8((x ^ y) & 0x3f)
			img.Pix[img.PixOffset(x, y)+3] = 0xff
		}
	}
	return img
}

// The upload check in isolation: the pixel budget is read from the header before any decode,
// large pictures come out no larger than displaySide, small ones are kept byte for byte.
func TestNormaliseImage(t *testing.T) {
	bomb := imagetest.Bomb(100000, 100000, 1)
	t.Logf("the bomb PNG is %d bytes", len(bomb))
	transparent := image.NewNRGBA(image.Rect(0, 0, 2000, 1000))
	transparent.Set(10, 10, color.NRGBA{255, 0, 0, 128})
	small := encoded(t, "png", photo(300, 200))
	smallGIF := encoded(t, "gif", photo(64, 64))

	for _, tc := range []struct {
		name       string
		data       []byte
		want       string // an error's text, or the stored type
		w, h       int
		sameAsSent bool
	}{
		{"100000×100000 bomb", bomb, "图片尺寸过大（100000×100000）", 0, 0, false},
		{"8000×8000 PNG", imagetest.Bomb(8000, 8000, 1), "图片尺寸过大（8000×8000）", 0, 0, false},
		{"4097 wide", imagetest.Bomb(4097, 10, 1), "长宽请不要超过 4096 像素", 0, 0, false},
		{"header only, budget fits", imagetest.Bomb(4000, 4000, 1)[:60], "已损坏", 0, 0, false},
		{"3000×2000 JPEG photo", encoded(t, "jpeg", photo(3000, 2000)), "image/jpeg", 1280, 853, false},
		{"1000×2600 PNG photo", encoded(t, "png", photo(1000, 2600)), "image/jpeg", 492, 1280, false},
		{"2000×1000 with transparency", encoded(t, "png", transparent), "image/png", 1280, 640, false},
		{"small PNG", small, "image/png", 300, 200, true},
		{"small GIF", smallGIF, "image/gif", 64, 64, true},
		{"WebP", webp1x1, "image/webp", 1, 1, true},
		{"SVG", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), "只能上传 PNG、JPG、GIF 或 WebP", 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := normaliseImage(tc.data)
			if strings.HasPrefix(tc.want, "image/") {
				if err != nil {
					t.Fatal(err)
				}
				if n.contentType != tc.want || n.width != tc.w || n.height != tc.h {
					t.Fatalf("stored as %s %d×%d, want %s %d×%d", n.contentType, n.width, n.height, tc.want, tc.w, tc.h)
				}
				if bytes.Equal(n.data, tc.data) != tc.sameAsSent {
					t.Fatalf("stored bytes the same as sent: %v, want %v", !tc.sameAsSent, tc.sameAsSent)
				}
				cfg, _, err := image.DecodeConfig(bytes.NewReader(n.data))
				if err != nil || cfg.Width != tc.w || cfg.Height != tc.h {
					t.Fatalf("stored image reads as %+v, %v", cfg, err)
				}
				if len(n.data) > MaxUploadSize {
					t.Fatalf("stored %d bytes", len(n.data))
				}
				return
			}
			var ie *imageError
			if !errors.As(err, &ie) || !strings.Contains(ie.msg, tc.want) {
				t.Fatalf("got %v, want a refusal saying %q", err, tc.want)
			}
		})
	}
	// DecodeImage, what posters use, refuses the bomb the same way.
	if _, err := DecodeImage(bomb); err == nil || !strings.Contains(err.Error(), "尺寸过大") {
		t.Fatalf("DecodeImage(bomb): %v", err)
	}
}

// The fetcher's address rule: only public unicast addresses.
func TestPublicAddress(t *testing.T) {
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "223.5.5.5": true, "2400:3200::1": true, "101.226.4.6": true,
		"127.0.0.1": false, "127.8.9.10": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "100.64.0.1": false, "100.127.255.254": false, "0.0.0.0": false, "0.1.2.3": false,
		"224.0.0.1": false, "255.255.255.255": false, "240.0.0.1": false, "198.18.0.1": false,
		"::1": false, "::": false, "fe80::1": false, "fc00::1": false, "fd12::1": false, "ff02::1": false,
		"::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "64:ff9b::a00:1": false, "2002:7f00:1::": false,
	} {
		if got := PublicAddress(netip.MustParseAddr(addr)); got != want {
			t.Errorf("PublicAddress(%s) = %v, want %v", addr, got, want)
		}
	}
}

// FuzzNormaliseImage drives the upload path's check and downscale with arbitrary bytes: it
// must never panic, never decode past the pixel budget, and whatever it keeps must read back
// as an image no larger than displaySide (or the bytes sent, unchanged, when they were small).
func FuzzNormaliseImage(f *testing.F) {
	f.Add(imagetest.Bomb(100000, 100000, 1))
	f.Add(imagetest.Bomb(64, 64, 1))
	f.Add(encoded(f, "png", photo(40, 30)))
	f.Add(encoded(f, "jpeg", photo(1400, 20)))
	f.Add(encoded(f, "gif", photo(16, 16)))
	f.Add(webp1x1)
	f.Add([]byte("GIF89a\xff\xff\xff\xff\x00\x00\x00"))
	f.Add([]byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Pictures of more than 2 megapixels run the same code as smaller ones (the downscale
		// starts at 1281 px on a side), only for longer: under the fuzzer's instrumentation a
		// 4096×4096 one takes a minute, so they are left to TestNormaliseImage.
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil && cfg.Width*cfg.Height > 2<<20 && cfg.Width <= maxImageSide && cfg.Height <= maxImageSide {
			t.Skip()
		}
		n, err := normaliseImage(data)
		if err != nil {
			var ie *imageError
			if !errors.As(err, &ie) {
				t.Fatalf("not a refusal for the merchant: %v", err)
			}
			return
		}
		if _, ok := imageExt[n.contentType]; !ok {
			t.Fatalf("stored as %q", n.contentType)
		}
		if n.width < 1 || n.height < 1 || n.width > displaySide || n.height > displaySide || len(n.data) > MaxUploadSize {
			t.Fatalf("stored %d×%d, %d bytes", n.width, n.height, len(n.data))
		}
		cfg, _, err := image.DecodeConfig(bytes.NewReader(n.data))
		if err != nil || cfg.Width != n.width || cfg.Height != n.height {
			t.Fatalf("stored image reads as %+v, %v; recorded %d×%d", cfg, err, n.width, n.height)
		}
	})
}
