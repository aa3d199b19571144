package web

import (
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// AccessLog logs every request: method, path, status, time taken, client and request id;
// server errors at ERROR level.
func (b *Base) AccessLog(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil {
		// The error handler has not run yet; report the status it will choose.
		status = StatusOf(err)
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	b.Log.Log(c.UserContext(), level, "http",
		"method", c.Method(),
		"path", c.Path(),
		"status", status,
		"ms", time.Since(start).Milliseconds(),
		"ip", b.RemoteIP(c),
		"request_id", c.GetRespHeader(fiber.HeaderXRequestID))
	return err
}

// LogPanic logs a handler's panic (the recover middleware answers 500).
func (b *Base) LogPanic(c *fiber.Ctx, e any) {
	b.Log.Error("panic in handler", "panic", e, "path", c.Path(), "request_id", c.GetRespHeader(fiber.HeaderXRequestID))
}

// LimitBody answers 413 before any parsing when a request body is over n bytes, declared
// (Content-Length) or actual (chunked).
func LimitBody(n int) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if c.Request().Header.ContentLength() > n || len(c.Request().Body()) > n {
			return c.Status(fiber.StatusRequestEntityTooLarge).SendString("请求体过大")
		}
		return c.Next()
	}
}

// CSRFSent is the CSRF token a request carries: the X-CSRF-Token header scripts send, or the
// _csrf field of a form (console and H5 alike).
func CSRFSent(c *fiber.Ctx) string {
	if got := c.Get("X-CSRF-Token"); got != "" {
		return got
	}
	return c.FormValue("_csrf")
}

// RemoteIP is the client's address wherever the server uses one (region gates, log-in and
// sign-up throttles, WeChat's spbill_create_ip, the request log): the TCP peer, or behind a
// load balancer listed in TRUSTED_PROXIES the address it saw. Never c.IP(), which is the
// load balancer's own address behind one.
func (b *Base) RemoteIP(c *fiber.Ctx) string {
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	return forwardedFor(peer.Unmap(), c.Get(fiber.HeaderXForwardedFor), b.Cfg.TrustedProxies)
}

// forwardedFor finds the client behind trusted proxies: X-Forwarded-For is read from the
// right (each proxy appends the address it saw), skipping trusted proxies; the first other
// address is the client. Entries further left were written by the client itself and prove
// nothing. A peer that is not a trusted proxy is the client, whatever the header says.
func forwardedFor(peer netip.Addr, header string, trusted []netip.Prefix) string {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	client := peer
	if !isTrusted(peer) || header == "" {
		return client.String()
	}
	hops := strings.Split(header, ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		client = a.Unmap()
		if !isTrusted(client) {
			break
		}
	}
	return client.String()
}
