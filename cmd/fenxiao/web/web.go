// Package web is what the follower's pages (package h5), the merchant console (package
// console) and the URLs WeChat calls (package callback) share: the services a handler calls,
// rendering a page, the one mapping from errors to HTTP statuses and words, the access and
// panic logs, body limits and the client's address. It holds no handler of its own but the
// health check.
package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jmoiron/sqlx"

	"fenxiao/campaign"
	"fenxiao/campaign/merchant"
	"fenxiao/templates"
	"fenxiao/wallet"
)

// Config is the part of the server's configuration the handlers read.
type Config struct {
	BaseURL   string
	SecretKey []byte // 32 bytes; each audience derives its own CSRF key from it
	TimeZone  *time.Location
	// TrustedProxies are the load balancers whose X-Forwarded-For is believed (RemoteIP).
	TrustedProxies []netip.Prefix
	// WeChatAPIBase is the simulator's URL when the server runs against one (its cashier and
	// inbox pages are linked from ours); empty with the real WeChat.
	WeChatAPIBase string
	// PayoutIP is this server's public address, the spbill_create_ip of a top-up.
	PayoutIP string
}

// Base holds what every handler shares. Handlers stay thin: parse, one service call, render.
type Base struct {
	Cfg       Config
	DB        *sqlx.DB
	Log       *slog.Logger
	Wallet    *wallet.Service
	Merchants *merchant.Service
	Campaign  *campaign.Service
	Payouts   *wallet.Payouts
	// SimIP, set when the server runs against the WeChat simulator (dev and tests), gives the
	// client IP the tester chose for a user (sim.Server.ClientIP); production uses the
	// request's address.
	SimIP func(appID, openID string) (ip string, ok bool)
	// Views renders every HTML page (Page).
	Views *templates.Views
}

// Page answers an HTML page: name rendered inside layout. It stands in for Fiber's Ctx.Render,
// whose first calls on a fresh app fill a list shared by all requests without a lock (a data
// race when a new replica's first pages arrive together). A failed render leaves no half page.
func (b *Base) Page(c *fiber.Ctx, name string, bind any, layout string) error {
	res := c.Response()
	res.ResetBody()
	if err := b.Views.Render(res.BodyWriter(), name, bind, layout); err != nil {
		res.ResetBody()
		return fmt.Errorf("render %s: %w", name, err)
	}
	c.Type("html", "utf-8")
	return nil
}

// Healthz answers ok when the database answers.
func (b *Base) Healthz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := b.DB.PingContext(ctx); err != nil {
		b.Log.Warn("health check: database unreachable", "err", err)
		return c.Status(fiber.StatusServiceUnavailable).SendString("database unreachable")
	}
	return c.SendString("ok")
}
