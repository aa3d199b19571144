package wechat_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

func packet(billNo, openID string, fen int64) wechat.RedPacket {
	return wechat.RedPacket{BillNo: billNo, OpenID: openID, AmountFen: fen, SendName: "分销宝", Wishing: "恭喜发财",
		ActName: "分享赚佣金", Remark: "佣金提现", ClientIP: "10.0.0.1"}
}

func TestRedPacketSendOpenQueryRefund(t *testing.T) {
	c, creds := newClient(t)
	u := newUser(t, creds.AppID, true)
	res, err := c.SendRedPacket(ctx(t), packet("rp1", u.OpenID, 1500))
	if err != nil || res.SendListID == "" {
		t.Fatalf("send: %+v %v", res, err)
	}
	info, err := c.RedPacketInfo(ctx(t), "rp1")
	if err != nil || info.Status != wechat.PacketSent || info.AmountFen != 1500 || info.OpenID != u.OpenID || info.DetailID != res.SendListID || info.SentAt.IsZero() {
		t.Fatalf("info: %+v %v", info, err)
	}

	// The inbox page shows it; opening it makes it RECEIVED.
	_, page := get(t, simURL+"/sim/inbox?appid="+creds.AppID+"&openid="+u.OpenID)
	contains(t, page, "恭喜发财", "拆红包")
	resp, _ := postForm(t, simURL+"/sim/inbox/open", url.Values{"appid": {creds.AppID}, "openid": {u.OpenID}, "mch_id": {creds.MchID}, "mch_billno": {"rp1"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("open: %d", resp.StatusCode)
	}
	_, page = get(t, simURL+resp.Header.Get("Location"))
	contains(t, page, "15.00", "已存入零钱")
	info, err = c.RedPacketInfo(ctx(t), "rp1")
	if err != nil || info.Status != wechat.PacketReceived || info.ReceivedAt.IsZero() {
		t.Fatalf("after opening: %+v %v", info, err)
	}

	// Unopened for a day: refunded to the merchant.
	before, _ := simulator.Balance(creds.MchID)
	if _, err := c.SendRedPacket(ctx(t), packet("rp2", u.OpenID, 200)); err != nil {
		t.Fatal(err)
	}
	simulator.Advance(24*time.Hour + time.Second)
	info, err = c.RedPacketInfo(ctx(t), "rp2")
	if err != nil || info.Status != wechat.PacketRefunded || info.RefundFen != 200 || info.RefundedAt.IsZero() {
		t.Fatalf("after a day: %+v %v", info, err)
	}
	if after, _ := simulator.Balance(creds.MchID); after != before {
		t.Fatalf("balance %d, want %d back", after, before)
	}

	_, err = c.RedPacketInfo(ctx(t), "never")
	wantKind(t, err, wechat.KindNotFound)
}

// Acceptance 3: the same bill number sent three times, once after a timeout, pays once.
func TestSameBillNoThreeTimesPaysOnce(t *testing.T) {
	c, creds := newClient(t, func(o *wechat.Options) { o.Timeout = 500 * time.Millisecond })
	u := newUser(t, creds.AppID, true)
	if err := simulator.InjectFault(sim.Fault{Endpoint: "sendredpack", Fault: sim.FaultTimeout, Merchant: creds.MchID}); err != nil {
		t.Fatal(err)
	}
	p := packet("same3", u.OpenID, 888)
	_, err := c.SendRedPacket(ctx(t), p)
	wantKind(t, err, wechat.KindUnknown) // timed out: the outcome is unknown
	first, err := c.SendRedPacket(ctx(t), p)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.SendRedPacket(ctx(t), p)
	if err != nil || second != first {
		t.Fatalf("third send %+v %v, want %+v", second, err, first)
	}

	resp, err := http.Get(simURL + "/sim/admin/ledger")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var l sim.Ledger
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		t.Fatal(err)
	}
	var paid []sim.Packet
	for _, p := range l.Packets {
		if p.MchID == creds.MchID {
			paid = append(paid, p)
		}
	}
	if len(paid) != 1 || paid[0].BillNo != "same3" || paid[0].AmountFen != 888 || paid[0].Sends != 3 || paid[0].SendListID != first.SendListID {
		t.Fatalf("ledger %+v", paid)
	}

	p.AmountFen = 999
	_, err = c.SendRedPacket(ctx(t), p)
	wantKind(t, err, wechat.KindConfig) // FATAL_ERROR: a replay must be identical
}

// Acceptance 4: every class of answer is classified, through the simulator.
func TestRedPacketErrorClasses(t *testing.T) {
	c, creds := newClient(t, func(o *wechat.Options) { o.Timeout = 500 * time.Millisecond })
	u := newUser(t, creds.AppID, true)
	cases := []struct {
		fault string
		want  wechat.Kind
	}{
		{"SYSTEMERROR", wechat.KindUnknown},
		{"PROCESSING", wechat.KindUnknown},
		{sim.FaultTimeout, wechat.KindUnknown},
		{sim.FaultDrop, wechat.KindUnknown},
		{"SOMETHING_NEW", wechat.KindUnknown},
		{"FREQ_LIMIT", wechat.KindRateLimited},
		{"SECOND_OVER_LIMITED", wechat.KindRateLimited},
		{"DAY_OVER_LIMITED", wechat.KindRateLimited},
		{"NOTENOUGH", wechat.KindNotEnough},
		{"SENDNUM_LIMIT", wechat.KindUserDailyLimit},
		{"SEND_FAILED", wechat.KindFailed},
		{"NO_AUTH", wechat.KindFailed},
		{"CA_ERROR", wechat.KindConfig},
		{"SIGN_ERROR", wechat.KindConfig},
		{"PARAM_ERROR", wechat.KindConfig},
		{"MONEY_LIMIT", wechat.KindConfig},
		{"FATAL_ERROR", wechat.KindConfig},
	}
	for i, tc := range cases {
		t.Run(tc.fault, func(t *testing.T) {
			if err := simulator.InjectFault(sim.Fault{Endpoint: "sendredpack", Fault: tc.fault, Merchant: creds.MchID}); err != nil {
				t.Fatal(err)
			}
			_, err := c.SendRedPacket(ctx(t), packet(fmt.Sprintf("cls%d", i), u.OpenID, 100))
			wantKind(t, err, tc.want)
		})
	}
	if err := simulator.InjectFault(sim.Fault{Endpoint: "gethbinfo", Fault: "SYSTEMERROR", Merchant: creds.MchID}); err != nil {
		t.Fatal(err)
	}
	_, err := c.RedPacketInfo(ctx(t), "cls0")
	wantKind(t, err, wechat.KindUnknown)
}

// WeChat's own rules, as the simulator enforces them and the adapter classifies them.
func TestRedPacketRules(t *testing.T) {
	c, creds := newClient(t)
	u := newUser(t, creds.AppID, true)
	_, err := c.SendRedPacket(ctx(t), packet("small", u.OpenID, 30))
	wantKind(t, err, wechat.KindConfig) // MONEY_LIMIT: under 1 yuan needs scene_id
	p := packet("small", u.OpenID, 30)
	p.SceneID = "PRODUCT_5"
	if _, err := c.SendRedPacket(ctx(t), p); err != nil {
		t.Fatalf("30 fen with scene_id: %v", err)
	}
	_, err = c.SendRedPacket(ctx(t), packet("big", u.OpenID, 20001))
	wantKind(t, err, wechat.KindConfig)
	_, err = c.SendRedPacket(ctx(t), packet("toolong0123456789012345678901", u.OpenID, 100))
	wantKind(t, err, wechat.KindConfig)

	poor := newUser(t, creds.AppID, true)
	if err := simulator.SetBalance(creds.MchID, 99); err != nil {
		t.Fatal(err)
	}
	_, err = c.SendRedPacket(ctx(t), packet("poor", poor.OpenID, 100))
	wantKind(t, err, wechat.KindNotEnough)
	simulator.SetBalance(creds.MchID, 1_000_000) //nolint:errcheck

	for i := range 9 { // with "small", 10 today
		if _, err := c.SendRedPacket(ctx(t), packet(fmt.Sprintf("day%d", i), u.OpenID, 100)); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.SendRedPacket(ctx(t), packet("day10", u.OpenID, 100))
	wantKind(t, err, wechat.KindUserDailyLimit)

	rich := newUser(t, creds.AppID, true)
	for i := range 5 {
		if _, err := c.SendRedPacket(ctx(t), packet(fmt.Sprintf("amt%d", i), rich.OpenID, 20000)); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.SendRedPacket(ctx(t), packet("amt5", rich.OpenID, 100)) // over 1000 yuan today
	wantKind(t, err, wechat.KindUserDailyLimit)
}
