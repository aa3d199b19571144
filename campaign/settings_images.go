package campaign

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"fenxiao/campaign/merchant"
)

// maxProductImages is how many product pictures a campaign shows (the form offers six);
// maxDetailImages how many detail pictures below its description.
const (
	maxProductImages = 6
	maxDetailImages  = 9
)

// checkImageFields is validate's rule for the image fields: each is an upload of this
// server (/media/…) or an http(s) address still to be fetched at save time.
func checkImageFields(set *Settings, f map[string]string) {
	check := func(field, img string) {
		if img != "" && !strings.HasPrefix(img, "/media/") && !isWebLink(img) {
			f[field] = "图片地址无效"
		}
	}
	check("logo", set.Logo)
	check("splash_image", set.SplashImage)
	for _, img := range set.ProductImages {
		check("product_images", img)
	}
	if len(set.ProductImages) > maxProductImages {
		f["product_images"] = fmt.Sprintf("商品图片最多 %d 张", maxProductImages)
	}
	for _, img := range set.DetailImages {
		check("detail_images", img)
	}
	if len(set.DetailImages) > maxDetailImages {
		f["detail_images"] = fmt.Sprintf("详情图片最多 %d 张", maxDetailImages)
	}
}

// ownImages makes every image of set one of the merchant's own uploads before it is saved:
// an upload address must name an upload of this merchant; a pasted http(s) address is fetched
// once, through the same checks as an upload, and replaced by the stored copy's address. So
// pages and posters never draw anything else, and the server never fetches the address
// again. Errors are *ValidationError on the image's field.
//
// It returns the addresses it fetched.
func (s *Service) ownImages(ctx context.Context, merchantID int64, set *Settings) ([]string, error) {
	if len(set.ProductImages) > maxProductImages {
		return nil, invalid("product_images", fmt.Sprintf("商品图片最多 %d 张", maxProductImages))
	}
	if len(set.DetailImages) > maxDetailImages {
		return nil, invalid("detail_images", fmt.Sprintf("详情图片最多 %d 张", maxDetailImages))
	}
	var fetched []string
	own := func(field string, src *string) error {
		img := strings.TrimSpace(*src)
		switch {
		case img == "":
			*src = ""
			return nil
		case strings.HasPrefix(img, "/media/"):
			name, ok := merchant.OwnMedia(merchantID, img)
			if !ok {
				return invalid(field, "图片不存在，请重新上传")
			}
			if _, err := s.merchants.Media(ctx, merchantID, name); errors.Is(err, ErrNotFound) {
				return invalid(field, "图片不存在，请重新上传")
			} else if err != nil {
				return err
			}
			*src = img
			return nil
		case isWebLink(img):
			u, err := s.merchants.ImportImage(ctx, merchantID, img)
			var ve *ValidationError
			if errors.As(err, &ve) {
				return invalid(field, fmt.Sprintf("图片 %s：%s", truncate(img, 60), ve.Fields["file"]))
			}
			if err != nil {
				return err
			}
			*src = u.URL()
			fetched = append(fetched, img)
			return nil
		}
		return invalid(field, "图片地址无效")
	}
	if err := own("logo", &set.Logo); err != nil {
		return nil, err
	}
	if err := own("splash_image", &set.SplashImage); err != nil {
		return nil, err
	}
	list := func(field string, imgs StringList) (StringList, error) {
		out := make(StringList, 0, len(imgs))
		for _, img := range imgs {
			if err := own(field, &img); err != nil {
				return nil, err
			}
			if img != "" {
				out = append(out, img)
			}
		}
		return out, nil
	}
	var err error
	if set.ProductImages, err = list("product_images", set.ProductImages); err != nil {
		return nil, err
	}
	if set.DetailImages, err = list("detail_images", set.DetailImages); err != nil {
		return nil, err
	}
	return fetched, nil
}

// DroppedImage is an image address a campaign had before pages and posters drew only uploads
// (migration 0012 moved it out of the campaign). Pasting it again fetches it once.
type DroppedImage struct {
	Field     string    `db:"field"`
	URL       string    `db:"url"`
	DroppedAt time.Time `db:"dropped_at"`
}

// Label names the form field the image was in.
func (d DroppedImage) Label() string {
	return map[string]string{"logo": "Logo", "splash_image": "开屏广告图片", "product_images": "商品图片"}[d.Field]
}

// DroppedImages lists a campaign's dropped image addresses, until the campaign is next saved.
func (s *Service) DroppedImages(ctx context.Context, merchantID, campaignID int64) ([]DroppedImage, error) {
	var out []DroppedImage
	err := s.db.SelectContext(ctx, &out, `SELECT field, url, dropped_at FROM dropped_images
WHERE merchant_id = $1 AND campaign_id = $2 ORDER BY field, url`, merchantID, campaignID)
	if err != nil {
		return nil, fmt.Errorf("campaign: dropped images of %d: %w", campaignID, err)
	}
	return out, nil
}
