package main

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"

	"fenxiao/cmd/fenxiao/callback"
	"fenxiao/cmd/fenxiao/console"
	"fenxiao/cmd/fenxiao/h5"
	"fenxiao/cmd/fenxiao/web"
	"fenxiao/templates"
)

type router = fiber.Router

// server is the assembled server: the services (web.Base), the follower's pages and the
// console over them.
type server struct {
	*web.Base
	cfg     *Config
	h5      *h5.Server
	console *console.Server
}

func (s *server) app(h *hooks) *fiber.App {
	s.Views = templates.Engine(nil)
	app := fiber.New(fiber.Config{
		AppName:               "fenxiao",
		DisableStartupMessage: true,
		Views:                 s.Views, // loaded by fiber.New; pages render through Base.Page
		ErrorHandler:          s.HandleError,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           2 * time.Minute,
		BodyLimit:             8 << 20,
	})
	app.Use(requestid.New())
	app.Use(s.AccessLog)
	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: s.LogPanic}))

	app.Use("/static", filesystem.New(filesystem.Config{
		Root:   http.FS(templates.Static()),
		MaxAge: 365 * 24 * 3600, // assets are cache-busted by content hash
	}))
	app.Get("/healthz", s.Healthz)
	if s.Campaign != nil {
		callback.Routes(app, s.Base)
		s.h5.Routes(app)
		s.console.Routes(app)
	}
	app.Get("/", func(c *fiber.Ctx) error {
		return s.Page(c, "pages/home", fiber.Map{"Title": "首页"}, "layouts/plain")
	})
	if h != nil && h.routes != nil {
		h.routes(app)
	}
	return app
}
