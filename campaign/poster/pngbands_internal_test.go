package poster

import (
	"bytes"
	"hash/adler32"
	"image"
	"image/png"
	"math/rand/v2"
	"testing"
)

// A banded encoding decodes to exactly the image, whatever changed inside the varying rows,
// and its Adler-32 is the whole stream's.
func TestBandedPNG(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	base := image.NewRGBA(image.Rect(0, 0, 37, 50))
	for i := range base.Pix {
		base.Pix[i] = byte(rnd.IntN(256))
		if i%4 == 3 {
			base.Pix[i] = 0xff
		}
	}
	enc, err := newBandedPNG(base, [][2]int{{0, 3}, {20, 31}, {45, 50}})
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewRGBA(base.Rect)
	copy(img.Pix, base.Pix)
	for _, y := range []int{0, 2, 20, 30, 45, 49} {
		for x := 0; x < 37; x++ {
			o := img.PixOffset(x, y)
			img.Pix[o], img.Pix[o+1], img.Pix[o+2] = byte(x*7), byte(y*3), byte(rnd.IntN(256))
		}
	}
	for _, want := range []*image.RGBA{base, img} {
		got, err := png.Decode(bytes.NewReader(enc.encode(want)))
		if err != nil {
			t.Fatal(err)
		}
		for y := 0; y < 50; y++ {
			for x := 0; x < 37; x++ {
				if r, g, b, _ := got.At(x, y).RGBA(); [3]uint32{r >> 8, g >> 8, b >> 8} != [3]uint32{uint32(want.Pix[want.PixOffset(x, y)]), uint32(want.Pix[want.PixOffset(x, y)+1]), uint32(want.Pix[want.PixOffset(x, y)+2])} {
					t.Fatalf("pixel (%d, %d) decodes to %d %d %d", x, y, r>>8, g>>8, b>>8)
				}
			}
		}
	}
	if _, err := newBandedPNG(base, [][2]int{{10, 20}, {15, 30}}); err == nil {
		t.Fatal("overlapping bands accepted")
	}

	a, b := []byte("hello, "), bytes.Repeat([]byte("world"), 20000)
	if got, want := adler32Combine(adler32.Checksum(a), adler32.Checksum(b), len(b)), adler32.Checksum(append(a, b...)); got != want {
		t.Fatalf("combined Adler-32 %08x, want %08x", got, want)
	}
}
