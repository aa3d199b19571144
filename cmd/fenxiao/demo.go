package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/shopspring/decimal"

	"fenxiao/campaign"
	"fenxiao/wechat"
)

// demoAssets is what the demo merchant starts with.
var demoAssets = decimal.NewFromInt(1000)

// The demo merchant's console login, printed by make dev. Dev only.
const (
	demoEmail    = "demo@fenxiao.dev"
	demoPassword = "fenxiao-demo"
)

// seedDemo makes sure the database has the demo merchant, with the simulator's demo
// credentials, 1,000 yuan of red-packet assets and a running campaign. It runs at every
// make dev and changes nothing the second time (the credentials are written again: a
// simulator without a state file makes a new client certificate at each start).
func seedDemo(ctx context.Context, srv *server, creds wechat.Credentials, log *slog.Logger) (merchantID, campaignID int64, err error) {
	merchants := srv.Merchants
	merchantID, err = merchants.MerchantByAppID(ctx, creds.AppID)
	if err != nil {
		if merchantID, err = merchants.CreateMerchant(ctx, "分销宝演示店"); err != nil {
			return 0, 0, err
		}
		log.Info("demo merchant created", "merchant_id", merchantID)
	}
	if err := merchants.SetWeChat(ctx, merchantID, creds); err != nil {
		return 0, 0, fmt.Errorf("demo WeChat settings: %w", err)
	}
	if err := merchants.EnsureAccount(ctx, merchantID, demoEmail, demoPassword); err != nil {
		return 0, 0, err
	}
	if _, err := srv.Wallet.TopUpAssets(ctx, nil, merchantID, demoAssets, "demo:topup", "demo"); err != nil {
		return 0, 0, err
	}
	svc := srv.Campaign
	list, err := svc.List(ctx, merchantID)
	if err != nil {
		return 0, 0, err
	}
	if len(list) > 0 {
		return merchantID, list[len(list)-1].ID, nil
	}
	now := time.Now()
	c, err := svc.Create(ctx, merchantID, campaign.Settings{
		Title:            "明前龙井 · 分享赚",
		StartsAt:         now.Add(-time.Hour),
		EndsAt:           now.AddDate(0, 1, 0),
		ShowParticipants: true,
		OrderTicker:      true,
		Commission:       decimal.NewFromInt(5),
		ProductName:      "西湖明前龙井 250g 礼盒",
		Price:            decimal.NewFromInt(68),
		Description:      "今年头采，手工炒制。每分享一位好友购买，你得 5 元红包。",
		MaxPerOrder:      5,
		PosterEnabled:    true,
	}, 100)
	if err != nil {
		return 0, 0, err
	}
	if _, err := svc.Publish(ctx, merchantID, c.ID); err != nil {
		return 0, 0, err
	}
	log.Info("demo campaign published", "merchant_id", merchantID, "campaign_id", c.ID)
	return merchantID, c.ID, nil
}
