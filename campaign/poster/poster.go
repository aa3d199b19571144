// Package poster draws what a sharer shares: the poster (a campaign's card with the product,
// its title and price, and the sharer's avatar, nickname and the QR code of their link), the
// stand-in product cover of a campaign without pictures, and plain QR codes. Its inputs are
// plain values — pictures, texts, a QR payload — and the CJK font it finds on the machine; it
// knows nothing of campaigns, databases or caches (campaign/poster.go keeps those).
//
// A campaign's posters differ only in the sharer's rows, so the card is drawn once (NewCard)
// and each sharer's poster is a copy with their rows drawn and only those rows compressed
// (pngbands.go).
package poster

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// Version is the drawing code's own version: a new layout (or new rules for its images)
// changes it, and with it every poster's fingerprint, so every poster is drawn again.
const Version = "poster v4"

// Poster sizes: a phone screen at 2× (750 × 1334), what WeChat users save and forward.
const (
	Width     = 750
	Height    = 1334
	coverSize = 750
)

// Input is everything a poster shows. Nil images are replaced by drawn ones: the
// generated cover for the product, the nickname's first character for the avatar.
type Input struct {
	Title, ProductName, Nickname string
	Price                        decimal.Decimal
	Product, Avatar              image.Image
	ShareURL                     string // the QR code's content
	CampaignID                   int64  // picks the cover's colours
}

var (
	inkDark  = color.RGBA{0x1f, 0x1f, 0x1f, 0xff}
	inkGrey  = color.RGBA{0x88, 0x88, 0x88, 0xff}
	priceRed = color.RGBA{0xf0, 0x3c, 0x2e, 0xff}
)

// Render draws a sharing poster as a PNG, card and sharer at once.
func Render(in Input) ([]byte, error) {
	f, err := cjkFont()
	if err != nil {
		return nil, err
	}
	fs := newFaces(f)
	img := drawCard(fs, in)
	if err := drawSharer(img, fs, in); err != nil {
		return nil, err
	}
	return encodePNG(img)
}

// drawCard draws what every sharer's poster of a campaign shows alike: the background,
// the product and its price. Only Title, ProductName, Price, Product and CampaignID of in are
// read; drawSharer adds the rest on top, in regions the card leaves alone, so the card
// can be drawn once per campaign and copied for each sharer.
func drawCard(fs *faces, in Input) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, Width, Height))
	gradient(img, img.Bounds(), color.RGBA{0xff, 0x6a, 0x3d, 0xff}, color.RGBA{0xff, 0xb1, 0x6b, 0xff})
	circle(img, 690, 40, 160, color.NRGBA{0xff, 0xff, 0xff, 0x22})
	circle(img, 40, 1250, 200, color.NRGBA{0xff, 0xff, 0xff, 0x18})
	text(img, fs.size(26), color.RGBA{0xff, 0xf3, 0xe8, 0xff}, 172, 134, "向你推荐一个好物，一起来抢购吧", false)

	// The card: product, title, price, and room for the QR code.
	card := cardRect
	fillRound(img, card, 28, color.White)
	photo := image.Rect(card.Min.X+24, card.Min.Y+24, card.Max.X-24, card.Min.Y+24+638)
	product := in.Product
	if product == nil {
		product = coverImage(fs, in.CampaignID, in.ProductName)
	}
	cover(img, photo, product, 18)

	// The product name leads; the campaign title follows in grey when it says more.
	name, sub := in.ProductName, in.Title
	if name == "" || name == sub {
		name, sub = in.Title, ""
	}
	y := photo.Max.Y + 62
	for _, line := range wrap(fs.size(36), name, photo.Dx(), 2) {
		text(img, fs.size(36), inkDark, photo.Min.X, y, line, true)
		y += 52
	}
	if sub != "" && y < qrTop {
		if lines := wrap(fs.size(26), sub, photo.Dx(), 1); len(lines) > 0 {
			text(img, fs.size(26), inkGrey, photo.Min.X, y-6, lines[0], false)
		}
	}

	qrTop := qrTop
	text(img, fs.size(30), priceRed, photo.Min.X, qrTop+60, "¥", true)
	text(img, fs.size(64), priceRed, photo.Min.X+26, qrTop+60, in.Price.StringFixed(2), true)
	fillRound(img, image.Rect(photo.Min.X, qrTop+98, photo.Min.X+196, qrTop+140), 21, color.RGBA{0xff, 0xee, 0xe8, 0xff})
	text(img, fs.size(24), priceRed, photo.Min.X+22, qrTop+128, "分享赚佣金", false)
	text(img, fs.size(26), inkGrey, photo.Min.X, qrTop+194, "长按识别二维码，立即参与", false)
	return img
}

// cardRect is the white card of a poster, below the sharer's header.
var cardRect = image.Rect(32, 186, Width-32, Height-40)

// drawSharer draws the sharer's part of a poster onto its card: avatar and nickname in
// the header, the QR code of their link on the card, each clipped to sharerRows. Only
// Nickname, Avatar and ShareURL of in are read.
func drawSharer(img *image.RGBA, fs *faces, in Input) error {
	header := img.SubImage(image.Rect(0, sharerRows[0][0], Width, sharerRows[0][1])).(*image.RGBA)
	avatar := in.Avatar
	if avatar == nil {
		avatar = initialAvatar(fs, in.Nickname, 96)
	}
	fillRound(header, image.Rect(42, 42, 150, 150), 54, color.White)
	cover(header, image.Rect(48, 48, 144, 144), avatar, 48)
	name := in.Nickname
	if name == "" {
		name = "微信用户"
	}
	if lines := wrap(fs.size(34), name, 520, 1); len(lines) > 0 {
		text(header, fs.size(34), color.White, 172, 92, lines[0], true)
	}
	_, err := qrCode(img, cardRect.Max.X-24-qrSize, qrTop, qrSize, in.ShareURL)
	return err
}

