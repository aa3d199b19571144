package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"fenxiao/campaign"
	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// A buyer pays after their order was closed and the last unit went to someone else: the
// console's order list and the order's page show 超卖退款 with what happened and what to do,
// and then that the refund went through.
func TestConsoleShowsAnOversoldOrder(t *testing.T) {
	srv, base := startStack(t, nil)
	ctx := context.Background()
	b, m := signUp(t, srv, base, "超卖店")
	c, _, creds := merchantSetup(t, srv, m, 2) // one of two units sold
	s, _ := testSim()
	buyer := func(name string) (*campaign.User, sim.User) {
		su, err := s.AddUser(sim.User{AppID: creds.AppID, Nickname: name})
		if err != nil {
			t.Fatal(err)
		}
		u, err := srv.Campaign.SignIn(ctx, m, wechat.OAuthToken{OpenID: su.OpenID}, &wechat.User{OpenID: su.OpenID, Nickname: name})
		if err != nil {
			t.Fatal(err)
		}
		return u, su
	}
	lateU, lateS := buyer("迟付")
	late, err := srv.Campaign.CreateOrder(ctx, c.ID, lateU, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	// Its timeout passes (the test moves the order back in time) and the expiry job closes it.
	srv.DB.MustExec(`UPDATE orders SET created_at = now() - interval '20 minutes', expires_at = now() - interval '5 minutes' WHERE id = $1`, late.Order.ID)
	if _, err := srv.Campaign.CloseExpired(ctx); err != nil {
		t.Fatal(err)
	}
	otherU, _ := buyer("抢到")
	buyThrough(t, srv, s, creds, c, otherU) // the last unit
	if err := s.PayLate(strings.TrimPrefix(late.Pay.Package, "prepay_id="), lateS.OpenID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		o, err := srv.Campaign.Order(ctx, m, late.Order.ID)
		if err != nil {
			t.Fatal(err)
		}
		if o.Status == campaign.Oversold {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the late payment left the order %s", o.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, list := b.get("/console/orders")
	if !strings.Contains(list, "超卖退款") || !strings.Contains(list, "正在自动原路退款") {
		t.Fatalf("the order list does not show the oversold order:\n%s", list)
	}
	page := fmt.Sprintf("/console/orders/%d", late.Order.ID)
	if _, body := b.get(page); !strings.Contains(body, `id="order-notice"`) || !strings.Contains(body, "库存已售完") {
		t.Fatalf("the order page does not explain it:\n%s", body)
	}
	if n, err := srv.Campaign.RefundOversold(ctx); err != nil || n != 1 {
		t.Fatalf("refunded %d oversold orders (%v)", n, err)
	}
	if _, body := b.get(page); !strings.Contains(body, "已自动原路退款") || !strings.Contains(body, "自动退款 ") {
		t.Fatalf("the order page does not show the refund:\n%s", body)
	}
}
