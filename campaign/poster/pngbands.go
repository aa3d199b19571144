package poster

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"hash/adler32"
	"hash/crc32"
	"image"
	"sync"
)

// bandedPNG encodes opaque images that differ from one base image only in fixed ranges of
// rows — a campaign's posters, alike but for the sharer's header and QR code — as PNGs
// whose rows outside those ranges are filtered and compressed once, from the base. Encoding
// the whole picture was most of a new sharer's poster (a photo poster: 55 ms of CPU, two
// thirds of it for rows every sharer shares).
//
// It works because PNG allows it: rows are filtered one by one, and the first row of a fixed
// band is filtered without the row above (None or Sub), which may differ between images; the
// zlib stream is a run of deflate segments, each compressed alone and ended on a byte
// boundary by a sync flush, closed by an empty final block; and the Adler-32 of the whole
// is combined from the segments' own.
type bandedPNG struct {
	w, h  int
	bands []pngBand // in order, covering every row
}

// pngBand is rows [y0, y1); fixed ones keep their compressed segment.
type pngBand struct {
	y0, y1   int
	fixed    bool
	deflated []byte
	adler    uint32
	size     int // uncompressed bytes
}

// newBandedPNG prepares the encoding of images like base that differ from it only in the
// varying row ranges (sorted, not overlapping). base must be opaque.
func newBandedPNG(base *image.RGBA, varying [][2]int) (*bandedPNG, error) {
	b := base.Bounds()
	e := &bandedPNG{w: b.Dx(), h: b.Dy()}
	y := 0
	for _, v := range varying {
		if v[0] < y || v[1] <= v[0] || v[1] > e.h {
			return nil, errors.New("poster: PNG bands out of order")
		}
		if v[0] > y {
			e.bands = append(e.bands, pngBand{y0: y, y1: v[0], fixed: true})
		}
		e.bands = append(e.bands, pngBand{y0: v[0], y1: v[1]})
		y = v[1]
	}
	if y < e.h {
		e.bands = append(e.bands, pngBand{y0: y, y1: e.h, fixed: true})
	}
	for i := range e.bands {
		if band := &e.bands[i]; band.fixed {
			raw := filterRows(base, band.y0, band.y1, band.y0 > 0)
			band.deflated, band.adler, band.size = deflateSegment(raw), adler32.Checksum(raw), len(raw)
		}
	}
	return e, nil
}

// encode returns img as a PNG; img must be the base with changes inside the varying rows.
func (e *bandedPNG) encode(img *image.RGBA) []byte {
	var idat bytes.Buffer
	idat.Write([]byte{0x78, 0x01}) // zlib: deflate, 32 KB window, fastest
	sum := uint32(1)               // the Adler-32 of nothing
	for _, band := range e.bands { // a copy: encode runs concurrently, e stays as it is
		if !band.fixed {
			raw := filterRows(img, band.y0, band.y1, false)
			band.deflated, band.adler, band.size = deflateSegment(raw), adler32.Checksum(raw), len(raw)
		}
		idat.Write(band.deflated)
		sum = adler32Combine(sum, band.adler, band.size)
	}
	idat.Write([]byte{0x01, 0x00, 0x00, 0xff, 0xff}) // the final block: stored, empty
	binary.Write(&idat, binary.BigEndian, sum)       //nolint:errcheck // a bytes.Buffer does not fail

	var out bytes.Buffer
	out.Grow(idat.Len() + 64)
	out.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(e.w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(e.h))
	ihdr[8], ihdr[9] = 8, 2 // 8 bits, RGB
	writeChunk(&out, "IHDR", ihdr)
	writeChunk(&out, "IDAT", idat.Bytes())
	writeChunk(&out, "IEND", nil)
	return out.Bytes()
}

func writeChunk(w *bytes.Buffer, typ string, data []byte) {
	binary.Write(w, binary.BigEndian, uint32(len(data))) //nolint:errcheck
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	w.WriteString(typ)
	w.Write(data)
	binary.Write(w, binary.BigEndian, crc.Sum32()) //nolint:errcheck
}

var flateWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

// deflateSegment compresses raw alone (no reference to earlier data) and ends it with a sync
// flush: byte-aligned, not final, so segments can follow one another.
func deflateSegment(raw []byte) []byte {
	var buf bytes.Buffer
	w := flateWriters.Get().(*flate.Writer)
	defer flateWriters.Put(w)
	w.Reset(&buf)
	w.Write(raw) //nolint:errcheck // a bytes.Buffer does not fail
	w.Flush()    //nolint:errcheck
	return buf.Bytes()
}

// adler32Combine is the Adler-32 of A followed by B from theirs and B's length (zlib's
// adler32_combine).
func adler32Combine(a, b uint32, lenB int) uint32 {
	const mod = 65521
	rem := uint32(lenB % mod)
	s1 := a & 0xffff
	s2 := rem * s1 % mod
	s1 += (b & 0xffff) + mod - 1
	s2 += (a >> 16) + (b >> 16) + mod - rem
	if s1 >= mod {
		s1 -= mod
	}
	if s1 >= mod {
		s1 -= mod
	}
	if s2 >= 2*mod {
		s2 -= 2 * mod
	}
	if s2 >= mod {
		s2 -= mod
	}
	return s1 | s2<<16
}

// filterRows is rows [y0, y1) of img as PNG scanlines (RGB, alpha dropped: img is opaque),
// each with the filter that leaves the smallest sum of absolute differences — the heuristic
// image/png and libpng use. alone: the first row does not refer to the row above.
func filterRows(img *image.RGBA, y0, y1 int, alone bool) []byte {
	w := img.Bounds().Dx()
	n := 3 * w
	out := make([]byte, 0, (y1-y0)*(n+1))
	prev, cur := make([]byte, n), make([]byte, n)
	if y0 > 0 {
		rgb(prev, img, y0-1)
	}
	var cand [5][]byte
	for f := range cand {
		cand[f] = make([]byte, n)
	}
	for y := y0; y < y1; y++ {
		rgb(cur, img, y)
		candidates := len(cand)
		if alone && y == y0 {
			candidates = 2 // None and Sub
		}
		f := filterRow(&cand, cur, prev, candidates)
		out = append(out, byte(f))
		out = append(out, cand[f]...)
		prev, cur = cur, prev
	}
	return out
}

// rgb copies row y of img into dst as RGB.
func rgb(dst []byte, img *image.RGBA, y int) {
	b := img.Bounds()
	src := img.Pix[img.PixOffset(b.Min.X, b.Min.Y+y):]
	for i, j := 0, 0; i < len(dst); i, j = i+3, j+4 {
		dst[i], dst[i+1], dst[i+2] = src[j], src[j+1], src[j+2]
	}
}

// filterRow fills the five filtered versions of cur (3 bytes a pixel) and returns the best
// of the first candidates.
func filterRow(cand *[5][]byte, cur, prev []byte, candidates int) int {
	const bpp = 3
	var sums [5]int
	for i := range cur {
		var a, c byte
		if i >= bpp {
			a, c = cur[i-bpp], prev[i-bpp]
		}
		b := prev[i]
		x := cur[i]
		cand[0][i] = x
		cand[1][i] = x - a
		cand[2][i] = x - b
		cand[3][i] = x - byte((int(a)+int(b))/2)
		cand[4][i] = x - paethPredict(a, b, c)
		for f := range sums {
			sums[f] += absInt8(cand[f][i])
		}
	}
	best := 0
	for f := 1; f < candidates; f++ {
		if sums[f] < sums[best] {
			best = f
		}
	}
	return best
}

func absInt8(v byte) int {
	if v < 128 {
		return int(v)
	}
	return 256 - int(v)
}

// paethPredict is PNG's Paeth predictor of a pixel from its left, upper and upper-left.
func paethPredict(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
