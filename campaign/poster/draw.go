package poster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"os"
	"strings"
	"sync"
	"unicode/utf8"

	qr "github.com/piglig/go-qr"
	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Drawing helpers for the poster and the generated product cover: a CJK font found at run
// time, text that wraps by rune (Chinese has no spaces to break at), rounded and round masks,
// and QR codes drawn module by module so they stay crisp at any size.

// ErrNoFont means no CJK font was found, so posters cannot be drawn (install
// fonts-wqy-microhei: scripts/deps.sh does).
var ErrNoFont = errors.New("poster: no CJK font (install fonts-wqy-microhei)")

// fontPaths are where Debian and other distributions put WenQuanYi Micro Hei. FENXIAO_FONT,
// when set, is tried first.
var fontPaths = []string{
	"/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
	"/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
	"/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
	"/usr/local/share/fonts/wqy-microhei.ttc",
}

var cjk struct {
	once sync.Once
	font *opentype.Font
	err  error
}

// cjkFont loads the font once per process; it is read-only afterwards and safe to share.
func cjkFont() (*opentype.Font, error) {
	cjk.once.Do(func() {
		paths := fontPaths
		if p := os.Getenv("FENXIAO_FONT"); p != "" {
			paths = append([]string{p}, paths...)
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			cjk.font, cjk.err = parseFont(b)
			if cjk.err != nil {
				cjk.err = fmt.Errorf("poster: font %s: %w", p, cjk.err)
			}
			return
		}
		cjk.err = ErrNoFont
	})
	return cjk.font, cjk.err
}

// parseFont reads the first face of a .ttc collection or a single .ttf/.otf. Its tables are
// copied to 4-byte boundaries first: x/image refuses unaligned tables, and WenQuanYi Micro
// Hei's collection has them (FreeType and browsers accept them).
func parseFont(b []byte) (*opentype.Font, error) {
	aligned, err := alignedFace(b)
	if err != nil {
		return nil, err
	}
	return opentype.Parse(aligned)
}

// alignedFace extracts the first face of a font file as a standalone sfnt whose tables all
// start on a 4-byte boundary.
func alignedFace(b []byte) ([]byte, error) {
	be := binary.BigEndian
	start := 0
	if len(b) >= 16 && string(b[:4]) == "ttcf" {
		if be.Uint32(b[8:]) == 0 {
			return nil, errors.New("empty font collection")
		}
		start = int(be.Uint32(b[12:]))
	}
	if len(b) < start+12 {
		return nil, errors.New("font file too short")
	}
	n := int(be.Uint16(b[start+4:]))
	dir := start + 12
	if len(b) < dir+16*n {
		return nil, errors.New("font table directory truncated")
	}
	out := make([]byte, 12+16*n, len(b))
	copy(out, b[start:start+12])
	for i := 0; i < n; i++ {
		rec := b[dir+16*i : dir+16*i+16]
		off, size := int(be.Uint32(rec[8:])), int(be.Uint32(rec[12:]))
		if off < 0 || size < 0 || off+size > len(b) {
			return nil, errors.New("font table outside the file")
		}
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
		copy(out[12+16*i:], rec[:8])
		be.PutUint32(out[12+16*i+8:], uint32(len(out)))
		be.PutUint32(out[12+16*i+12:], uint32(size))
		out = append(out, b[off:off+size]...)
	}
	return out, nil
}

// faces caches font faces by size: a face keeps a glyph cache, so it is not safe for two
// goroutines at once. Each drawing gets its own set.
type faces struct {
	f  *opentype.Font
	by map[float64]font.Face
}

func newFaces(f *opentype.Font) *faces { return &faces{f: f, by: map[float64]font.Face{}} }

func (fs *faces) size(px float64) font.Face {
	if face, ok := fs.by[px]; ok {
		return face
	}
	face, err := opentype.NewFace(fs.f, &opentype.FaceOptions{Size: px, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		panic(err) // only for a non-positive size: a programming error
	}
	fs.by[px] = face
	return face
}

// text draws s with its baseline at (x, y). bold overdraws one pixel to the right: the font
// has one weight.
func text(dst draw.Image, face font.Face, c color.Color, x, y int, s string, bold bool) {
	d := &font.Drawer{Dst: dst, Src: image.NewUniform(c), Face: face, Dot: fixed.P(x, y)}
	d.DrawString(s)
	if bold {
		d.Dot = fixed.P(x+1, y)
		d.DrawString(s)
	}
}

// width is the advance of s in pixels.
func width(face font.Face, s string) int { return font.MeasureString(face, s).Ceil() }

// wrap breaks s into at most maxLines lines no wider than w, ending the last with "…" when
// text is left over. It breaks between any two runes, as Chinese typesetting does.
func wrap(face font.Face, s string, w, maxLines int) []string {
	var lines []string
	s = strings.Join(strings.Fields(s), " ")
	for s != "" && len(lines) < maxLines {
		cut := len(s)
		for i := range s {
			if i > 0 && width(face, s[:i]) > w {
				cut = prevRune(s, i)
				break
			}
		}
		if width(face, s) <= w {
			cut = len(s)
		}
		line, rest := s[:cut], strings.TrimLeft(s[cut:], " ")
		if rest != "" && len(lines) == maxLines-1 {
			for line != "" && width(face, line+"…") > w {
				_, n := utf8.DecodeLastRuneInString(line)
				line = line[:len(line)-n]
			}
			line += "…"
			rest = ""
		}
		lines = append(lines, line)
		s = rest
	}
	return lines
}

// prevRune is the start of the rune before byte offset i.
func prevRune(s string, i int) int {
	_, n := utf8.DecodeLastRuneInString(s[:i])
	return i - n
}

// roundMask is an alpha mask of r with corners of radius radius, one-pixel soft edges. It is
// an *image.Alpha so that image/draw composites through it on its fast paths (an arbitrary
// image.Image mask costs an interface call and an allocation per pixel: a third of a
// poster's drawing time before). Only the corner squares and the edge columns are computed;
// the rest is opaque.
func roundMask(r image.Rectangle, radius int) *image.Alpha {
	m := image.NewAlpha(r)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := m.Pix[m.PixOffset(r.Min.X, y) : m.PixOffset(r.Min.X, y)+r.Dx()]
		inBand := y >= r.Min.Y+radius && y < r.Max.Y-radius
		for x := r.Min.X; x < r.Max.X; x++ {
			if inBand && x >= r.Min.X+radius && x < r.Max.X-radius {
				row[x-r.Min.X] = 0xff
				continue
			}
			row[x-r.Min.X] = roundAlpha(r, radius, x, y)
		}
	}
	return m
}

