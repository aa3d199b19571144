package merchant

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	_ "image/gif" // decoders for image.DecodeConfig and image.Decode
	_ "image/jpeg"
	_ "image/png"
	"strings"
	"time"
)

// Uploaded images (logo, product, splash) live in PostgreSQL so that every replica serves
// them. They are addressed by merchant and content hash: /media/<merchant>/<sha256>.<ext>.
// Each is checked and downscaled on arrival (normaliseImage); pages and posters draw nothing
// else.

// MaxUploadSize bounds an image file: pages inside WeChat load on phones.
const MaxUploadSize = 2 << 20

// uploadWait is how long an upload waits for a decode slot before the merchant is asked to
// try again.
const uploadWait = 20 * time.Second

// Upload is a stored image.
type Upload struct {
	MerchantID  int64     `db:"merchant_id"`
	SHA256      string    `db:"sha256"`
	ContentType string    `db:"content_type"`
	Width       int       `db:"width"`
	Height      int       `db:"height"`
	Size        int       `db:"size"`
	Data        []byte    `db:"data"`
	CreatedAt   time.Time `db:"created_at"`
}

var imageExt = map[string]string{"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}

// URL is the image's address on this server.
func (u *Upload) URL() string {
	return fmt.Sprintf("/media/%d/%s.%s", u.MerchantID, u.SHA256, imageExt[u.ContentType])
}

// SaveUpload checks an image (type, pixel budget), downscales it to what pages and posters
// need, and stores it; the same bytes uploaded again are the same image. Errors are
// *ValidationError on field "file".
func (s *Service) SaveUpload(ctx context.Context, merchantID int64, data []byte) (*Upload, error) {
	u, err := s.saveImage(ctx, merchantID, data)
	var ie *imageError
	if errors.As(err, &ie) {
		return nil, Invalid("file", ie.msg)
	}
	return u, err
}

// ImportImage fetches the image at a pasted address once and stores it as an upload, through
// the same checks. Errors are *ValidationError on field "file".
func (s *Service) ImportImage(ctx context.Context, merchantID int64, address string) (*Upload, error) {
	data, err := s.fetch.get(ctx, address)
	if err == nil {
		return s.SaveUpload(ctx, merchantID, data)
	}
	var ie *imageError
	if errors.As(err, &ie) {
		return nil, Invalid("file", ie.msg)
	}
	return nil, err
}

// saveImage normalises and stores an image; a refusal is *imageError. Decodes wait for one of
// the upload slots, so many uploads at once cannot add up past the memory they may take.
func (s *Service) saveImage(ctx context.Context, merchantID int64, data []byte) (*Upload, error) {
	if len(data) > MaxUploadSize || len(data) == 0 {
		_, err := normaliseImage(data) // refuses without decoding; no slot needed
		return nil, err
	}
	wait, cancel := context.WithTimeout(ctx, uploadWait)
	err := s.decodes.Acquire(wait, 1)
	cancel()
	if err != nil && ctx.Err() == nil {
		return nil, refuse("服务器正忙，请稍后重新上传")
	}
	if err != nil {
		return nil, ctx.Err()
	}
	n, err := normaliseImage(data)
	s.decodes.Release(1)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(n.data)
	u := Upload{MerchantID: merchantID, SHA256: hex.EncodeToString(sum[:]), ContentType: n.contentType, Width: n.width, Height: n.height, Size: len(n.data)}
	_, err = s.db.ExecContext(ctx, `
INSERT INTO uploads (merchant_id, sha256, content_type, width, height, size, data) VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (merchant_id, sha256) DO NOTHING`, u.MerchantID, u.SHA256, u.ContentType, u.Width, u.Height, u.Size, n.data)
	if err != nil {
		return nil, fmt.Errorf("campaign: save upload of merchant %d: %w", merchantID, err)
	}
	return &u, nil
}

// OwnMedia says whether src is the address of one of merchantID's uploads, and names it.
func OwnMedia(merchantID int64, src string) (name string, ok bool) {
	rest, ok := strings.CutPrefix(src, fmt.Sprintf("/media/%d/", merchantID))
	if !ok || strings.ContainsAny(rest, "/?#") {
		return "", false
	}
	return rest, true
}

// Media returns the image named by a /media/<merchant>/<name> path, or ErrNotFound. The
// extension must be the image's own, so one image has one URL.
func (s *Service) Media(ctx context.Context, merchantID int64, name string) (*Upload, error) {
	hash, ext, _ := strings.Cut(name, ".")
	if len(hash) != 64 || strings.Trim(hash, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("media %s: %w", name, ErrNotFound)
	}
	var u Upload
	err := s.db.GetContext(ctx, &u, `SELECT merchant_id, sha256, content_type, width, height, size, data, created_at
FROM uploads WHERE merchant_id = $1 AND sha256 = $2`, merchantID, hash)
	if isNoRows(err) || (err == nil && imageExt[u.ContentType] != ext) {
		return nil, fmt.Errorf("media %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("campaign: media %d/%s: %w", merchantID, name, err)
	}
	return &u, nil
}
