package campaign

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"net/url"
	"strings"
	"time"

	"fenxiao/campaign/merchant"
	"fenxiao/campaign/poster"
)

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
	card, err := s.posterCard(ctx, c)
	if err != nil {
		return nil, err
	}
	in := poster.Input{Nickname: sharer.Nickname, ShareURL: link}
	if sharer.AvatarURL != "" {
		in.Avatar = s.avatarImage(ctx, sharer.AvatarURL)
	}
	return card.Draw(in)
}

// posterCard is the campaign's card, drawn once per card key and kept for the next sharers.
func (s *Service) posterCard(ctx context.Context, c *Campaign) (*poster.Card, error) {
	key := posterCardKey(c)
	if card, ok := s.posterCards.get(key); ok {
		return card, nil
	}
	in := poster.Input{Title: c.Title, ProductName: c.ProductName, Price: c.Price, CampaignID: c.ID}
	if len(c.ProductImages) > 0 {
		in.Product = s.mediaImage(ctx, c.MerchantID, c.ProductImages[0])
	}
	card, err := poster.NewCard(in)
	if err != nil {
		return nil, err
	}
	s.posterCards.put(key, card)
	return card, nil
}

// Poster caches in process: finished PNGs up to posterCacheBytes (about 300 posters), and
// the cards of the posterCardsMax most recent campaigns (4 MB each, uncompressed).
const (
	posterCacheBytes = 32 << 20
	posterCardsMax   = 8
)

func newPosterCaches() (*lru[[]byte], *lru[*poster.Card]) {
	return newLRU(posterCacheBytes, func(b []byte) int { return len(b) }),
		newLRU(posterCardsMax, func(*poster.Card) int { return 1 })
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

// posterFingerprint covers every input of a poster: the card's (posterCardKey) and the
// sharer's nickname, avatar address and link. A WeChat avatar's address changes with the
// picture; the product image's names its content (uploads are named by their SHA-256).
func posterFingerprint(c *Campaign, u *User, link string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s", poster.Version, posterCardKey(c), u.Nickname, u.AvatarURL, link)
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
	fmt.Fprintf(h, "%s\x00%d\x00%s\x00%s\x00%s\x00%s", poster.Version, c.ID, c.Title, c.ProductName, c.Price.StringFixed(2), img)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// mediaImage decodes one of the merchant's uploads for a poster; anything else (an address
// on another host, another merchant's upload, a file past the pixel budget such as one
// stored before the budget existed) yields nil, and the poster draws its stand-in. No
// request leaves the server.
func (s *Service) mediaImage(ctx context.Context, merchantID int64, src string) image.Image {
	name, ok := merchant.OwnMedia(merchantID, src)
	if !ok {
		return nil
	}
	u, err := s.merchants.Media(ctx, merchantID, name)
	if err != nil {
		return nil
	}
	img, err := merchant.DecodeImage(u.Data)
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
	data, err := s.merchants.Fetch(ctx, src)
	if err != nil {
		s.log.Debug("poster avatar", "url", src, "err", err)
		return nil
	}
	img, err := merchant.DecodeImage(data)
	if err != nil {
		return nil // SVG avatars (the simulator's) and anything else undecodable or too large
	}
	return img
}