// roundAlpha is the coverage of pixel (x, y) by r rounded with radius.
func roundAlpha(b image.Rectangle, radius, x, y int) uint8 {
	cx, cy := x, y
	switch {
	case x < b.Min.X+radius:
		cx = b.Min.X + radius
	case x >= b.Max.X-radius:
		cx = b.Max.X - radius - 1
	}
	switch {
	case y < b.Min.Y+radius:
		cy = b.Min.Y + radius
	case y >= b.Max.Y-radius:
		cy = b.Max.Y - radius - 1
	}
	dx, dy := float64(x-cx), float64(y-cy)
	d := dx*dx + dy*dy
	rf := float64(radius)
	switch {
	case d <= (rf-1)*(rf-1):
		return 0xff
	case d >= rf*rf:
		return 0
	}
	return uint8(255 * (rf*rf - d) / (2*rf - 1))
}

// fillRound paints a rounded rectangle.
func fillRound(dst draw.Image, r image.Rectangle, radius int, c color.Color) {
	draw.DrawMask(dst, r, image.NewUniform(c), image.Point{}, roundMask(r, radius), r.Min, draw.Over)
}

// cover scales src to fill r (cropping the overflow, like CSS object-fit: cover) and draws it
// through a rounded mask.
func cover(dst draw.Image, r image.Rectangle, src image.Image, radius int) {
	sb := src.Bounds()
	sw, sh := sb.Dx(), sb.Dy()
	if sw == 0 || sh == 0 {
		return
	}
	crop := sb
	if sw*r.Dy() > sh*r.Dx() { // wider than the target: crop the sides
		w := sh * r.Dx() / r.Dy()
		crop.Min.X += (sw - w) / 2
		crop.Max.X = crop.Min.X + w
	} else {
		h := sw * r.Dy() / r.Dx()
		crop.Min.Y += (sh - h) / 2
		crop.Max.Y = crop.Min.Y + h
	}
	scaled := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	xdraw.CatmullRom.Scale(scaled, scaled.Bounds(), src, crop, xdraw.Src, nil)
	draw.DrawMask(dst, r, scaled, image.Point{}, roundMask(r, radius), r.Min, draw.Over)
}

// qrCode draws content as a QR code (error correction M) filling at most size×size at
// (x, y) with whole-pixel modules, and returns the side actually used.
func qrCode(dst draw.Image, x, y, size int, content string) (int, error) {
	code, err := qr.EncodeText(content, qr.Medium)
	if err != nil {
		return 0, fmt.Errorf("poster: QR code: %w", err)
	}
	const quiet = 2 // modules of white margin; the poster's white card adds more
	n := code.Size()
	scale := size / (n + 2*quiet)
	if scale < 1 {
		return 0, fmt.Errorf("poster: QR code of %d modules does not fit %d px", n, size)
	}
	side := scale * (n + 2*quiet)
	draw.Draw(dst, image.Rect(x, y, x+side, y+side), image.White, image.Point{}, draw.Src)
	for my := 0; my < n; my++ {
		for mx := 0; mx < n; mx++ {
			if code.Module(mx, my) {
				px, py := x+(mx+quiet)*scale, y+(my+quiet)*scale
				draw.Draw(dst, image.Rect(px, py, px+scale, py+scale), image.Black, image.Point{}, draw.Src)
			}
		}
	}
	return side, nil
}

// QRPNG is a QR code of content as a PNG of about size pixels, for pages that show one (the
// follow code of the fans-only gate) without asking another host to draw it.
func QRPNG(content string, size int) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	side, err := qrCode(img, 0, 0, size, content)
	if err != nil {
		return nil, err
	}
	return encodePNG(img.SubImage(image.Rect(0, 0, side, side)))
}

// gradient fills r from top colour a to bottom colour b.
func gradient(dst *image.RGBA, r image.Rectangle, a, b color.RGBA) {
	h := r.Dy()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		t := float64(y-r.Min.Y) / float64(max(h-1, 1))
		c := color.RGBA{mix(a.R, b.R, t), mix(a.G, b.G, t), mix(a.B, b.B, t), 255}
		draw.Draw(dst, image.Rect(r.Min.X, y, r.Max.X, y+1), image.NewUniform(c), image.Point{}, draw.Src)
	}
}

func mix(a, b uint8, t float64) uint8 { return uint8(float64(a)*(1-t) + float64(b)*t + 0.5) }

// circle paints a filled circle (its edge softened by the round-rect mask with r = radius).
func circle(dst draw.Image, cx, cy, radius int, c color.Color) {
	fillRound(dst, image.Rect(cx-radius, cy-radius, cx+radius, cy+radius), radius, c)
}
