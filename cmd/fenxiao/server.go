package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"github.com/jmoiron/sqlx"

	"fenxiao/campaign"
	"fenxiao/campaign/merchant"
	"fenxiao/templates"
	"fenxiao/wallet"
)

type router = fiber.Router

// server holds what the handlers share. Handlers stay thin: parse, one service call, render.
type server struct {
	cfg       *Config
	db        *sqlx.DB
	log       *slog.Logger
	wallet    *wallet.Service
	merchants *merchant.Service
	campaign  *campaign.Service
	payouts   *wallet.Payouts
	// simIP, set when the server runs against the WeChat simulator (dev and tests), gives the
	// client IP the tester chose for a user (sim.Server.ClientIP); production uses the
	// request's address.
	simIP func(appID, openID string) (ip string, ok bool)
	// visits records page views and shares in the background (h5_stats.go).
	visits *recorder
	// landings keeps each campaign's landing page rendered for its snapshot (h5_landing.go).
	landings *landingPages
	// covers keeps generated product pictures (h5_share.go).
	covers *coverCache
	// h5Key signs the H5 pages' CSRF tokens (h5_guard.go).
	h5Key []byte
	// views renders every HTML page (s.page).
	views *templates.Views
}

func (s *server) app(h *hooks) *fiber.App {
	s.views = templates.Engine(nil)
	app := fiber.New(fiber.Config{
		AppName:               "fenxiao",
		DisableStartupMessage: true,
		Views:                 s.views, // loaded by fiber.New; pages render through s.page
		ErrorHandler:          s.handleError,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           2 * time.Minute,
		BodyLimit:             8 << 20,
	})
	app.Use(requestid.New())
	app.Use(s.accessLog)
	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: s.logPanic}))

	app.Use("/static", filesystem.New(filesystem.Config{
		Root:   http.FS(templates.Static()),
		MaxAge: 365 * 24 * 3600, // assets are cache-busted by content hash
	}))
	app.Get("/healthz", s.healthz)
	if s.campaign != nil {
		s.wechatRoutes(app)
		s.h5Routes(app)
		s.consoleRoutes(app)
	}
	app.Get("/", func(c *fiber.Ctx) error {
		return s.page(c, "pages/home", fiber.Map{"Title": "首页"}, "layouts/plain")
	})
	if h != nil && h.routes != nil {
		h.routes(app)
	}
	return app
}

// page answers an HTML page: name rendered inside layout. It stands in for Fiber's Ctx.Render,
// whose first calls on a fresh app fill a list shared by all requests without a lock (a data
// race when a new replica's first pages arrive together). A failed render leaves no half page.
func (s *server) page(c *fiber.Ctx, name string, bind any, layout string) error {
	res := c.Response()
	res.ResetBody()
	if err := s.views.Render(res.BodyWriter(), name, bind, layout); err != nil {
		res.ResetBody()
		return fmt.Errorf("render %s: %w", name, err)
	}
	c.Type("html", "utf-8")
	return nil
}

// healthz answers ok when the database answers.
func (s *server) healthz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := s.db.PingContext(ctx); err != nil {
		s.log.Warn("health check: database unreachable", "err", err)
		return c.Status(fiber.StatusServiceUnavailable).SendString("database unreachable")
	}
	return c.SendString("ok")
}

func (s *server) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil {
		// The error handler has not run yet; report the status it will choose.
		status = statusOf(err)
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	s.log.Log(c.UserContext(), level, "http",
		"method", c.Method(),
		"path", c.Path(),
		"status", status,
		"ms", time.Since(start).Milliseconds(),
		"ip", s.remoteIP(c),
		"request_id", c.GetRespHeader(fiber.HeaderXRequestID))
	return err
}

func (s *server) logPanic(c *fiber.Ctx, e any) {
	s.log.Error("panic in handler", "panic", e, "path", c.Path(), "request_id", c.GetRespHeader(fiber.HeaderXRequestID))
}

// statusOf maps an error to its HTTP status. Services return sentinel errors; the mapping to
// HTTP lives here and only here.
func statusOf(err error) int {
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

// handleError renders every error: JSON under /api, the error page elsewhere. Details of
// internal errors stay in the log, keyed by the request id the page shows.
func (s *server) handleError(c *fiber.Ctx, err error) error {
	status := statusOf(err)
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
		s.log.Warn("request refused: WeChat unavailable", "err", err, "path", c.Path(), "request_id", c.GetRespHeader(fiber.HeaderXRequestID))
	case status >= 500:
		s.log.Error("request failed", "err", err, "path", c.Path(), "request_id", c.GetRespHeader(fiber.HeaderXRequestID))
		msg = "服务器出错了，请稍后再试"
	}
	if strings.HasPrefix(c.Path(), "/api/") {
		return c.Status(status).JSON(fiber.Map{"error": msg})
	}
	c.Status(status)
	if rerr := s.page(c, "pages/error", fiber.Map{
		"Title":     msg,
		"Status":    status,
		"Message":   msg,
		"RequestID": c.GetRespHeader(fiber.HeaderXRequestID),
	}, "layouts/plain"); rerr != nil {
		return c.SendString(msg)
	}
	return nil
}
