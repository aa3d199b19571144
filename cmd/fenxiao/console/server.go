// Package console is the merchant's side: server-rendered pages under /console for a desktop
// browser (issue 8). Every handler is parse → one service call → render, and every POST answers with a
// redirect (POST-redirect-GET) or the same form again with its errors beside the fields.
//
// Security:
//   - Sessions live in PostgreSQL (merchant.ConsoleSession); the cookie holds a random
//     token whose SHA-256 is the row's key. Log-in always makes a new session and deletes the
//     one the browser had, so a session fixed before log-in is worthless.
//   - CSRF: every form carries a token that is an HMAC, under a key derived from SECRET_KEY, of
//     a random per-browser cookie and the session cookie (a signed double-submit cookie bound
//     to the session). Any non-GET request under /console without it is refused with 403.
//     Both cookies are HttpOnly and SameSite=Strict, so other sites cannot send them either.
//   - Every query filters by the signed-in merchant's id; a foreign id is a 404.
package console

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/shopspring/decimal"

	"fenxiao/campaign"
	"fenxiao/campaign/merchant"
	"fenxiao/cmd/fenxiao/web"
	"fenxiao/wallet"
)

// Server answers the merchant console's pages.
type Server struct {
	*web.Base
	csrfKey []byte
	secure  bool // cookies only over HTTPS (BASE_URL is https)
}

// Console cookies. Their path keeps them off the H5 pages.
const (
	conSessionCookie = "fx_console"
	conCSRFCookie    = "fx_csrf"
	conFlashCookie   = "fx_flash"
	conCookiePath    = "/console"
	conSessionMaxAge = 7 * 24 * 3600 // the database decides the real expiry
)

// New makes the console over b.
func New(b *web.Base) *Server {
	key, err := hkdf.Key(sha256.New, b.Cfg.SecretKey, nil, "fenxiao console csrf v1", 32)
	if err != nil {
		panic(err) // SECRET_KEY was validated at start: 32 bytes
	}
	return &Server{Base: b, csrfKey: key, secure: strings.HasPrefix(b.Cfg.BaseURL, "https://")}
}

// Routes registers the console's pages on r, and /media/ (the merchants' uploaded pictures,
// which the follower's pages show too).
func (con *Server) Routes(r fiber.Router) {
	r.Get("/media/:merchant<int>/:name", con.media)

	g := r.Group("/console", con.csrf)
	g.Get("/login", con.loginPage)
	g.Post("/login", con.login)
	g.Get("/signup", con.signupPage)
	g.Post("/signup", con.signup)
	g.Post("/logout", con.logout)

	a := g.Group("", con.auth)
	a.Get("/", con.home)
	a.Get("/account", con.accountPage)
	a.Post("/account/password", con.changePassword)

	a.Get("/wechat", con.wechatPage)
	a.Post("/wechat", con.saveWeChat)
	a.Post("/wechat/test", con.testWeChat)
	a.Post("/wechat/templates", con.saveTemplates)
	a.Post("/wechat/receiver", con.receiverQR)
	a.Post("/wechat/test-message", con.testMessage)
	a.Post("/payouts/resume", con.resumePayouts)

	a.Get("/assets", con.assetsPage)
	a.Get("/assets/statement.csv", con.statementCSV)
	a.Post("/assets/topups", con.startTopUp)
	a.Get("/assets/topups/:id<int>", con.topUpPage)
	a.Get("/assets/topups/:id<int>/status", con.topUpStatus)
	a.Get("/assets/topups/:id<int>/qr.svg", con.topUpQR)

	a.Post("/uploads", con.upload)
	a.Get("/campaigns", con.campaignsPage)
	a.Get("/campaigns/new", con.newCampaignPage)
	a.Post("/campaigns", con.createCampaign)
	a.Get("/campaigns/:id<int>", con.campaignPage)
	a.Get("/campaigns/:id<int>/edit", con.editCampaignPage)
	a.Post("/campaigns/:id<int>", con.updateCampaign)
	a.Post("/campaigns/:id<int>/publish", con.publishCampaign)
	a.Post("/campaigns/:id<int>/stock", con.adjustStock)
	a.Post("/campaigns/:id<int>/end", con.endCampaign)
	a.Post("/campaigns/:id<int>/copy", con.copyCampaign)
	a.Post("/campaigns/:id<int>/delete", con.deleteCampaign)
	a.Get("/campaigns/:id<int>/preview", con.previewPage)
	a.Get("/campaigns/:id<int>/results", con.resultsPage)
	a.Get("/campaigns/:id<int>/shipping.csv", con.shippingCSV)
	a.Post("/campaigns/:id<int>/shipments", con.uploadShipments)

	a.Get("/orders", con.ordersPage)
	a.Get("/orders.csv", con.ordersCSV)
	a.Get("/orders/:id<int>", con.orderPage)
	a.Post("/orders/:id<int>/refund", con.refundOrder)
	a.Post("/orders/:id<int>/ship", con.shipOrder)
	a.Get("/verify", con.verifyPage)
	a.Post("/verify", con.verifyCode)
}

