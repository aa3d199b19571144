package sim_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// A fault for one official account's template sends fails exactly the first N of its sends
// (template/send names no appid: the access_token says whose it is), never another account's;
// each accepted message shows once in the user's inbox page, a resend with the same
// ClientMsgID included.
func TestTemplateFaultsAndInbox(t *testing.T) {
	ctx := context.Background()
	c, creds := newMerchant(t)
	other, otherCreds := newMerchant(t)
	u, ou := newUser(t, creds.AppID), newUser(t, otherCreds.AppID)
	if err := simulator.InjectFault(sim.Fault{Endpoint: "template", Fault: "SYSTEMERROR", Count: 2, Merchant: creds.AppID}); err != nil {
		t.Fatal(err)
	}
	defer simulator.ClearFaults()
	msg := func(to, id string) wechat.TemplateMessage {
		return wechat.TemplateMessage{ToUser: to, TemplateID: "TPL_PAID", ClientMsgID: id,
			Data: map[string]string{"thing1": "明前龙井", "amount2": "5.00元", "time3": "2026年03月01日 23:00"}}
	}
	if _, err := other.SendTemplate(ctx, msg(ou.OpenID, "other:1")); err != nil {
		t.Fatalf("another account's send failed: %v", err)
	}
	for i := range 2 {
		if _, err := c.SendTemplate(ctx, msg(u.OpenID, "paid:1")); err == nil {
			t.Fatalf("send %d succeeded, want the fault", i+1)
		}
	}
	for range 2 {
		if _, err := c.SendTemplate(ctx, msg(u.OpenID, "paid:1")); err != nil {
			t.Fatalf("third send: %v", err)
		}
	}
	resp, err := http.Get(simURL + "/sim/inbox?" + url.Values{"appid": {creds.AppID}, "openid": {u.OpenID}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	page := string(b)
	if n := strings.Count(page, `class="card tmsg"`); n != 1 {
		t.Fatalf("%d template messages in the inbox, want 1:\n%s", n, page)
	}
	for _, want := range []string{"TPL_PAID", "明前龙井", "5.00元", `data-client-msg-id="paid:1"`} {
		if !strings.Contains(page, want) {
			t.Errorf("inbox lacks %q", want)
		}
	}
	if strings.Index(page, "明前龙井") > strings.Index(page, "5.00元") {
		t.Error("keywords are not in their numbered order")
	}
}
