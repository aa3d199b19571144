package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
)

// cmdDev is what "make dev" runs: migrate, then serve, printing one line per entry point once
// the server listens. Unless WECHAT_API_BASE points elsewhere, a WeChat simulator runs in the
// same process on WECHAT_SIM_ADDR and the SDK talks to it. Ctrl-C stops it like serve.
func cmdDev(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	cfg, code := parseConfig(fs, args, stderr, "db", "addr", "base-url", "secret", "tz", "log", "wxapi", "posters", "wxsim", "wxstate", "proxies", "payip")
	if cfg == nil {
		return code
	}
	cfg.Migrate = true
	var h *hooks
	simURL, campaignURL := cfg.WeChatAPIBase, ""
	if cfg.WeChatAPIBase == "" {
		ws, err := startSimulator(cfg.WeChatSimAddr, cfg.WeChatSimState, newLogger(stderr, cfg.LogLevel))
		if err != nil {
			fmt.Fprintf(stderr, "fenxiao dev: %v\n", err)
			return exitFailed
		}
		defer ws.stop()
		cfg.WeChatAPIBase, simURL = ws.url, ws.url+"/sim/"
		h = &hooks{routes: ws.routes, ready: func(ctx context.Context, srv *server) error {
			srv.SimIP = ws.sim.ClientIP // region gates use the IP chosen on the authorize page
			demoMerchant, demoCampaign, err := seedDemo(ctx, srv, ws.demo, srv.Log)
			if err != nil {
				return err
			}
			campaignURL = srv.Campaign.CampaignURL(demoCampaign)
			return ws.connectDemo(ctx, srv, demoMerchant)
		}}
	}
	return serve(ctx, cfg, stdout, stderr, h, func(addr string) {
		fmt.Fprintf(stdout, "\nFenxiao is running (Ctrl-C stops it):\n")
		fmt.Fprintf(stdout, "home: %s/\n", cfg.BaseURL)
		fmt.Fprintf(stdout, "health: %s/healthz\n", cfg.BaseURL)
		fmt.Fprintf(stdout, "database: %s\n", redactURL(cfg.DatabaseURL))
		fmt.Fprintf(stdout, "simulator: %s\n", simURL)
		if campaignURL != "" {
			fmt.Fprintf(stdout, "campaign: %s\n", campaignURL)
		}
		fmt.Fprintf(stdout, "console: %s/console/\n", cfg.BaseURL)
		if campaignURL != "" {
			fmt.Fprintf(stdout, "console login: %s / %s\n", demoEmail, demoPassword)
		}
	})
}

// redactURL hides a password in a connection URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return u.Redacted()
}

// connectDemo points the demo official account's server configuration (服务器地址) at
// Fenxiao, as a merchant does in WeChat's backend, so following through a fans-only
// campaign's QR code reaches Fenxiao. A URL someone entered on the simulator's merchant page
// stays.
func (d *devSimulator) connectDemo(ctx context.Context, srv *server, merchantID int64) error {
	for _, m := range d.sim.Merchants() {
		if m.AppID == d.demo.AppID && m.CallbackURL != "" {
			return nil
		}
	}
	info, err := srv.Merchants.WeChatInfo(ctx, merchantID)
	if err != nil {
		return err
	}
	return d.sim.SetCallbackURL(d.demo.AppID, info.CallbackURL)
}
