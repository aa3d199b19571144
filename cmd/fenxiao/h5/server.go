// Package h5 is the follower's side: the mobile pages a follower opens inside WeChat (landing,
// gates, buying, orders, sharing and posters, earnings and claims, team, receipt of goods) and
// the JSON their scripts call. Handlers parse, make one service call and render; the rules live
// in package campaign and package wallet.
package h5

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"fenxiao/campaign"
	"fenxiao/cmd/fenxiao/web"
	"fenxiao/wechat"
)

// Server answers the follower's pages inside WeChat (issue 7). Pages live under /c/{campaign};
// the JSON calls their scripts make live under /api/h5/c/{campaign}, where errors answer JSON.
type Server struct {
	*web.Base
	// visits records page views and shares in the background (stats.go).
	visits *recorder
	// landings keeps each campaign's landing page rendered for its snapshot (landing.go).
	landings *landingPages
	// covers keeps generated product pictures (share.go).
	covers *coverCache
	// csrfKey signs the pages' CSRF tokens (guard.go).
	csrfKey []byte
}

// New makes the follower's pages over b. Close stops its page-view recorder.
func New(b *web.Base) *Server {
	return &Server{
		Base:     b,
		visits:   newRecorder(b.Campaign, b.Log),
		landings: newLandingPages(),
		covers:   &coverCache{},
		csrfKey:  csrfKeyFrom(b.Cfg.SecretKey),
	}
}

// Close writes the page views still queued, waiting at most grace. Call it once no request
// can arrive any more.
func (s *Server) Close(grace time.Duration) { s.visits.close(grace) }

// Flush waits until the page views and shares queued so far are written, at most timeout, and
// says whether they were.
func (s *Server) Flush(timeout time.Duration) bool { return s.visits.flush(timeout) }

// Counters are what the pages have done since New, for tests and an operator's metrics.
type Counters struct {
	LandingRenders int64 // landing pages rendered: one per campaign snapshot, not per visitor
	VisitWrites    int64 // batches of page views and shares written
	VisitsDropped  int64 // page views and shares lost to a full queue
}

// Counters reads the counters.
func (s *Server) Counters() Counters {
	return Counters{
		LandingRenders: s.landings.renders.Load(),
		VisitWrites:    s.visits.writes.Load(),
		VisitsDropped:  s.visits.dropped.Load(),
	}
}

// Routes registers the follower's pages on r.
func (s *Server) Routes(r fiber.Router) {
	r.Get("/h5/oauth/:merchant<int>", s.oauth)
	r.Get("/c/:id<int>", s.landing)
	r.Post("/c/:id<int>/password", s.guard, s.password)
	r.Get("/c/:id<int>/buy", s.buy)
	r.Get("/c/:id<int>/orders", s.orders)
	r.Get("/c/:id<int>/orders/:order<int>", s.orderResult)
	r.Post("/c/:id<int>/orders/:order<int>/received", s.guard, s.confirmReceipt)
	r.Get("/c/:id<int>/orders/:order<int>/code.png", s.pickupCode)
	r.Get("/c/:id<int>/share", s.share)
	r.Get("/c/:id<int>/poster.png", s.poster)
	r.Get("/c/:id<int>/poster/:fp.png", s.posterAt)
	r.Get("/c/:id<int>/cover.png", s.cover)
	r.Get("/c/:id<int>/commissions", s.earnings)
	r.Get("/c/:id<int>/team", s.team)
	r.Post("/c/:id<int>/withdraw", s.guard, s.withdraw)
	r.Post("/api/h5/c/:id<int>/orders", s.guard, s.createOrder)
	r.Get("/api/h5/c/:id<int>/orders/:order<int>", s.orderStatus)
	r.Post("/api/h5/c/:id<int>/jsconfig", s.guard, s.jsConfig)
	r.Post("/api/h5/c/:id<int>/shares", s.guard, s.recordShare)
}

// sessionCookie carries the follower's session token.
const sessionCookie = "fx_h5"

// pageData is the data of every H5 page: the layout reads the common fields, the page its Data.
type pageData struct {
	Title    string
	Campaign *campaign.Campaign
	User     *campaign.User
	Sim      bool   // load the WeChat simulator's bridge and wx (dev and tests only)
	JSSDK    string // otherwise WeChat's JS-SDK, from WeChat's own origin
	Share    bool   // set up JS-SDK sharing on this page
	Now      time.Time
	CSRF     string // the token state-changing requests of this page carry (guard.go)
	Data     any
	tz       *time.Location
}

