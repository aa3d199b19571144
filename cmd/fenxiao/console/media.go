package console

import (
	"errors"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"

	"fenxiao/campaign"
	"fenxiao/campaign/merchant"
)

// upload stores an image the campaign form's script sends (logo, product, splash) and answers
// its URL as JSON; a refused file answers 422 with the reason to show beside the field. The
// server's body limit (8 MB) bounds what is read; the service refuses more than 2 MB.
// A pasted image address (field "url") is fetched once, here, through the same checks, and
// stored the same way: the campaign then names the stored copy, never the other host.
func (con *Server) upload(c *fiber.Ctx) error {
	var u *merchant.Upload
	var err error
	if addr := strings.TrimSpace(c.FormValue("url")); addr != "" {
		u, err = con.Merchants.ImportImage(c.UserContext(), merchantOf(c), addr)
	} else {
		fh, ferr := c.FormFile("file")
		if ferr != nil {
			return c.Status(fiber.StatusUnprocessableEntity).JSON(fiber.Map{"error": "请选择图片文件"})
		}
		f, ferr := fh.Open()
		if ferr != nil {
			return ferr
		}
		data, ferr := io.ReadAll(f)
		f.Close()
		if ferr != nil {
			return ferr
		}
		u, err = con.Merchants.SaveUpload(c.UserContext(), merchantOf(c), data)
	}
	var ve *campaign.ValidationError
	if errors.As(err, &ve) {
		return c.Status(fiber.StatusUnprocessableEntity).JSON(fiber.Map{"error": ve.Fields["file"]})
	}
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"url": u.URL(), "width": u.Width, "height": u.Height})
}

// media serves an uploaded image from this server's own origin. Its URL names its content,
// so it is cached for good; nosniff and a closed CSP keep a crafted file from ever running
// as a page.
func (con *Server) media(c *fiber.Ctx) error {
	m, _ := c.ParamsInt("merchant")
	u, err := con.Merchants.Media(c.UserContext(), int64(m), c.Params("name"))
	if err != nil {
		return err
	}
	etag := `"` + u.SHA256[:32] + `"`
	c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	c.Set(fiber.HeaderETag, etag)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'")
	if c.Get(fiber.HeaderIfNoneMatch) == etag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, u.ContentType)
	return c.Send(u.Data)
}