// csrf gives every browser a CSRF cookie and refuses any non-GET request whose token does
// not match it and the session. It runs before auth, so the log-in form is protected too
// (and, with X-Frame-Options, from being framed).
func (con *Server) csrf(c *fiber.Ctx) error {
	seed := c.Cookies(conCSRFCookie)
	if len(seed) < 32 {
		seed = randomToken()
		c.Cookie(con.cookie(conCSRFCookie, seed, conSessionMaxAge))
	}
	c.Locals("csrf-seed", seed)
	c.Set("X-Frame-Options", "DENY") // no page of the console inside another site's frame
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead:
		return c.Next()
	}
	if !hmac.Equal([]byte(web.CSRFSent(c)), []byte(con.csrfToken(c))) {
		return fiber.NewError(fiber.StatusForbidden, "页面已过期或来源无法确认，请刷新页面后重试")
	}
	return c.Next()
}

// csrfToken is the token this browser's forms must carry: bound to its CSRF cookie and to
// its session cookie, so it changes at log-in and log-out.
func (con *Server) csrfToken(c *fiber.Ctx) string {
	seed, _ := c.Locals("csrf-seed").(string)
	m := hmac.New(sha256.New, con.csrfKey)
	m.Write([]byte(seed + "|" + c.Cookies(conSessionCookie)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// auth loads the session or sends the browser to the log-in page.
func (con *Server) auth(c *fiber.Ctx) error {
	ses, err := con.Merchants.ConsoleSession(c.UserContext(), c.Cookies(conSessionCookie))
	if errors.Is(err, campaign.ErrNotFound) {
		if c.Method() != fiber.MethodGet {
			return fiber.NewError(fiber.StatusUnauthorized, "登录已过期，请重新登录")
		}
		return c.Redirect("/console/login?next="+url.QueryEscape(c.OriginalURL()), fiber.StatusSeeOther)
	}
	if err != nil {
		return err
	}
	c.Locals("session", ses)
	c.Set(fiber.HeaderCacheControl, "no-store") // merchant data: never from a shared cache
	return c.Next()
}

// session is the signed-in merchant of a request behind auth.
func session(c *fiber.Ctx) *merchant.ConsoleSession {
	ses, _ := c.Locals("session").(*merchant.ConsoleSession)
	return ses
}

// merchantOf is the signed-in merchant's id: every console query filters by it.
func merchantOf(c *fiber.Ctx) int64 { return session(c).MerchantID }

func (con *Server) cookie(name, value string, maxAge int) *fiber.Cookie {
	return &fiber.Cookie{Name: name, Value: value, Path: conCookiePath, MaxAge: maxAge,
		HTTPOnly: true, Secure: con.secure, SameSite: fiber.CookieSameSiteStrictMode}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) //nolint:errcheck // crypto/rand never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// flash is a one-time message shown on the page a redirect leads to.
type flash struct {
	Kind string `json:"k"` // ok, error
	Text string `json:"t"`
	// An action the message suggests (去充值): a console path and its words.
	Link     string `json:"l,omitempty"`
	LinkText string `json:"lt,omitempty"`
}

func (con *Server) flash(c *fiber.Ctx, kind, text string) { con.flashLink(c, kind, text, "", "") }

// flashLink is a flash message with an action link; link must be a console path.
func (con *Server) flashLink(c *fiber.Ctx, kind, text, link, linkText string) {
	if !strings.HasPrefix(link, "/console/") {
		link, linkText = "", ""
	}
	b, _ := json.Marshal(flash{kind, text, link, linkText})
	c.Cookie(con.cookie(conFlashCookie, base64.RawURLEncoding.EncodeToString(b), 120))
}

// takeFlash reads and clears the flash message.
func (con *Server) takeFlash(c *fiber.Ctx) *flash {
	v := c.Cookies(conFlashCookie)
	if v == "" {
		return nil
	}
	c.Cookie(con.cookie(conFlashCookie, "", -1))
	b, err := base64.RawURLEncoding.DecodeString(v)
	var f flash
	if err != nil || json.Unmarshal(b, &f) != nil || f.Text == "" {
		return nil
	}
	return &f
}

// redirect answers a POST with a redirect and an optional flash message.
func (con *Server) redirect(c *fiber.Ctx, to, kind, text string) error {
	if text != "" {
		con.flash(c, kind, text)
	}
	return c.Redirect(to, fiber.StatusSeeOther)
}

// refuse answers a POST whose action the merchant can fix (a *ValidationError, a conflict,
// missing WeChat settings) by going back with the explanation; other errors go to the error
// handler.
func (con *Server) refuse(c *fiber.Ctx, back string, err error) error {
	msg := campaign.Explain(err)
	if msg == "" || errors.Is(err, campaign.ErrNotFound) || errors.Is(err, wallet.ErrNotFound) {
		return err
	}
	var ve *campaign.ValidationError
	if errors.As(err, &ve) && ve.Shortfall.IsPositive() {
		con.flashLink(c, "error", msg, topUpLink(ve.Shortfall), "去充值")
		return c.Redirect(back, fiber.StatusSeeOther)
	}
	return con.redirect(c, back, "error", msg)
}

// topUpLink opens the assets page with the top-up amount filled in: the shortfall in whole
// yuan, at least the 1 yuan a top-up takes.
func topUpLink(short decimal.Decimal) string {
	return "/console/assets?amount=" + decimal.Max(short.Ceil(), decimal.NewFromInt(1)).String()
}

// consolePage is the data of every console page: the layout reads the common fields, the
// page its Data. Its methods format values for the templates.
type consolePage struct {
	Title   string
	Nav     string // the sidebar entry to highlight
	Session *merchant.ConsoleSession
	CSRF    string
	Flash   *flash
	Problem *wallet.Problem // red packets paused: the banner
	Assets  *wallet.Assets
	Errors  map[string]string // form errors by field
	Data    any
	loc     *time.Location
}

// render answers a console page inside the console layout.
func (con *Server) render(c *fiber.Ctx, name string, p *consolePage) error {
	p.Session = session(c)
	p.CSRF = con.csrfToken(c)
	p.Flash = con.takeFlash(c)
	p.loc = con.Cfg.TimeZone
	if p.Errors == nil {
		p.Errors = map[string]string{}
	}
	if p.Session != nil {
		var err error
		if p.Problem, err = con.Payouts.Problem(c.UserContext(), p.Session.MerchantID); err != nil {
			return err
		}
		a, err := con.Wallet.Assets(c.UserContext(), p.Session.MerchantID)
		if err != nil {
			return err
		}
		p.Assets = &a
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return con.Page(c, "console/"+name, p, "layouts/console")
}

// form re-renders a form page with the field messages of err (a *ValidationError) and status
// 422; any other error goes to the error handler.
func (con *Server) form(c *fiber.Ctx, name string, p *consolePage, err error) error {
	var ve *campaign.ValidationError
	if !errors.As(err, &ve) {
		return con.refuse(c, c.OriginalURL(), err)
	}
	p.Errors = ve.Fields
	c.Status(fiber.StatusUnprocessableEntity)
	return con.render(c, name, p)
}
