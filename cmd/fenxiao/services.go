package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jmoiron/sqlx"
	"github.com/robfig/cron/v3"

	"fenxiao/campaign"
	"fenxiao/campaign/merchant"
	"fenxiao/campaign/region"
	"fenxiao/wallet"
	"fenxiao/wechat"
)

// newServer wires the services on one database.
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
	return &server{cfg: cfg, db: db, log: log, wallet: w, merchants: m, campaign: c, payouts: payouts}, nil
}

// wechatRoutes are the URLs WeChat calls: payment and refund notifications, and the official
// account's message callback. Each carries the merchant id, since each merchant signs with its
// own keys. Anyone can call them, so their bodies are bounded far below the server's 8 MB.
func (s *server) wechatRoutes(r router) {
	limit := limitBody(wechatBodyLimit)
	r.Post("/wechat/pay/:merchant<int>/notify", limit, s.payNotify)
	r.Post("/wechat/pay/:merchant<int>/refund", limit, s.refundNotify)
	r.Get("/wechat/oa/:merchant<int>", limit, s.oaCallback)
	r.Post("/wechat/oa/:merchant<int>", limit, s.oaCallback)
}

// wechatBodyLimit bounds what WeChat sends (payment, refund and top-up notifications, OA
// pushes): a few KB in practice.
const wechatBodyLimit = wechat.MaxCallbackBody

// limitBody answers 413 before any parsing when a request body is over n bytes, declared
// (Content-Length) or actual (chunked).
func limitBody(n int) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if c.Request().Header.ContentLength() > n || len(c.Request().Body()) > n {
			return c.Status(fiber.StatusRequestEntityTooLarge).SendString("请求体过大")
		}
		return c.Next()
	}
}

// payNotify answers WeChat Pay's notification: SUCCESS once recorded (duplicates included),
// FAIL when it does not verify or the database is down, so WeChat retries only what might
// succeed later.
func (s *server) payNotify(c *fiber.Ctx) error {
	m, _ := c.ParamsInt("merchant")
	err := s.campaign.HandlePayNotify(c.UserContext(), int64(m), c.Body())
	return s.notifyReply(c, int64(m), "payment", err)
}

func (s *server) refundNotify(c *fiber.Ctx) error {
	m, _ := c.ParamsInt("merchant")
	err := s.campaign.HandleRefundNotify(c.UserContext(), int64(m), c.Body())
	return s.notifyReply(c, int64(m), "refund", err)
}

func (s *server) notifyReply(c *fiber.Ctx, merchantID int64, what string, err error) error {
	c.Set(fiber.HeaderContentType, "text/xml; charset=utf-8")
	if err != nil {
		s.log.Warn(what+" notification refused", "merchant_id", merchantID, "err", err,
			"request_id", c.GetRespHeader(fiber.HeaderXRequestID))
		return c.Send(wechat.NotifyReply(false, "refused"))
	}
	return c.Send(wechat.NotifyReply(true, "OK"))
}

// oaCallback answers the official account's callback: the URL check, and pushes whose
// events the campaign engine handles once. A push that does not verify (signature, age,
// message mode, a replay with another body) is 403, an unreadable one 400; a database error is
// 500 so that WeChat retries.
func (s *server) oaCallback(c *fiber.Ctx) error {
	m, _ := c.ParamsInt("merchant")
	q := url.Values{}
	c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) { q.Add(string(k), string(v)) })
	reply, err := s.campaign.HandleOACallback(c.UserContext(), int64(m), q, c.Body())
	status, msg := fiber.StatusOK, ""
	switch {
	case err == nil:
		if bytes.HasPrefix(reply, []byte("<xml")) {
			c.Set(fiber.HeaderContentType, "text/xml; charset=utf-8")
		}
		return c.Send(reply)
	case errors.Is(err, campaign.ErrNoWeChat):
		status, msg = fiber.StatusNotFound, "商家未配置公众号"
	case errors.Is(err, wechat.ErrMalformed):
		status, msg = fiber.StatusBadRequest, "消息格式错误"
	case errors.Is(err, wechat.ErrSignature), errors.Is(err, wechat.ErrStale), errors.Is(err, wechat.ErrPlaintext),
		errors.Is(err, campaign.ErrReplayed):
		status, msg = fiber.StatusForbidden, "消息校验失败"
	default:
		return err
	}
	s.log.Warn("OA callback refused", "merchant_id", m, "status", status, "err", err,
		"request_id", c.GetRespHeader(fiber.HeaderXRequestID))
	return c.Status(status).SendString(msg)
}

// schedule registers the background jobs. Each is safe when several replicas run it at once.
func (s *server) schedule(ctx context.Context, c *cron.Cron) {
	job := func(name string, timeout time.Duration, fn func(context.Context) (int, error)) func() {
		return func() {
			jctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			n, err := fn(jctx)
			if err != nil {
				s.log.Error("job failed", "job", name, "err", err)
				return
			}
			if n > 0 {
				s.log.Info("job done", "job", name, "rows", n)
			}
		}
	}
	add := func(spec string, f func()) {
		if _, err := c.AddFunc(spec, f); err != nil {
			panic(err) // the specs are constants: a bad one is a programming error
		}
	}
	add("@every 30s", job("close expired orders", time.Minute, s.campaign.CloseExpired))
	add("@every 1m", job("query unpaid orders", time.Minute, s.campaign.QueryUnpaid))
	add("@every 1m", job("refund oversold orders", time.Minute, s.campaign.RefundOversold))
	add("@every 1m", job("release ended campaigns", 2*time.Minute, s.campaign.ReleaseEnded))
	add("@every 10m", job("settle held commissions", 5*time.Minute, s.campaign.SettleHeld))
	add("@every 10m", job("complete shipped orders nobody confirmed", 5*time.Minute, s.campaign.AutoComplete))
	add("@every 5m", job("check paid orders for platform refunds", 4*time.Minute, s.campaign.SyncRefunds))
	add("@every 5s", job("send red packets", 10*time.Minute, s.payouts.SendDue))
	// Often: a fresh packet is first asked about 30 s after sending (wallet.PayoutConfig.FirstCheck).
	add("@every 10s", job("sync red-packet statuses", 5*time.Minute, s.payouts.SyncSent))
	add("@every 30s", job("send notifications", 2*time.Minute, s.payouts.SendNotifications))
	add("@every 1h", job("delete expired follower sessions", 5*time.Minute, s.campaign.DeleteExpiredSessions))
	add("@every 1m", job("query pending top-ups", time.Minute, s.merchants.QueryTopUps))
	add("@every 10m", job("purge OA callback replay records", time.Minute, s.campaign.PurgeOACallbacks))
	add("@every 1h", job("purge console sessions and log-in attempts", 5*time.Minute, s.merchants.PurgeConsole))
	add("@every 10m", job("purge ended rate-limit windows", time.Minute, s.campaign.PurgeRateWindows))
}
