package h5

import (
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"fenxiao/campaign"
	"fenxiao/campaign/poster"
)

// The buyer's side of fulfilment (campaign/fulfil.go): what the order page shows once paid —
// the delivery details, the tracking number, the pickup code — and the buyer's 确认收货.

// fulfilView is what the order page shows about a paid order's way to the buyer.
type fulfilView struct {
	Mode    campaign.Fulfilment
	State   campaign.FulfilState
	Contact *campaign.Contact // nil when the order asked nothing
}

// fulfilOf reads what the order page needs about o's fulfilment.
func (s *Server) fulfilOf(c *fiber.Ctx, camp *campaign.Campaign, o *campaign.Order) (fulfilView, error) {
	v := fulfilView{Mode: camp.Fulfilment}
	if o.FulfilState != nil {
		v.State = *o.FulfilState
	}
	ct, ok, err := s.Campaign.OrderContact(c.UserContext(), o)
	if ok {
		v.Contact = &ct
	}
	return v, err
}

// confirmReceipt is the buyer's 确认收货 on their shipped order.
func (s *Server) confirmReceipt(c *fiber.Ctx) error {
	camp, u, err := s.visitor(c, false)
	if err != nil {
		return signedIn(err)
	}
	id, _ := c.ParamsInt("order")
	if _, err := s.Campaign.ConfirmReceipt(c.UserContext(), u, int64(id)); err != nil {
		if errors.Is(err, campaign.ErrConflict) { // not shipped yet, or done already
			return fiber.NewError(fiber.StatusConflict, campaign.Explain(err))
		}
		return err
	}
	return c.Redirect(fmt.Sprintf("/c/%d/orders/%d", camp.ID, id), fiber.StatusSeeOther)
}

// pickupCode draws the buyer's own pickup code as a QR code for the shop's scanner.
func (s *Server) pickupCode(c *fiber.Ctx) error {
	_, u, err := s.visitor(c, false)
	if err != nil {
		return signedIn(err)
	}
	id, _ := c.ParamsInt("order")
	o, err := s.Campaign.BuyerOrder(c.UserContext(), u, int64(id))
	if err != nil {
		return err
	}
	if o.PickupCode == nil {
		return fiber.NewError(fiber.StatusNotFound, "该订单没有核销码")
	}
	png, err := poster.QRPNG(*o.PickupCode, 240)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	c.Type("png")
	return c.Send(png)
}
