package h5

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"

	"fenxiao/cmd/fenxiao/web"

	"github.com/gofiber/fiber/v2"
)

// The follower's pages are public inside WeChat, so another site can try to post to them with
// the follower's cookie (CSRF) or frame them. A state-changing H5 request passes when the
// browser says it comes from this server — its Origin, or with no Origin its Referer, is
// BASE_URL's — or when it carries the session's token (the X-CSRF-Token header h5.js sends,
// or a form's _csrf field), for browsers that send neither header. A foreign Origin is
// refused whatever it carries. Pages are sent with a CSP and X-Frame-Options that keep them
// out of other sites' frames.

// csrfKeyFrom derives the key of the H5 CSRF tokens from SECRET_KEY.
func csrfKeyFrom(secret []byte) []byte {
	key, err := hkdf.Key(sha256.New, secret, nil, "fenxiao h5 csrf v1", 32)
	if err != nil {
		panic(err) // SECRET_KEY was validated at start: 32 bytes
	}
	return key
}

// csrfToken is the token of the browser's session cookie: it changes whenever the session does
// (sign-in renews the cookie), and a page of another site cannot read or compute it.
func (s *Server) csrfToken(c *fiber.Ctx) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte("h5|" + c.Cookies(sessionCookie)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:24])
}

// guard refuses a state-changing request from another origin or, when the browser names no
// origin, without the session's token.
func (s *Server) guard(c *fiber.Ctx) error {
	origin := c.Get(fiber.HeaderOrigin)
	switch {
	case origin != "" && !sameOrigin(origin, s.Cfg.BaseURL):
		return fiber.NewError(fiber.StatusForbidden, "请求来源无法确认，请在活动页面内操作")
	case origin != "":
		return c.Next()
	case refererFrom(c.Get(fiber.HeaderReferer), s.Cfg.BaseURL):
		return c.Next()
	case c.Cookies(sessionCookie) == "":
		return c.Next() // no session to act for: the handler asks for a sign-in
	}
	if !hmac.Equal([]byte(web.CSRFSent(c)), []byte(s.csrfToken(c))) {
		return fiber.NewError(fiber.StatusForbidden, "页面已过期，请刷新页面后重试")
	}
	return c.Next()
}

// refererFrom reports whether a Referer is a page of base's origin.
func refererFrom(referer, base string) bool {
	u, err := url.Parse(referer)
	return err == nil && u.Host != "" && sameOrigin(u.Scheme+"://"+u.Host, base)
}

// sameOrigin reports whether origin (scheme://host[:port]) is the origin of base.
func sameOrigin(origin, base string) bool {
	b, err := url.Parse(base)
	if err != nil {
		return false
	}
	return strings.EqualFold(origin, b.Scheme+"://"+b.Host)
}

// securityHeaders are sent with every H5 page: no framing by other sites, scripts from this server
// and, in production, WeChat's JS-SDK origin (scriptHost), connections only to this server,
// pictures from this server and WeChat's QR host (imgHost).
func securityHeaders(c *fiber.Ctx, imgHost, scriptHost string) {
	scripts := "'self'"
	if scriptHost != "" {
		scripts += " " + scriptHost
	}
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "same-origin")
	c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'self'; script-src "+scripts+"; style-src 'self' 'unsafe-inline'; "+
		"img-src 'self' data: blob: "+imgHost+"; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'")
}
