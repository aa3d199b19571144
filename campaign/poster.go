package campaign

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// Poster sizes: a phone screen at 2× (750 × 1334), what WeChat users save and forward.
const (
	PosterWidth  = 750
	PosterHeight = 1334
	coverSize    = 750
)

// PosterInput is everything a poster shows. Nil images are replaced by drawn ones: the
// generated cover for the product, the nickname's first character for the avatar.
type PosterInput struct {
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

// RenderPoster draws a sharing poster as a PNG.
func RenderPoster(in PosterInput) ([]byte, error) {
	f, err := cjkFont()
	if err != nil {
		return nil, err
	}
	fs := newFaces(f)
	img := drawPosterCard(fs, in)
	if err := drawPosterSharer(img, fs, in); err != nil {
		return nil, err
	}
	return encodePNG(img)
}

// drawPosterCard draws what every sharer's poster of a campaign shows alike: the background,
// the product and its price. Only Title, ProductName, Price, Product and CampaignID of in are
// read; drawPosterSharer adds the rest on top, in regions the card leaves alone, so the card
// can be drawn once per campaign and copied for each sharer.
func drawPosterCard(fs *faces, in PosterInput) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, PosterWidth, PosterHeight))
	gradient(img, img.Bounds(), color.RGBA{0xff, 0x6a, 0x3d, 0xff}, color.RGBA{0xff, 0xb1, 0x6b, 0xff})
	circle(img, 690, 40, 160, color.NRGBA{0xff, 0xff, 0xff, 0x22})
	circle(img, 40, 1250, 200, color.NRGBA{0xff, 0xff, 0xff, 0x18})
	text(img, fs.size(26), color.RGBA{0xff, 0xf3, 0xe8, 0xff}, 172, 134, "向你推荐一个好物，一起来抢购吧", false)

	// The card: product, title, price, and room for the QR code.
	card := posterCardRect
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
	if sub != "" && y < posterQRTop {
		if lines := wrap(fs.size(26), sub, photo.Dx(), 1); len(lines) > 0 {
			text(img, fs.size(26), inkGrey, photo.Min.X, y-6, lines[0], false)
		}
	}

	qrTop := posterQRTop
	text(img, fs.size(30), priceRed, photo.Min.X, qrTop+60, "¥", true)
	text(img, fs.size(64), priceRed, photo.Min.X+26, qrTop+60, in.Price.StringFixed(2), true)
	fillRound(img, image.Rect(photo.Min.X, qrTop+98, photo.Min.X+196, qrTop+140), 21, color.RGBA{0xff, 0xee, 0xe8, 0xff})
	text(img, fs.size(24), priceRed, photo.Min.X+22, qrTop+128, "分享赚佣金", false)
	text(img, fs.size(26), inkGrey, photo.Min.X, qrTop+194, "长按识别二维码，立即参与", false)
	return img
}

// posterCardRect is the white card of a poster, below the sharer's header.
var posterCardRect = image.Rect(32, 186, PosterWidth-32, PosterHeight-40)

// drawPosterSharer draws the sharer's part of a poster onto its card: avatar and nickname in
// the header, the QR code of their link on the card, each clipped to posterSharerRows. Only
// Nickname, Avatar and ShareURL of in are read.
func drawPosterSharer(img *image.RGBA, fs *faces, in PosterInput) error {
	header := img.SubImage(image.Rect(0, posterSharerRows[0][0], PosterWidth, posterSharerRows[0][1])).(*image.RGBA)
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
	_, err := qrCode(img, posterCardRect.Max.X-24-posterQRSize, posterQRTop, posterQRSize, in.ShareURL)
	return err
}

// Where the QR code goes, and the rows drawPosterSharer draws on (the header, the QR code's
// square): everything else is the campaign's card. The row above each range is the card's
// own, as bandedPNG needs.
const (
	posterQRTop  = PosterHeight - 40 - 250
	posterQRSize = 226
)

var posterSharerRows = [][2]int{{42, 150}, {posterQRTop, posterQRTop + posterQRSize}}

