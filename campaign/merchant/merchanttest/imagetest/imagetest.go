// Package imagetest makes the hostile pictures the tests of the image paths need (uploads,
// pasted addresses, posters): it imports nothing of ours, so the merchant side's own internal
// tests can use it too. Only tests import it.
package imagetest

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
)

// Bomb is a PNG declaring w×h RGBA pixels of which only the first rows rows of zeros are there:
// a few hundred bytes (rows 1) that decoding would turn into a w×h×4-byte bitmap (40 GB for
// 100000×100000: the process dies, unrecoverably). With rows = h it is a valid, if large,
// image; with fewer it fails once those are read.
func Bomb(w, h, rows int) []byte {
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
	ihdr[8], ihdr[9] = 8, 6 // 8 bits, RGBA
	chunk("IHDR", ihdr)
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	row := make([]byte, 1+4*w)
	for range rows {
		zw.Write(row) //nolint:errcheck
	}
	zw.Close()
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return out.Bytes()
}
