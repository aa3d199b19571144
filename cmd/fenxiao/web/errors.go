package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"fenxiao/campaign"
)

// StatusOf maps an error to its HTTP status. Services return sentinel errors; the mapping to
// HTTP lives here and only here.
func StatusOf(err error) int {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return fe.Code
	}
	switch {
	case errors.Is(err, campaign.ErrNotFound):
		return fiber.StatusNotFound
	case errors.Is(err, campaign.ErrInvalid):
		return fiber.StatusUnprocessableEntity
	case errors.Is(err, campaign.ErrConflict), errors.Is(err, campaign.ErrSoldOut),
		errors.Is(err, campaign.ErrBuyerLimit), errors.Is(err, campaign.ErrNotOpen):
		return fiber.StatusConflict
	case errors.Is(err, campaign.ErrTooManyRequests):
		return fiber.StatusTooManyRequests
	}
	return fiber.StatusInternalServerError
}

// statusWords are the messages of the error page for errors that carry none of their own.
var statusWords = map[int]string{
	fiber.StatusNotFound:            "页面不存在，或活动已下线",
	fiber.StatusConflict:            "当前状态下无法进行该操作",
	fiber.StatusUnprocessableEntity: "提交的内容有误，请检查后重试",
}

// HandleError renders every error: JSON under /api, the error page elsewhere. Details of
// internal errors stay in the log, keyed by the request id the page shows.
func (b *Base) HandleError(c *fiber.Ctx, err error) error {
	status := StatusOf(err)
	msg := http.StatusText(status)
	if w, ok := statusWords[status]; ok {
		msg = w
	}
	var fe *fiber.Error
	unavailable := errors.As(err, &fe) && status == fiber.StatusServiceUnavailable // WeChat's, with our words for it
	if fe != nil && (status < 500 || unavailable) {
		msg = fe.Message
	}
	var rl *campaign.RateLimitError
	if errors.As(err, &rl) {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(rl.Seconds()))
		msg = fmt.Sprintf("%s太频繁了，请 %d 秒后再试", rl.What, rl.Seconds())
	}
	switch {
	case unavailable:
		b.Log.Warn("request refused: WeChat unavailable", "err", err, "path", c.Path(), "request_id", c.GetRespHeader(fiber.HeaderXRequestID))
	case status >= 500:
		b.Log.Error("request failed", "err", err, "path", c.Path(), "request_id", c.GetRespHeader(fiber.HeaderXRequestID))
		msg = "服务器出错了，请稍后再试"
	}
	if strings.HasPrefix(c.Path(), "/api/") {
		return c.Status(status).JSON(fiber.Map{"error": msg})
	}
	c.Status(status)
	if rerr := b.Page(c, "pages/error", fiber.Map{
		"Title":     msg,
		"Status":    status,
		"Message":   msg,
		"RequestID": c.GetRespHeader(fiber.HeaderXRequestID),
	}, "layouts/plain"); rerr != nil {
		return c.SendString(msg)
	}
	return nil
}