// Time formats t in the server's time zone for a page.
func (p *pageData) Time(t time.Time) string { return t.In(p.tz).Format("01-02 15:04") }

// Date formats t with the year and weekday-free date a countdown names.
func (p *pageData) Date(t time.Time) string { return t.In(p.tz).Format("2006年1月2日 15:04") }

// Millis is t in Unix milliseconds, for the countdown script.
func (p *pageData) Millis(t time.Time) int64 { return t.UnixMilli() }

// Ago says how long ago t was, as the order ticker does.
func (p *pageData) Ago(t time.Time) string {
	switch d := p.Now.Sub(t); {
	case d < time.Minute:
		return "刚刚"
	case d < time.Hour:
		return fmt.Sprintf("%d 分钟前", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%d 小时前", int(d.Hours()))
	default:
		return p.Time(t)
	}
}

// First is the first character of s, for avatars drawn from a name.
func (p *pageData) First(s string) string {
	r, _ := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return "微"
	}
	return string(r)
}

// render answers an H5 page inside the H5 layout.
func (s *Server) render(c *fiber.Ctx, page string, p *pageData) error {
	s.pageEnv(p)
	p.CSRF = s.csrfToken(c)
	s.pageHeaders(c)
	return s.Page(c, "h5/"+page, p, "layouts/h5")
}

// WeChat's JS-SDK (wx.config, the share card, openAddress): the file WeChat documents for
// official-account pages, loaded from WeChat's own origin — the one script a production page
// takes from elsewhere. With the simulator, its wx (/dev/wechatsim.js) stands in for it.
const (
	jssdkURL    = "https://res.wx.qq.com/open/js/jweixin-1.6.0.js"
	jssdkOrigin = "https://res.wx.qq.com"
)

// pageEnv sets what an H5 page takes from the server rather than the visitor: the
// simulator's bridge or WeChat's JS-SDK, the clock and the time zone.
func (s *Server) pageEnv(p *pageData) {
	p.Sim = s.SimIP != nil
	if !p.Sim {
		p.JSSDK = jssdkURL
	}
	p.Now = time.Now()
	p.tz = s.Cfg.TimeZone
	if p.tz == nil {
		p.tz = time.Local
	}
}

// pageHeaders are the headers of every H5 page.
func (s *Server) pageHeaders(c *fiber.Ctx) {
	c.Set(fiber.HeaderCacheControl, "no-store") // personal pages: never from a shared cache
	scripts := jssdkOrigin
	if s.SimIP != nil {
		scripts = "" // the simulator's wx is served by this server
	}
	securityHeaders(c, s.wechatImageOrigin(), scripts)
}

// wechatImageOrigin is where pages load WeChat's pictures from (the follow QR code): WeChat's
// own host, or the simulator's in dev and tests.
func (s *Server) wechatImageOrigin() string {
	if s.Cfg.WeChatAPIBase != "" {
		return s.Cfg.WeChatAPIBase
	}
	return "https://mp.weixin.qq.com"
}

// errSignIn tells a handler that visitor has answered with a redirect to WeChat's sign-in.
var errSignIn = errors.New("h5: signing in")

// visitor loads campaign :id and the follower signed in with its merchant's official
// account. Without one it redirects to OAuth (snsapi_base: silent) and returns errSignIn,
// which the handler returns as is. profile asks for snsapi_userinfo when the nickname is not
// known yet (the poster shows it); snapshot-mode users cannot grant it and are let through.
func (s *Server) visitor(c *fiber.Ctx, profile bool) (*campaign.Campaign, *campaign.User, error) {
	id, _ := c.ParamsInt("id")
	camp, err := s.Campaign.Public(c.UserContext(), int64(id))
	if err != nil {
		return nil, nil, err
	}
	u, err := s.follower(c, camp, profile)
	return camp, u, err
}