// Where the QR code goes, and the rows drawSharer draws on (the header, the QR code's
// square): everything else is the campaign's card. The row above each range is the card's
// own, as bandedPNG needs.
const (
	qrTop  = Height - 40 - 250
	qrSize = 226
)

var sharerRows = [][2]int{{42, 150}, {qrTop, qrTop + qrSize}}

// Cover draws the product picture of a campaign without images: a gradient of the
// campaign's own colours with the product name set large.
func Cover(campaignID int64, productName string) ([]byte, error) {
	f, err := cjkFont()
	if err != nil {
		return nil, err
	}
	return encodePNG(coverImage(newFaces(f), campaignID, productName))
}

// coverPalettes are pairs of gradient colours that suit white text.
var coverPalettes = [][2]color.RGBA{
	{{0x2a, 0x9d, 0x8f, 0xff}, {0x15, 0x5e, 0x63, 0xff}}, // tea green
	{{0xe7, 0x6f, 0x51, 0xff}, {0xb2, 0x3a, 0x48, 0xff}}, // persimmon
	{{0x5b, 0x6c, 0xd9, 0xff}, {0x35, 0x3b, 0x8c, 0xff}}, // indigo
	{{0xd4, 0xa3, 0x73, 0xff}, {0x8c, 0x5a, 0x3c, 0xff}}, // oolong
	{{0x3a, 0x86, 0xff, 0xff}, {0x1d, 0x4e, 0xb8, 0xff}}, // sky
}

func coverImage(fs *faces, campaignID int64, productName string) image.Image {
	h := fnv.New32a()
	fmt.Fprint(h, campaignID)
	p := coverPalettes[h.Sum32()%uint32(len(coverPalettes))]
	img := image.NewRGBA(image.Rect(0, 0, coverSize, coverSize))
	gradient(img, img.Bounds(), p[0], p[1])
	circle(img, 640, 120, 230, color.NRGBA{0xff, 0xff, 0xff, 0x1c})
	circle(img, 90, 660, 260, color.NRGBA{0xff, 0xff, 0xff, 0x14})
	circle(img, 600, 600, 90, color.NRGBA{0xff, 0xff, 0xff, 0x10})

	name := strings.TrimSpace(productName)
	if name == "" {
		name = "好物推荐"
	}
	face := fs.size(72)
	lines := wrap(face, name, coverSize-140, 3)
	y := coverSize/2 - (len(lines)*100)/2 + 70
	for _, l := range lines {
		text(img, face, color.White, (coverSize-width(face, l))/2, y, l, true)
		y += 100
	}
	tag := "精选好物 · 限时抢购"
	tf := fs.size(28)
	tw := width(tf, tag)
	fillRound(img, image.Rect((coverSize-tw)/2-28, 90, (coverSize+tw)/2+28, 146), 28, color.NRGBA{0xff, 0xff, 0xff, 0x33})
	text(img, tf, color.White, (coverSize-tw)/2, 128, tag, false)
	return img
}

// initialAvatar is the nickname's first character on a colour of its own.
func initialAvatar(fs *faces, nickname string, size int) image.Image {
	first, _ := utf8.DecodeRuneInString(nickname)
	if first == utf8.RuneError {
		first = '微'
	}
	h := fnv.New32a()
	h.Write([]byte(nickname))
	colours := []color.RGBA{{0x07, 0xc1, 0x60, 0xff}, {0x10, 0xae, 0xff, 0xff}, {0xfa, 0x9d, 0x3b, 0xff}, {0x64, 0x67, 0xf0, 0xff}}
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	draw.Draw(img, img.Bounds(), image.NewUniform(colours[h.Sum32()%uint32(len(colours))]), image.Point{}, draw.Src)
	face := fs.size(float64(size) * 0.5)
	s := string(first)
	text(img, face, color.White, (size-width(face, s))/2, size*2/3, s, false)
	return img
}

// pngEncoder favours speed: BestSpeed encodes a poster in half the time of the default level
// for a few percent more bytes, and the pool keeps its buffers between posters.
var pngEncoder = png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &pngBuffers{}}

type pngBuffers struct{ p sync.Pool }

func (b *pngBuffers) Get() *png.EncoderBuffer {
	buf, _ := b.p.Get().(*png.EncoderBuffer)
	return buf
}

func (b *pngBuffers) Put(buf *png.EncoderBuffer) { b.p.Put(buf) }

func encodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := pngEncoder.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("poster: encode PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// Card is a campaign's card (drawCard) ready for its sharers: the picture and the encoding of
// the rows every sharer's poster shares. Read-only once made, so one Card serves any number
// of drawings at once.
type Card struct {
	img *image.RGBA
	png *bandedPNG
}

// NewCard draws the card of in: only Title, ProductName, Price, Product and CampaignID are
// read.
func NewCard(in Input) (*Card, error) {
	f, err := cjkFont()
	if err != nil {
		return nil, err
	}
	img := drawCard(newFaces(f), in)
	enc, err := newBandedPNG(img, sharerRows)
	if err != nil {
		return nil, err
	}
	return &Card{img: img, png: enc}, nil
}

// Draw draws a sharer's poster on a copy of the card: only Nickname, Avatar and ShareURL of
// in are read.
func (c *Card) Draw(in Input) ([]byte, error) {
	f, err := cjkFont()
	if err != nil {
		return nil, err
	}
	img := image.NewRGBA(c.img.Rect)
	copy(img.Pix, c.img.Pix)
	if err := drawSharer(img, newFaces(f), in); err != nil {
		return nil, err
	}
	return c.png.encode(img), nil
}
