package campaign

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	_ "image/gif" // decoders for image.DecodeConfig
	_ "image/jpeg"
	_ "image/png"
	"net/http"
	"strings"
	"time"
)

// Uploaded images (logo, product, splash) live in PostgreSQL so that every replica serves
// them. They are addressed by merchant and content hash: /media/<merchant>/<sha256>.<ext>.
// The type is sniffed from the bytes, never taken from the browser, and the image must
// decode; SVG is refused (it can carry script).

// MaxUploadSize bounds an image: pages inside WeChat load on phones.
const MaxUploadSize = 2 << 20

// maxImageSide bounds the width and height, so a small file cannot decode into a huge bitmap.
const maxImageSide = 8000

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

// SaveUpload checks and stores an image; the same bytes uploaded again are the same image.
// Errors are *ValidationError on field "file".
func (s *Service) SaveUpload(ctx context.Context, merchantID int64, data []byte) (*Upload, error) {
	if len(data) == 0 {
		return nil, invalid("file", "请选择图片文件")
	}
	if len(data) > MaxUploadSize {
		return nil, invalid("file", fmt.Sprintf("图片不能超过 %d MB（这张 %.1f MB），请压缩后再上传", MaxUploadSize>>20, float64(len(data))/(1<<20)))
	}
	ct := http.DetectContentType(data)
	if _, ok := imageExt[ct]; !ok {
		return nil, invalid("file", "只能上传 PNG、JPG、GIF 或 WebP 格式的图片")
	}
	w, h := 0, 0
	if ct != "image/webp" { // the standard library has no WebP decoder; the sniffed header must do
		cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return nil, invalid("file", "图片文件已损坏，无法读取")
		}
		w, h = cfg.Width, cfg.Height
		if w > maxImageSide || h > maxImageSide {
			return nil, invalid("file", fmt.Sprintf("图片尺寸过大（%d×%d），长宽请不要超过 %d 像素", w, h, maxImageSide))
		}
	}
	sum := sha256.Sum256(data)
	u := Upload{MerchantID: merchantID, SHA256: hex.EncodeToString(sum[:]), ContentType: ct, Width: w, Height: h, Size: len(data)}
	_, err := s.db.ExecContext(ctx, `
INSERT INTO uploads (merchant_id, sha256, content_type, width, height, size, data) VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (merchant_id, sha256) DO NOTHING`, u.MerchantID, u.SHA256, u.ContentType, u.Width, u.Height, u.Size, data)
	if err != nil {
		return nil, fmt.Errorf("campaign: save upload of merchant %d: %w", merchantID, err)
	}
	return &u, nil
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