// follower is visitor for a campaign already loaded (the landing page's shared snapshot).
func (s *Server) follower(c *fiber.Ctx, camp *campaign.Campaign, profile bool) (*campaign.User, error) {
	token := c.Cookies(sessionCookie)
	fs, err := s.Campaign.Follower(c.UserContext(), token, camp.MerchantID)
	if err != nil {
		return nil, err
	}
	scope := ""
	switch {
	case fs.User == nil:
		scope = wechat.ScopeBase
	case profile && fs.User.Nickname == "" && !fs.User.Snapshot:
		scope = wechat.ScopeUserInfo
	default:
		return fs.User, nil
	}
	if strings.HasPrefix(c.Path(), "/api/") {
		return nil, fiber.NewError(fiber.StatusUnauthorized, "请先在微信中打开活动页面")
	}
	token, authURL, err := s.Campaign.SignInURL(c.UserContext(), token, camp.MerchantID, scope, c.OriginalURL())
	if err != nil {
		return nil, err
	}
	s.setSessionCookie(c, token)
	if err := c.Redirect(authURL, fiber.StatusFound); err != nil {
		return nil, err
	}
	return nil, errSignIn
}

func (s *Server) setSessionCookie(c *fiber.Ctx, token string) {
	c.Cookie(&fiber.Cookie{
		Name: sessionCookie, Value: token, Path: "/", MaxAge: 60 * 24 * 3600, // the database decides expiry
		HTTPOnly: true, Secure: strings.HasPrefix(s.Cfg.BaseURL, "https://"), SameSite: fiber.CookieSameSiteLaxMode,
	})
}

// oauth is where WeChat's authorize page comes back: the state must be the one this
// browser's session started.
func (s *Server) oauth(c *fiber.Ctx) error {
	m, _ := c.ParamsInt("merchant")
	next, token, err := s.Campaign.FinishSignIn(c.UserContext(), c.Cookies(sessionCookie), int64(m), c.Query("code"), c.Query("state"))
	switch {
	case errors.Is(err, campaign.ErrSignInDenied):
		return s.render(c, "notice", &pageData{Title: "需要授权", Data: notice{
			Icon: "warn", Title: "需要你的授权", Text: "生成专属分享海报需要使用你的微信昵称和头像。",
			Link: localPath(next), LinkText: "重新授权",
		}})
	case errors.Is(err, campaign.ErrSignInState):
		c.Status(fiber.StatusBadRequest)
		return s.render(c, "notice", &pageData{Title: "登录已过期", Data: notice{
			Icon: "warn", Title: "登录已过期", Text: "请回到微信，重新打开活动链接。",
		}})
	case err != nil:
		return err
	}
	s.setSessionCookie(c, token) // a new token at sign-in
	return c.Redirect(localPath(next), fiber.StatusFound)
}

// SignOut forgets the follower's session and sends them to the local path in ?next=. The
// simulator's bar for 使用完整服务 (snapshot mode: WeChat opens the page again through OAuth
// with the real identity) comes here in dev, so the page signs in afresh on the simulator's
// authorize page.
func SignOut(c *fiber.Ctx) error {
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(1, 0), HTTPOnly: true,
		SameSite: fiber.CookieSameSiteLaxMode}) // the session cookie's path: ClearCookie's has none
	return c.Redirect(localPath(c.Query("next")), fiber.StatusFound)
}

// localPath keeps a redirect on this server: anything else becomes the home page.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/"
	}
	return p
}

// notice is a page with one message and at most one action.
type notice struct {
	Icon, Title, Text, Link, LinkText string
}

// clientIP is the follower's address for region gates: the request's peer, or behind a
// trusted load balancer the address it saw; with the simulator, the IP its tester chose for
// this user (simIP).
func (s *Server) clientIP(c *fiber.Ctx, u *campaign.User) string {
	if s.SimIP != nil && u != nil {
		if wx, err := s.Merchants.WeChatFor(c.UserContext(), u.MerchantID); err == nil {
			if ip, ok := s.SimIP(wx.AppID(), u.OpenID); ok {
				return ip
			}
		}
	}
	return s.RemoteIP(c)
}

// gateIP is clientIP for the gates of camp, which read it only for a region allow-list:
// without one it is not looked up (with the simulator that costs a query).
func (s *Server) gateIP(c *fiber.Ctx, camp *campaign.Campaign, u *campaign.User) string {
	if len(camp.Regions) == 0 {
		return ""
	}
	return s.clientIP(c, u)
}
