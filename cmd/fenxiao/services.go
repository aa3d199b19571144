package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/robfig/cron/v3"

	"fenxiao/campaign"
	"fenxiao/campaign/merchant"
	"fenxiao/campaign/region"
	"fenxiao/cmd/fenxiao/console"
	"fenxiao/cmd/fenxiao/h5"
	"fenxiao/cmd/fenxiao/web"
	"fenxiao/wallet"
)

// newServer wires the services on one database, and the handlers over them.
func newServer(cfg *Config, db *sqlx.DB, log *slog.Logger) (*server, error) {
	regions, err := region.Load()
	if err != nil {
		return nil, err
	}
	w := wallet.NewService(db)
	m, err := merchant.NewService(merchant.Config{
		DB: db, Wallet: w, Secret: cfg.SecretKey, BaseURL: cfg.BaseURL, WeChat: cfg.wechatOptions(), Log: log, Now: cfg.now,
		FetchAllow: cfg.fetchAllow(),
	})
	if err != nil {
		return nil, err
	}
	c, err := campaign.NewService(campaign.Config{
		DB: db, Wallet: w, Merchants: m, Regions: regions, Secret: cfg.SecretKey, BaseURL: cfg.BaseURL, Log: log, Now: cfg.now,
		AvatarHosts: cfg.avatarHosts(), PosterDraws: cfg.PosterDraws, PosterWait: cfg.posterWait,
		SnapshotEvery: cfg.snapshotEvery, SessionReuse: cfg.sessionReuse,
	})
	if err != nil {
		return nil, err
	}
	payouts := wallet.NewPayouts(db, w, wallet.PayoutConfig{
		Clients: func(ctx context.Context, merchantID int64) (wallet.RedPackets, error) {
			return m.WeChatFor(ctx, merchantID)
		},
		ServerIP: cfg.payoutClientIP(),
		Now:      cfg.now,
		Log:      log,
	})
	base := &web.Base{
		Cfg: web.Config{
			BaseURL: cfg.BaseURL, SecretKey: cfg.SecretKey, TimeZone: cfg.TimeZone, TrustedProxies: cfg.TrustedProxies,
			WeChatAPIBase: cfg.WeChatAPIBase, PayoutIP: cfg.payoutClientIP(),
		},
		DB: db, Log: log, Wallet: w, Merchants: m, Campaign: c, Payouts: payouts,
	}
	return &server{Base: base, cfg: cfg, h5: h5.New(base), console: console.New(base)}, nil
}

// schedule registers the background jobs. Each is safe when several replicas run it at once.
func (s *server) schedule(ctx context.Context, c *cron.Cron) {
	job := func(name string, timeout time.Duration, fn func(context.Context) (int, error)) func() {
		return func() {
			jctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			n, err := fn(jctx)
			if err != nil {
				s.Log.Error("job failed", "job", name, "err", err)
				return
			}
			if n > 0 {
				s.Log.Info("job done", "job", name, "rows", n)
			}
		}
	}
	add := func(spec string, f func()) {
		if _, err := c.AddFunc(spec, f); err != nil {
			panic(err) // the specs are constants: a bad one is a programming error
		}
	}
	add("@every 30s", job("close expired orders", time.Minute, s.Campaign.CloseExpired))
	add("@every 1m", job("query unpaid orders", time.Minute, s.Campaign.QueryUnpaid))
	add("@every 1m", job("refund oversold orders", time.Minute, s.Campaign.RefundOversold))
	add("@every 1m", job("release ended campaigns", 2*time.Minute, s.Campaign.ReleaseEnded))
	add("@every 10m", job("settle held commissions", 5*time.Minute, s.Campaign.SettleHeld))
	add("@every 10m", job("complete shipped orders nobody confirmed", 5*time.Minute, s.Campaign.AutoComplete))
	add("@every 5m", job("check paid orders for platform refunds", 4*time.Minute, s.Campaign.SyncRefunds))
	add("@every 5s", job("send red packets", 10*time.Minute, s.Payouts.SendDue))
	// Often: a fresh packet is first asked about 30 s after sending (wallet.PayoutConfig.FirstCheck).
	add("@every 10s", job("sync red-packet statuses", 5*time.Minute, s.Payouts.SyncSent))
	add("@every 30s", job("send notifications", 2*time.Minute, s.Payouts.SendNotifications))
	add("@every 1h", job("delete expired follower sessions", 5*time.Minute, s.Campaign.DeleteExpiredSessions))
	add("@every 1m", job("query pending top-ups", time.Minute, s.Merchants.QueryTopUps))
	add("@every 10m", job("purge OA callback replay records", time.Minute, s.Campaign.PurgeOACallbacks))
	add("@every 1h", job("purge console sessions and log-in attempts", 5*time.Minute, s.Merchants.PurgeConsole))
	add("@every 10m", job("purge ended rate-limit windows", time.Minute, s.Campaign.PurgeRateWindows))
	add("@every 1h", job("purge old notifications", 10*time.Minute, s.Campaign.PurgeNotifications))
}