// RenderCover draws the product picture of a campaign without images: a gradient of the
// campaign's own colours with the product name set large.
func RenderCover(campaignID int64, productName string) ([]byte, error) {
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
		return nil, fmt.Errorf("campaign: encode PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// ErrPosterBusy means every poster drawing slot stayed taken for the whole wait: the
// request should be answered 海报生成中 and retried shortly. Nothing was drawn or cached.
var ErrPosterBusy = errors.New("campaign: poster drawing busy")

// Poster returns the sharer's poster for a campaign and its fingerprint (PosterFingerprint),
// drawing it once per fingerprint. Finished posters are kept in process (posterCacheBytes)
// in front of PostgreSQL, which every replica reads when its own memory misses; the card
// every sharer of a campaign shares is drawn once and copied, so a new sharer's poster costs
// their avatar, name, QR code and the PNG encoding. At most PosterDraws posters are drawn at
// once; past a short wait the answer is ErrPosterBusy, so a crowd of first posters costs
// bounded memory.
func (s *Service) Poster(ctx context.Context, c *Campaign, sharer *User) ([]byte, string, error) {
	link := s.ShareURL(c.ID, sharer.ID)
	fp := posterFingerprint(c, sharer, link)
	if b, err := s.cachedPoster(ctx, c, sharer, fp); b != nil || err != nil {
		return b, fp, err
	}
	release, err := s.posterSlots.acquire(ctx, s.posterWait)
	if errors.Is(err, errBusy) {
		return nil, "", ErrPosterBusy
	}
	if err != nil {
		return nil, "", err
	}
	defer release()
	// Another request (a retry, another replica) may have drawn it while this one waited.
	if b, err := s.cachedPoster(ctx, c, sharer, fp); b != nil || err != nil {
		return b, fp, err
	}
	b, err := s.drawPoster(ctx, c, sharer, link)
	if err != nil {
		return nil, "", err
	}
	s.posters.put(fp, b)
	// One row per sharer and campaign: a new fingerprint replaces the old poster.
	_, err = s.db.ExecContext(ctx, `
INSERT INTO posters (merchant_id, campaign_id, sharer_id, fingerprint, png) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (merchant_id, campaign_id, sharer_id) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, png = EXCLUDED.png, created_at = now()`,
		c.MerchantID, c.ID, sharer.ID, fp, b)
	if err != nil {
		s.log.Warn("poster cache write failed", "campaign_id", c.ID, "err", err) // the poster itself is fine
	}
	return b, fp, nil
}

// drawPoster draws the sharer's poster on a copy of the campaign's card.
func (s *Service) drawPoster(ctx context.Context, c *Campaign, sharer *User, link string) ([]byte, error) {
	f, err := cjkFont()
	if err != nil {
		return nil, err
	}
	fs := newFaces(f)
	card, err := s.posterCard(ctx, fs, c)
	if err != nil {
		return nil, err
	}
	img := image.NewRGBA(card.img.Rect)
	copy(img.Pix, card.img.Pix)
	in := PosterInput{Nickname: sharer.Nickname, ShareURL: link}
	if sharer.AvatarURL != "" {
		in.Avatar = s.avatarImage(ctx, sharer.AvatarURL)
	}
	if err := drawPosterSharer(img, fs, in); err != nil {
		return nil, err
	}
	return card.png.encode(img), nil
}

// cardArt is a campaign's card (drawPosterCard) and the encoding of the rows it gives every
// sharer's poster. Read-only once made: every drawing copies it.
type cardArt struct {
	img *image.RGBA
	png *bandedPNG
}

// posterCard is the campaign's card art, made once per card key and kept for the next
// sharers.
func (s *Service) posterCard(ctx context.Context, fs *faces, c *Campaign) (*cardArt, error) {
	key := posterCardKey(c)
	if card, ok := s.posterCards.get(key); ok {
		return card, nil
	}
	in := PosterInput{Title: c.Title, ProductName: c.ProductName, Price: c.Price, CampaignID: c.ID}
	if len(c.ProductImages) > 0 {
		in.Product = s.mediaImage(ctx, c.MerchantID, c.ProductImages[0])
	}
	img := drawPosterCard(fs, in)
	enc, err := newBandedPNG(img, posterSharerRows)
	if err != nil {
		return nil, err
	}
	card := &cardArt{img: img, png: enc}
	s.posterCards.put(key, card)
	return card, nil
}

// Poster caches in process: finished PNGs up to posterCacheBytes (about 300 posters), and
// the cards of the posterCardsMax most recent campaigns (4 MB each, uncompressed).
const (
	posterCacheBytes = 32 << 20
	posterCardsMax   = 8
)

func newPosterCaches() (*lru[[]byte], *lru[*cardArt]) {
	return newLRU(posterCacheBytes, func(b []byte) int { return len(b) }),
		newLRU(posterCardsMax, func(*cardArt) int { return 1 })
}

// cachedPoster is the poster with fingerprint fp from this process's memory or from
// PostgreSQL, or nil.
func (s *Service) cachedPoster(ctx context.Context, c *Campaign, sharer *User, fp string) ([]byte, error) {
	if b, ok := s.posters.get(fp); ok {
		return b, nil
	}
	var cached []byte
	err := s.db.GetContext(ctx, &cached, `SELECT png FROM posters WHERE merchant_id = $1 AND campaign_id = $2 AND sharer_id = $3 AND fingerprint = $4`,
		c.MerchantID, c.ID, sharer.ID, fp)
	if isNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("campaign: poster cache: %w", err)
	}
	s.posters.put(fp, cached)
	return cached, nil
}

// PosterFingerprint names the sharer's poster of a campaign as it would be drawn now: it
// changes exactly when something drawn changes, so it makes a URL that can be cached for
// good (the share page links /c/{id}/poster/{fingerprint}.png).
func (s *Service) PosterFingerprint(c *Campaign, sharer *User) string {
	return posterFingerprint(c, sharer, s.ShareURL(c.ID, sharer.ID))
}

// posterVersion is the drawing code's own version, in every fingerprint: a new layout (or
// new rules for its images) redraws every poster.
const posterVersion = "poster v4"

// posterFingerprint covers every input of a poster: the card's (posterCardKey) and the
// sharer's nickname, avatar address and link. A WeChat avatar's address changes with the
// picture; the product image's names its content (uploads are named by their SHA-256).
func posterFingerprint(c *Campaign, u *User, link string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s", posterVersion, posterCardKey(c), u.Nickname, u.AvatarURL, link)
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// posterCardKey covers every input of a campaign's card: its id (the stand-in cover's
// colours), title, product name, price and first product image. Nothing else of the
// campaign is drawn, so a stock change or a new commission keeps every poster.
func posterCardKey(c *Campaign) string {
	img := ""
	if len(c.ProductImages) > 0 {
		img = c.ProductImages[0]
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%s\x00%s\x00%s\x00%s", posterVersion, c.ID, c.Title, c.ProductName, c.Price.StringFixed(2), img)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// mediaImage decodes one of the merchant's uploads for a poster; anything else (an address
// on another host, another merchant's upload, a file past the pixel budget such as one
// stored before the budget existed) yields nil, and the poster draws its stand-in. No
// request leaves the server.
func (s *Service) mediaImage(ctx context.Context, merchantID int64, src string) image.Image {
	name, ok := ownMedia(merchantID, src)
	if !ok {
		return nil
	}
	u, err := s.Media(ctx, merchantID, name)
	if err != nil {
		return nil
	}
	img, err := decodeImage(u.Data)
	if err != nil {
		s.log.Info("poster: product image refused", "merchant_id", merchantID, "image", src, "err", err)
		return nil
	}
	return img
}

// avatarImage fetches a sharer's WeChat avatar, from WeChat's avatar hosts only, through
// the fetcher's address checks and size limit and the pixel budget. Any failure yields nil
// and the poster draws the nickname's initial: a missing avatar must not cost the sharer
// their poster.
func (s *Service) avatarImage(ctx context.Context, src string) image.Image {
	u, err := url.Parse(src)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !s.avatarHosts[strings.ToLower(u.Host)] {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	data, err := s.fetch.get(ctx, src)
	if err != nil {
		s.log.Debug("poster avatar", "url", src, "err", err)
		return nil
	}
	img, err := decodeImage(data)
	if err != nil {
		return nil // SVG avatars (the simulator's) and anything else undecodable or too large
	}
	return img
}
