package h5

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"fenxiao/cmd/fenxiao/web"
)

// Behind HTTPS the session cookie is Secure.
func TestH5CookieSecureBehindHTTPS(t *testing.T) {
	s := &Server{Base: &web.Base{Cfg: web.Config{BaseURL: "https://fx.example.com"}}}
	app := fiber.New()
	app.Get("/", func(c *fiber.Ctx) error { s.setSessionCookie(c, "token"); return nil })
	resp, err := app.Test(httptest.NewRequest(http.MethodGet, "/", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	if c := resp.Header.Get("Set-Cookie"); !strings.Contains(c, "secure") || !strings.Contains(c, "HttpOnly") {
		t.Fatalf("cookie %q", c)
	}
}
