package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"fenxiao/campaign"
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

	svc := srv.campaign
	m, err := svc.CreateMerchant(ctx, "端点测试")
	if err != nil {
		t.Fatal(err)
	}
	creds, err := s.AddMerchant(sim.MerchantConfig{CallbackURL: fmt.Sprintf("%s/wechat/oa/%d", cfg.BaseURL, m)})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.SetWeChat(ctx, m, creds); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.wallet.TopUpAssets(ctx, nil, m, decimal.NewFromInt(100), "funds", ""); err != nil {
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
