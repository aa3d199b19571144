package merchant

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"net/http"

	xdraw "golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // WebP: decoded, so its dimensions are checked like the others'
)

// Every bitmap the server decodes (an upload, a poster's product photo, a sharer's avatar)
// passes DecodeImage: image.DecodeConfig reads the header first and the pixel budget refuses
// a file that would decode into more memory than a phone page needs. A 467-byte PNG may
// declare 100000×100000 pixels (40 GB as RGBA); it is refused before a single row is read.
const (
	// maxImageSide and maxImagePixels are the pixel budget: 4096×4096 RGBA is 64 MB, the most
	// one decode may take.
	maxImageSide   = 4096
	maxImagePixels = 16 << 20
	// displaySide is what uploads are downscaled to on arrival: product photos fill a phone
	// screen (414 CSS px at 3× is 1242 px) and the poster draws at most a 638×638 crop, so
	// 1280 px on the longest side serves both; a photo of that size decodes into 6.5 MB.
	displaySide = 1280
	// jpegQuality is what downscaled photos are encoded at.
	jpegQuality = 85
)

// imageError is a refused image, its message for the merchant.
type imageError struct{ msg string }

func (e *imageError) Error() string { return e.msg }

func refuse(format string, args ...any) error { return &imageError{fmt.Sprintf(format, args...)} }

// imageTypes are the formats accepted, by sniffed MIME type and by image package name.
var imageTypes = map[string]string{"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}

// imageBudget reads only the header of data and refuses what the pixel budget does not allow.
func imageBudget(data []byte) (image.Config, string, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return cfg, "", refuse("图片文件已损坏，无法读取")
	}
	w, h := cfg.Width, cfg.Height
	switch {
	case w <= 0 || h <= 0:
		return cfg, "", refuse("图片文件已损坏，无法读取")
	case w > maxImageSide || h > maxImageSide:
		return cfg, "", refuse("图片尺寸过大（%d×%d），长宽请不要超过 %d 像素", w, h, maxImageSide)
	case w*h > maxImagePixels:
		return cfg, "", refuse("图片像素过多（%d×%d），请缩小到 1600 万像素以内", w, h)
	}
	return cfg, format, nil
}

// DecodeImage decodes data within the pixel budget; it is the only caller of image.Decode.
func DecodeImage(data []byte) (image.Image, error) {
	if _, _, err := imageBudget(data); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, refuse("图片文件已损坏，无法读取")
	}
	return img, nil
}

// normalised is an image as it is stored: checked, and no larger than displaySide.
type normalised struct {
	data          []byte
	contentType   string
	width, height int
}

// normaliseImage checks an image as it arrives (upload or fetched address) and brings it to
// the size pages and posters need. A file already that small is kept byte for byte (a GIF
// keeps its animation; the poster draws its first frame); a larger one is decoded,
// downscaled and stored as JPEG, or PNG when it has transparency. The type is sniffed from
// the bytes, never taken from the sender; SVG is refused (it can carry script). It is pure,
// so the fuzz target runs it without a database.
func normaliseImage(data []byte) (*normalised, error) {
	if len(data) == 0 {
		return nil, refuse("请选择图片文件")
	}
	if len(data) > MaxUploadSize {
		return nil, refuse("图片不能超过 %d MB（这张 %.1f MB），请压缩后再上传", MaxUploadSize>>20, float64(len(data))/(1<<20))
	}
	ct := http.DetectContentType(data)
	if _, ok := imageTypes[ct]; !ok {
		return nil, refuse("只能上传 PNG、JPG、GIF 或 WebP 格式的图片")
	}
	cfg, format, err := imageBudget(data)
	if err != nil {
		return nil, err
	}
	if format != imageTypes[ct] {
		return nil, refuse("图片文件已损坏，无法读取")
	}
	img, _, err := image.Decode(bytes.NewReader(data)) // within the budget: checked just above
	if err != nil {
		return nil, refuse("图片文件已损坏，无法读取")
	}
	b := img.Bounds()
	if b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, refuse("图片文件已损坏，无法读取")
	}
	if b.Dx() <= displaySide && b.Dy() <= displaySide {
		return &normalised{data: data, contentType: ct, width: b.Dx(), height: b.Dy()}, nil
	}
	w, h := displaySide, b.Dy()*displaySide/b.Dx()
	if b.Dy() > b.Dx() {
		w, h = b.Dx()*displaySide/b.Dy(), displaySide
	}
	w, h = max(w, 1), max(h, 1)
	small := image.NewNRGBA(image.Rect(0, 0, w, h))
	xdraw.CatmullRom.Scale(small, small.Bounds(), img, b, xdraw.Src, nil)
	var buf bytes.Buffer
	ct = "image/jpeg"
	if small.Opaque() {
		err = jpeg.Encode(&buf, small, &jpeg.Options{Quality: jpegQuality})
	} else {
		ct = "image/png"
		err = (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, small)
	}
	if err != nil {
		return nil, fmt.Errorf("campaign: encode downscaled image: %w", err)
	}
	return &normalised{data: buf.Bytes(), contentType: ct, width: w, height: h}, nil
}
