package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"fenxiao/campaign"
	"fenxiao/cmd/fenxiao/h5"
	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// wechatOptions are the WeChat client options of this deployment: WECHAT_API_BASE, when set,
// redirects the SDK's calls and the browser pages (OAuth, QR images) alike.
func (c *Config) wechatOptions() wechat.Options {
	return wechat.Options{APIBase: c.WeChatAPIBase, BrowserBase: c.WeChatAPIBase, Timeout: 10 * time.Second}
}

// avatarHosts are where sharers' avatars may be fetched from for posters: WeChat's avatar
// hosts, and the simulator's when it stands in for WeChat (its user-info answers point there).
func (c *Config) avatarHosts() []string {
	hosts := append([]string{}, campaign.DefaultAvatarHosts...)
	if u, err := url.Parse(c.WeChatAPIBase); err == nil && c.WeChatAPIBase != "" {
		hosts = append(hosts, u.Host)
	}
	for _, o := range c.avatarOrigins {
		if u, err := url.Parse(o); err == nil {
			hosts = append(hosts, u.Host)
		}
	}
	return hosts
}

// fetchAllow lets the image fetcher reach a simulator on a loopback or private address (make
// dev, tests); every other such address stays refused.
func (c *Config) fetchAllow() []string {
	allow := append(append([]string{}, c.avatarOrigins...), c.fetchOrigins...)
	u, err := url.Parse(c.WeChatAPIBase)
	if err != nil || c.WeChatAPIBase == "" {
		return allow
	}
	host := u.Hostname()
	if _, err := netip.ParseAddr(host); err != nil && host != "localhost" {
		return allow // a name: its addresses must be public like any other host's
	}
	return append(allow, c.WeChatAPIBase)
}

// devSimulator is the WeChat simulator make dev runs inside the server process.
type devSimulator struct {
	sim  *sim.Server
	url  string
	demo wechat.Credentials // the demo merchant, sim.DemoMerchant()
	stop func()
}

// startSimulator serves the dev simulator on addr. With a state file it starts from the
// state it left there, if any, and keeps it up to date, so a restart of make dev changes
// nothing a user sees; a fresh simulator gets the demo merchant and two users, one following
// the official account and one not. Notifications retry 60 times faster than WeChat's
// schedule; unopened red packets still take a day (POST /sim/admin/clock to skip).
func startSimulator(addr, stateFile string, log *slog.Logger) (*devSimulator, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("WECHAT_SIM_ADDR: cannot listen on %s: %w", addr, err)
	}
	url := "http://" + ln.Addr().String()
	cfg := sim.Config{NotifyFactor: 60, BaseURL: url, Log: log.With("component", "wechatsim"), StateFile: stateFile}
	s, demo, err := openSimulator(cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("wechat simulator stopped", "err", err)
		}
	}()
	stop := func() {
		s.Close() // ends notification retries and requests held by faults
		// A browser's spare connection (never used) counts as busy for 5 s in net/http:
		// give requests in flight a second, then close whatever is left.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close() //nolint:errcheck // exiting anyway
		}
	}
	return &devSimulator{sim: s, url: url, demo: demo, stop: stop}, nil
}

// openSimulator makes the dev simulator (from cfg.StateFile when there is one) and returns
// it with the demo merchant's credentials.
func openSimulator(cfg sim.Config) (*sim.Server, wechat.Credentials, error) {
	var s *sim.Server
	if cfg.StateFile == "" {
		s = sim.New(cfg)
	} else {
		var err error
		if s, err = sim.Open(cfg); err != nil {
			return nil, wechat.Credentials{}, fmt.Errorf("WECHAT_SIM_STATE: %w", err)
		}
	}
	fail := func(err error) (*sim.Server, wechat.Credentials, error) {
		s.Close()
		return nil, wechat.Credentials{}, err
	}
	demo, err := s.Credentials(sim.DemoMerchant().AppID)
	if err == nil {
		return s, demo, nil // restored: the demo merchant and whatever users were made
	}
	if demo, err = s.AddMerchant(sim.DemoMerchant()); err != nil {
		return fail(err)
	}
	for _, u := range []sim.User{
		{AppID: demo.AppID, Nickname: "张三", Subscribed: true, ClientIP: "113.108.81.189"},
		{AppID: demo.AppID, Nickname: "李四", ClientIP: "123.125.71.38"},
	} {
		if _, err := s.AddUser(u); err != nil {
			return fail(err)
		}
	}
	return s, demo, nil
}

// routes serves the simulator's WeixinJSBridge from Fenxiao's own origin, so H5 pages in dev
// can load /dev/wechatsim.js and pay and share in an ordinary browser. What the bridge itself
// calls — the cashier sheet and its avatars, the address book, the wx.config check, the share
// log — stands in for WeChat's native client, which a page never sees as requests; it is
// proxied through this origin too, so a page in dev or in a test makes no request to another
// origin, as in WeChat.
func (d *devSimulator) routes(r router) {
	r.Get("/dev/wechatsim.js", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
		c.Set(fiber.HeaderCacheControl, "no-cache")
		return c.Send(append([]byte("window.WXSIM_BASE = location.origin;\n"), sim.BridgeJS...))
	})
	// 使用完整服务 in snapshot mode: WeChat opens the page again through OAuth with the real
	// identity. Here the bridge's bar comes to this route, which forgets the snapshot session,
	// so the page signs in afresh on the simulator's authorize page.
	r.Get("/dev/full-service", h5.SignOut)
	target, err := url.Parse(d.url)
	if err != nil {
		panic(err) // d.url is the simulator's own listener address
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := adaptor.HTTPHandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The adaptor's request context is fasthttp's pooled RequestCtx, reused once this
		// handler returns: the outgoing request must not hang off it.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rp.ServeHTTP(w, r.WithContext(ctx))
	})
	r.Get("/pay/cashier", proxy)
	r.Post("/pay/cashier", proxy)
	r.Get("/sim/avatar", proxy)
	r.Get("/sim/address", proxy)
	r.Get("/sim/jsapi/verify", proxy)
	r.Post("/sim/shares", proxy)
}
