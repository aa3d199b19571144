package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"fenxiao/campaign"
	"fenxiao/wechat/sim"
)

// When WeChat Pay refuses to open the payment (unifiedorder), the buyer is told what to do in
// their own words and the units go back at once. Before, every refusal was a 500 with
// 服务器出错了 and an error in the log: a WeChat outage (SYSTEMERROR) looked like our bug, and
// a buyer whose openid is not the official account's (OPENID_MISMATCH: they signed in before
// the merchant changed its AppID) was told to try again later, forever. The words never claim
// a cancellation: asked again for a buyer's unpaid order, a refusal leaves that order as it is.
func TestH5PrepayRefusedSaysWhy(t *testing.T) {
	st := newH5Stack(t)
	m := st.merchant("预付被拒")
	c := st.campaign(m, 5)
	su, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: "买家", Subscribed: true})
	if err != nil {
		t.Fatal(err)
	}
	f := newFollower()
	f.signIn(t, st, m, fmt.Sprintf("%s/c/%d", st.base, c.ID), su.OpenID)
	for _, tc := range []struct {
		fault  string
		status int
		says   string
	}{
		{"SYSTEMERROR", http.StatusServiceUnavailable, "微信支付暂时不可用"},
		{"OPENID_MISMATCH", http.StatusConflict, "从公众号重新进入"},
	} {
		if err := st.sim.InjectFault(sim.Fault{Endpoint: "unifiedorder", Fault: tc.fault, Merchant: m.creds.MchID}); err != nil {
			t.Fatal(err)
		}
		status, a := f.order(t, st, c, `{"qty":2}`)
		if status != tc.status || !strings.Contains(a.Error, tc.says) {
			t.Errorf("%s: %d %q, want %d saying %q", tc.fault, status, a.Error, tc.status, tc.says)
		}
		camp, err := st.srv.Campaign.Public(context.Background(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if camp.Left() != 5 {
			t.Errorf("%s: %d units left after the refused prepay, want all 5 back", tc.fault, camp.Left())
		}
	}
	// WeChat answers again: the same buyer orders.
	status, first := f.order(t, st, c, `{"qty":2}`)
	if status != http.StatusOK || first.OrderID == 0 {
		t.Fatalf("order once WeChat answers: %d %+v", status, first)
	}
	// Buying again asks WeChat for the same unpaid order; paid meanwhile (ORDERPAID), the buyer
	// is sent to their orders, not told it was cancelled: nothing cancelled it.
	if err := st.sim.InjectFault(sim.Fault{Endpoint: "unifiedorder", Fault: "ORDERPAID", Merchant: m.creds.MchID}); err != nil {
		t.Fatal(err)
	}
	status, again := f.order(t, st, c, `{"qty":1}`)
	if status != http.StatusConflict || !strings.Contains(again.Error, "已经支付") || strings.Contains(again.Error, "取消") {
		t.Errorf("the unpaid order asked again, paid meanwhile: %d %q", status, again.Error)
	}
	if o, err := st.srv.Campaign.Order(context.Background(), m.id, first.OrderID); err != nil || o.Status != campaign.Pending {
		t.Errorf("the buyer's order after the answer: %+v %v, want it still pending until WeChat's notification", o, err)
	}
}
