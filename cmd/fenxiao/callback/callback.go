// Package callback answers the URLs WeChat calls: WeChat Pay's payment, refund and top-up
// notifications and the official account's message callback. Each URL carries the merchant
// id, since each merchant signs with its own keys; anyone can call them, so every body is
// verified by the services and bounded far below the server's 8 MB first.
package callback

import (
	"bytes"
	"errors"
	"net/url"

	"github.com/gofiber/fiber/v2"

	"fenxiao/campaign"
	"fenxiao/cmd/fenxiao/web"
	"fenxiao/wechat"
)

// Routes registers the URLs WeChat calls on r.
func Routes(r fiber.Router, b *web.Base) {
	s := &handlers{b}
	limit := web.LimitBody(wechatBodyLimit)
	r.Post("/wechat/pay/:merchant<int>/notify", limit, s.payNotify)
	r.Post("/wechat/pay/:merchant<int>/refund", limit, s.refundNotify)
	r.Get("/wechat/oa/:merchant<int>", limit, s.oaCallback)
	r.Post("/wechat/oa/:merchant<int>", limit, s.oaCallback)
	r.Post("/wechat/pay/:merchant<int>/topup", limit, s.topUpNotify)
}

type handlers struct{ *web.Base }

// wechatBodyLimit bounds what WeChat sends (payment, refund and top-up notifications, OA
// pushes): a few KB in practice.
const wechatBodyLimit = wechat.MaxCallbackBody

// payNotify answers WeChat Pay's notification: SUCCESS once recorded (duplicates included),
// FAIL when it does not verify or the database is down, so WeChat retries only what might
// succeed later.
func (s *handlers) payNotify(c *fiber.Ctx) error {
	m, _ := c.ParamsInt("merchant")
	err := s.Campaign.HandlePayNotify(c.UserContext(), int64(m), c.Body())
	return s.notifyReply(c, int64(m), "payment", err)
}

func (s *handlers) refundNotify(c *fiber.Ctx) error {
	m, _ := c.ParamsInt("merchant")
	err := s.Campaign.HandleRefundNotify(c.UserContext(), int64(m), c.Body())
	return s.notifyReply(c, int64(m), "refund", err)
}

func (s *handlers) notifyReply(c *fiber.Ctx, merchantID int64, what string, err error) error {
	c.Set(fiber.HeaderContentType, "text/xml; charset=utf-8")
	if err != nil {
		s.Log.Warn(what+" notification refused", "merchant_id", merchantID, "err", err,
			"request_id", c.GetRespHeader(fiber.HeaderXRequestID))
		return c.Send(wechat.NotifyReply(false, "refused"))
	}
	return c.Send(wechat.NotifyReply(true, "OK"))
}

// oaCallback answers the official account's callback: the URL check, and pushes whose
// events the campaign engine handles once. A push that does not verify (signature, age,
// message mode, a replay with another body) is 403, an unreadable one 400; a database error is
// 500 so that WeChat retries.
func (s *handlers) oaCallback(c *fiber.Ctx) error {
	m, _ := c.ParamsInt("merchant")
	q := url.Values{}
	c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) { q.Add(string(k), string(v)) })
	reply, err := s.Campaign.HandleOACallback(c.UserContext(), int64(m), q, c.Body())
	status, msg := fiber.StatusOK, ""
	switch {
	case err == nil:
		if bytes.HasPrefix(reply, []byte("<xml")) {
			c.Set(fiber.HeaderContentType, "text/xml; charset=utf-8")
		}
		return c.Send(reply)
	case errors.Is(err, campaign.ErrNoWeChat):
		status, msg = fiber.StatusNotFound, "商家未配置公众号"
	case errors.Is(err, wechat.ErrMalformed):
		status, msg = fiber.StatusBadRequest, "消息格式错误"
	case errors.Is(err, wechat.ErrSignature), errors.Is(err, wechat.ErrStale), errors.Is(err, wechat.ErrPlaintext),
		errors.Is(err, campaign.ErrReplayed):
		status, msg = fiber.StatusForbidden, "消息校验失败"
	default:
		return err
	}
	s.Log.Warn("OA callback refused", "merchant_id", m, "status", status, "err", err,
		"request_id", c.GetRespHeader(fiber.HeaderXRequestID))
	return c.Status(status).SendString(msg)
}

// topUpNotify answers WeChat Pay's notification of a merchant's top-up (Native pay), as
// payNotify does an order's.
func (s *handlers) topUpNotify(c *fiber.Ctx) error {
	m, _ := c.ParamsInt("merchant")
	err := s.Merchants.HandleTopUpNotify(c.UserContext(), int64(m), c.Body())
	return s.notifyReply(c, int64(m), "top-up", err)
}
