package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"fenxiao/campaign"
	"fenxiao/migrations/dbtest"
	"fenxiao/wallet"
	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// The URLs WeChat calls, over real HTTP: the simulator pays an order and its notification
// reaches /wechat/pay/{merchant}/notify; a forged one is answered FAIL; scanning a follow QR
// pushes the event to /wechat/oa/{merchant}, which binds the sharer.
func TestWeChatEndpoints(t *testing.T) {
	ctx := context.Background()
	srv, _ := startStack(t, nil)
	s, _ := testSim()
	cfg := srv.cfg

	svc := srv.Campaign
	m, err := srv.Merchants.CreateMerchant(ctx, "端点测试")
	if err != nil {
		t.Fatal(err)
	}
	creds, err := s.AddMerchant(sim.MerchantConfig{CallbackURL: fmt.Sprintf("%s/wechat/oa/%d", cfg.BaseURL, m)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Merchants.SetWeChat(ctx, m, creds); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Wallet.TopUpAssets(ctx, nil, m, decimal.NewFromInt(100), "funds", ""); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c, err := svc.Create(ctx, m, campaign.Settings{Title: "端点", StartsAt: now.Add(-time.Hour), EndsAt: now.Add(time.Hour),
		Commission: decimal.NewFromInt(1), ProductName: "茶", Price: decimal.NewFromInt(9), FansOnly: true}, 5)
	if err != nil {
		t.Fatal(err)
	}
	if c, err = svc.Publish(ctx, m, c.ID); err != nil {
		t.Fatal(err)
	}
	signIn := func(name string, subscribed bool) *campaign.User {
		su, err := s.AddUser(sim.User{AppID: creds.AppID, Nickname: name, Subscribed: subscribed})
		if err != nil {
			t.Fatal(err)
		}
		u, err := svc.SignIn(ctx, m, wechat.OAuthToken{OpenID: su.OpenID}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	sharer, buyer := signIn("分享者", true), signIn("新朋友", false)

	// Follow through the campaign's QR: the callback binds buyer to sharer and replies with the link.
	g, err := svc.Enter(ctx, c, buyer, "", sharer.ID)
	if err != nil || g.FollowQR == nil {
		t.Fatalf("gate: %+v %v", g, err)
	}
	reply, err := s.Scan(g.FollowQR.Ticket, buyer.OpenID)
	if err != nil || !strings.Contains(reply, svc.ShareURL(c.ID, sharer.ID)) {
		t.Fatalf("OA callback reply %q, %v", reply, err)
	}

	co, err := svc.CreateOrder(ctx, c.ID, buyer, 2, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Pay(strings.TrimPrefix(co.Pay.Package, "prepay_id="), buyer.OpenID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		o, err := svc.Order(ctx, m, co.Order.ID)
		if err != nil {
			t.Fatal(err)
		}
		if o.Status == campaign.Paid {
			if o.SharerID == nil || *o.SharerID != sharer.ID {
				t.Fatalf("paid order credits %v, want the sharer of the follow QR", o.SharerID)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the payment notification never landed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	forged, err := s.SendPayNotify(creds.MchID, co.Order.OutTradeNo, sim.NotifyOptions{Forged: true})
	if err != nil || len(forged) != 1 || !strings.Contains(forged[0], "FAIL") {
		t.Fatalf("forged notification: %q %v", forged, err)
	}
	dup, err := s.SendPayNotify(creds.MchID, co.Order.OutTradeNo, sim.NotifyOptions{Times: 2})
	if err != nil || len(dup) != 2 || !strings.Contains(dup[1], "SUCCESS") {
		t.Fatalf("duplicate notification: %q %v", dup, err)
	}
	if _, err := svc.Refund(ctx, m, co.Order.ID, "测试退款"); err != nil {
		t.Fatal(err)
	}
}

// WeChat's day is China's whatever TIME_ZONE says: at 16:30 UTC it is already tomorrow in
// Beijing, so a packet claimed then carries tomorrow's date in its bill number, and the ten
// packets the sharer got yesterday (Beijing) do not hold it back.
func TestRedPacketDayIsChinas(t *testing.T) {
	ctx := context.Background()
	_, simURL := testSim()
	key, _ := hex.DecodeString(testSecret)
	at := time.Date(2026, 12, 1, 16, 30, 0, 0, time.UTC) // 2026-12-02 00:30 in Beijing
	cfg := &Config{BaseURL: "http://127.0.0.1:1", SecretKey: key, WeChatAPIBase: simURL, TimeZone: time.UTC,
		now: func() time.Time { return at }}
	db := dbtest.DB(t)
	srv, err := newServer(cfg, db, newLogger(io.Discard, 0))
	if err != nil {
		t.Fatal(err)
	}
	m, err := srv.Merchants.CreateMerchant(ctx, "中国时间")
	if err != nil {
		t.Fatal(err)
	}
	u, err := srv.Campaign.SignIn(ctx, m, wechat.OAuthToken{OpenID: "o-china-day"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Wallet.TopUpAssets(ctx, nil, m, decimal.NewFromInt(100), "funds", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Wallet.FreezeReserve(ctx, nil, m, 1, decimal.NewFromInt(50), "freeze"); err != nil {
		t.Fatal(err)
	}
	// Ten packets went out at 23:00 Beijing yesterday (15:00 UTC): the day's count is used up.
	for i := range 10 {
		db.MustExec(`INSERT INTO packets (merchant_id, sharer_id, openid, bill_no, amount, status, send_after, next_at, sent_at, created_at)
VALUES ($1, $2, 'o-china-day', $3, 1, 'received', $4, $4, $4, $4)`, m, u.ID, fmt.Sprintf("FX20261201%010d", 900+i), at.Add(-90*time.Minute))
	}
	if _, err := srv.Wallet.EarnCommission(ctx, nil, wallet.Earning{MerchantID: m, CampaignID: 1, SharerID: u.ID,
		Amount: decimal.NewFromInt(5), Key: "earn"}); err != nil {
		t.Fatal(err)
	}
	res, err := srv.Payouts.Claim(ctx, m, u.ID, u.OpenID)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Packets) != 1 || !strings.HasPrefix(res.Packets[0].BillNo, "FX20261202") {
		t.Fatalf("bill numbers %+v: want Beijing's date 20261202", res.Packets)
	}
	if res.Queued != 0 || res.Packets[0].SendAfter.After(at) {
		t.Fatalf("the packet waits until %s (queued %d): yesterday's packets counted against today", res.Packets[0].SendAfter, res.Queued)
	}
}
