package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"fenxiao/campaign"
	"fenxiao/wallet"
	"fenxiao/wechat/sim"
)

// payoutFixture is a running campaign with one signed-in sharer whose vault holds money.
type payoutFixture struct {
	st     *h5Stack
	m      *h5Merchant
	c      *campaign.Campaign
	f      *follower
	sharer int64
	openID string
	page   string // the sharer's commissions page
}

func newPayoutFixture(t *testing.T, st *h5Stack, nick string) *payoutFixture {
	t.Helper()
	m := st.merchant(nick + "的店")
	c := st.campaign(m, 10)
	su, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: nick, Subscribed: true})
	if err != nil {
		t.Fatal(err)
	}
	fx := &payoutFixture{st: st, m: m, c: c, f: newFollower(), openID: su.OpenID, page: fmt.Sprintf("%s/c/%d/commissions", st.base, c.ID)}
	fx.f.signIn(t, st, m, fx.page, su.OpenID)
	if err := st.srv.DB.Get(&fx.sharer, `SELECT id FROM wechat_users WHERE merchant_id = $1 AND openid = $2`, m.id, su.OpenID); err != nil {
		t.Fatal(err)
	}
	return fx
}

var earnSeq int

// earnAndClaim credits the sharer's vault with amount from the campaign's reserve and claims it.
func (fx *payoutFixture) earnAndClaim(t *testing.T, amount string) wallet.Packet {
	t.Helper()
	earnSeq++
	ctx := context.Background()
	if _, err := fx.st.srv.Wallet.EarnCommission(ctx, nil, wallet.Earning{MerchantID: fx.m.id, CampaignID: fx.c.ID, SharerID: fx.sharer,
		Amount: decimal.RequireFromString(amount), Key: fmt.Sprintf("h5-payout-%d", earnSeq)}); err != nil {
		t.Fatal(err)
	}
	res, err := fx.st.srv.Payouts.Claim(ctx, fx.m.id, fx.sharer, fx.openID)
	if err != nil || len(res.Packets) != 1 {
		t.Fatalf("claim: %+v %v", res, err)
	}
	return res.Packets[0]
}

// A sharer whose account WeChat will not pay reads why on their claim records, in words they
// understand, and finds the money back; the merchant is not paused (issue 17, point 4).
func TestH5ClaimRecordsSayWhyAPacketFailed(t *testing.T) {
	st := newH5Stack(t)
	fx := newPayoutFixture(t, st, "未实名")
	if err := st.sim.InjectFault(sim.Fault{Endpoint: "sendredpack", Fault: "NO_AUTH", OpenID: fx.openID}); err != nil {
		t.Fatal(err)
	}
	fx.earnAndClaim(t, "6")
	if _, err := st.srv.Payouts.SendDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, body := fx.f.get(t, fx.page)
	for _, want := range []string{`id="available">6.00<`, ">失败<", "实名认证", "金额已退回可提现余额", "红包未发出，已退回"} {
		if !strings.Contains(body, want) {
			t.Errorf("the claim records lack %q", want)
		}
	}
	if strings.Contains(body, "NO_AUTH") || strings.Contains(body, "wechat:") {
		t.Errorf("the sharer is shown WeChat's technical answer")
	}
	if pr, err := st.srv.Payouts.Problem(context.Background(), fx.m.id); err != nil || pr != nil {
		t.Errorf("one sharer's account paused the merchant: %+v %v", pr, err)
	}
}

// A packet the sharer opened a moment ago shows as received when they open their claim records,
// without waiting for the status job (it showed 已发送待领取 for minutes; issue 17, point 5).
func TestH5ClaimRecordsShowAnOpenedPacketAtOnce(t *testing.T) {
	st := newH5Stack(t)
	fx := newPayoutFixture(t, st, "刚领取")
	pk := fx.earnAndClaim(t, "5")
	if n, err := st.srv.Payouts.SendDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("sent %d (%v)", n, err)
	}
	if _, body := fx.f.get(t, fx.page); !strings.Contains(body, ">已发送待领取<") {
		t.Fatalf("the sent packet is not shown as sent:\n%s", body)
	}
	if err := st.sim.OpenPacket(fx.m.creds.MchID, pk.BillNo); err != nil {
		t.Fatal(err)
	}
	// The page's own refresh of this packet waits 30 s after the last one: move the sharer's
	// last look back rather than the clock.
	if _, err := st.srv.DB.Exec(`UPDATE packets SET checked_at = checked_at - interval '31 seconds' WHERE merchant_id = $1`, fx.m.id); err != nil {
		t.Fatal(err)
	}
	if _, body := fx.f.get(t, fx.page); !strings.Contains(body, ">已领取<") {
		t.Errorf("the opened packet is not shown as received:\n%s", body)
	}
}

// Red packets carry the server's public address from PAYOUT_CLIENT_IP as client_ip, not
// 127.0.0.1 (issue 17, point 6): the simulator records what it was sent.
func TestRedPacketsCarryTheConfiguredClientIP(t *testing.T) {
	st := newH5StackWith(t, func(c *Config) { c.PayoutClientIP = "203.0.113.7" })
	fx := newPayoutFixture(t, st, "公网地址")
	pk := fx.earnAndClaim(t, "5")
	if n, err := st.srv.Payouts.SendDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("sent %d (%v)", n, err)
	}
	for _, p := range st.sim.Ledger().Packets {
		if p.MchID == fx.m.creds.MchID && p.BillNo == pk.BillNo {
			if p.ClientIP != "203.0.113.7" {
				t.Fatalf("sendredpack carried client_ip %q, want PAYOUT_CLIENT_IP's 203.0.113.7", p.ClientIP)
			}
			return
		}
	}
	t.Fatalf("packet %s never reached WeChat", pk.BillNo)
}
