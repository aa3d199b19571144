package console

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"fenxiao/campaign"
)

// The merchant's side of fulfilment (campaign/fulfil.go, shipping.go): shipping an order from
// its page, and the verify page shop staff open on a phone to accept pickup codes.

// shipOrder records the carrier and tracking number of one delivery order.
func (con *Server) shipOrder(c *fiber.Ctx) error {
	id, _ := c.ParamsInt("id")
	back := fmt.Sprintf("/console/orders/%d", id)
	o, err := con.Campaign.Ship(c.UserContext(), merchantOf(c), int64(id), c.FormValue("carrier"), c.FormValue("tracking_no"))
	if err != nil {
		return con.refuse(c, back, err)
	}
	return con.redirect(c, back, "ok", fmt.Sprintf("已发货：%s %s", o.Carrier, o.TrackingNo))
}

// verifyView is the verify page: the code typed, and what happened to the last one.
type verifyView struct {
	Code   string
	Error  string
	Done   *campaign.Order // the order just verified
	Detail *campaign.OrderRow
}

func (con *Server) verifyPage(c *fiber.Ctx) error {
	return con.render(c, "verify", &consolePage{Title: "核销", Nav: "verify", Data: verifyView{}})
}

// verifyCode marks the order of a pickup code done, once; a second try says when it was used.
func (con *Server) verifyCode(c *fiber.Ctx) error {
	code := strings.TrimSpace(c.FormValue("code"))
	o, err := con.Campaign.VerifyPickup(c.UserContext(), merchantOf(c), code)
	v := verifyView{Code: code}
	var ve *campaign.ValidationError
	var used *campaign.CodeUsedError
	switch {
	case errors.As(err, &used):
		v.Error = "该核销码已于 " + used.At.In(con.Cfg.TimeZone).Format("2006-01-02 15:04") + " 使用过"
		c.Status(fiber.StatusUnprocessableEntity)
	case errors.As(err, &ve), errors.Is(err, campaign.ErrConflict):
		v.Error = campaign.Explain(err)
		c.Status(fiber.StatusUnprocessableEntity)
	case err != nil:
		return err
	default:
		v.Code, v.Done = "", o
		if v.Detail, err = con.Campaign.OrderDetail(c.UserContext(), merchantOf(c), o.ID); err != nil {
			return err
		}
	}
	return con.render(c, "verify", &consolePage{Title: "核销", Nav: "verify", Data: v})
}
