package sim_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// codeOf is WeChat's err_code in err, or "".
func codeOf(err error) string {
	var we *wechat.Error
	if errors.As(err, &we) {
		return we.Code
	}
	return ""
}

// WeChat refuses one user without refusing the merchant: a fault given an openid answers only
// that user's packets (here NO_AUTH, as for an account WeChat blocks), through the admin API
// as through Go; an openid that is not the merchant's is OPENID_ERROR without any fault.
func TestPerUserFaults(t *testing.T) {
	c, creds := newMerchant(t)
	blocked, fine := newUser(t, creds.AppID), newUser(t, creds.AppID)
	if code := adminPost(t, "faults", map[string]any{"endpoint": "sendredpack", "fault": "NO_AUTH", "count": 2, "openid": blocked.OpenID}, nil); code != 200 {
		t.Fatalf("fault: %d", code)
	}
	if err := send(c, "pu1", fine.OpenID, 100); err != nil {
		t.Fatalf("another user of the merchant: %v", err)
	}
	if err := send(c, "pu2", blocked.OpenID, 100); codeOf(err) != "NO_AUTH" {
		t.Fatalf("the refused user: %v, want NO_AUTH", err)
	}
	if err := simulator.InjectFault(sim.Fault{Endpoint: "sendredpack", Fault: "SENDNUM_LIMIT", OpenID: fine.OpenID}); err != nil {
		t.Fatal(err)
	}
	if err := send(c, "pu3", fine.OpenID, 100); codeOf(err) != "SENDNUM_LIMIT" {
		t.Fatalf("the user's own daily limit: %v", err)
	}
	if err := send(c, "pu4", "o-not-a-user-of-this-account", 100); codeOf(err) != "OPENID_ERROR" {
		t.Fatalf("an openid of no user: %v, want OPENID_ERROR", err)
	}
	// The NO_AUTH fault had a second use: it is still queued for the blocked user only.
	if err := send(c, "pu5", blocked.OpenID, 100); codeOf(err) != "NO_AUTH" {
		t.Fatalf("the refused user again: %v", err)
	}
}

// client_ip is the sending server's IPv4 address (String(15)): the simulator keeps the first
// call's and refuses what is not an IPv4 address.
func TestRedPacketClientIP(t *testing.T) {
	c, creds := newMerchant(t)
	u := newUser(t, creds.AppID)
	if err := send(c, "ip1", u.OpenID, 100); err != nil { // send gives 10.0.0.1
		t.Fatal(err)
	}
	resp, err := http.Get(simURL + "/sim/admin/ledger")
	if err != nil {
		t.Fatal(err)
	}
	var l sim.Ledger
	json.NewDecoder(resp.Body).Decode(&l) //nolint:errcheck
	resp.Body.Close()
	found := false
	for _, p := range l.Packets {
		if p.MchID == creds.MchID && p.BillNo == "ip1" {
			found = true
			if p.ClientIP != "10.0.0.1" {
				t.Errorf("recorded client_ip %q, want 10.0.0.1", p.ClientIP)
			}
		}
	}
	if !found {
		t.Fatal("packet ip1 not in the ledger")
	}
	for _, ip := range []string{"2001:db8::1", "localhost", ""} {
		_, err := c.SendRedPacket(t.Context(), wechat.RedPacket{BillNo: "ip2", OpenID: u.OpenID, AmountFen: 100,
			SendName: "店", Wishing: "恭喜", ActName: "活动", ClientIP: ip})
		if codeOf(err) != "PARAM_ERROR" {
			t.Errorf("client_ip %q: %v, want PARAM_ERROR", ip, err)
		}
	}
}
