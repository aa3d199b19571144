package wallet_test

import (
	"strings"
	"testing"
	"time"

	"fenxiao/wallet"
	"fenxiao/wechat/sim"
)

// Template ids are stored per kind; saving again replaces them and an empty id turns a kind off.
func TestTemplatesPerKind(t *testing.T) {
	e := newPayEnv(t)
	p := e.payouts()
	if err := p.SetTemplates(ctx, e.merchant, map[wallet.NoteKind]string{wallet.NoteFriendOpened: " TPL_A ", wallet.NoteShipped: "TPL_B"}); err != nil {
		t.Fatal(err)
	}
	if err := p.SetTemplates(ctx, e.merchant, map[wallet.NoteKind]string{wallet.NoteFriendOpened: "TPL_A2", wallet.NoteShipped: ""}); err != nil {
		t.Fatal(err)
	}
	got, err := p.Templates(ctx, e.merchant)
	if err != nil || len(got) != 1 || got[wallet.NoteFriendOpened] != "TPL_A2" {
		t.Fatalf("templates %v (%v)", got, err)
	}
}

// A send WeChat refuses is retried with backoff; one refused every time is given up after
// its limit and counted for the merchant, with WeChat's reason.
func TestNotificationsRetriedThenGivenUp(t *testing.T) {
	e := newPayEnv(t)
	p := e.payouts()
	if err := p.SetTemplates(ctx, e.merchant, map[wallet.NoteKind]string{wallet.NoteCommission: "TPL_C"}); err != nil {
		t.Fatal(err)
	}
	fan, err := e.sim.AddUser(sim.User{AppID: e.creds.AppID, Subscribed: true})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := e.sim.AddUser(sim.User{AppID: e.creds.AppID}) // follows no more: 43004 every time
	if err != nil {
		t.Fatal(err)
	}
	note := func(key, openid string) wallet.Notification {
		return wallet.NewNote(wallet.NoteCommission, e.merchant, key, openid, "", "活动", wallet.NoteAmount(d("5")), wallet.NoteTime(clock.Now()))
	}
	if err := wallet.EnqueueAll(ctx, e.db, []wallet.Notification{note("commission:order:1", fan.OpenID), note("commission:order:2", gone.OpenID)}); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.InjectFault(sim.Fault{Endpoint: "template", Fault: "SYSTEMERROR", Count: 2, Merchant: e.creds.AppID}); err != nil {
		t.Fatal(err)
	}
	defer e.sim.ClearFaults()
	var moved time.Duration
	defer func() { clock.Advance(-moved) }()
	for range 12 {
		if _, err := p.SendNotifications(ctx); err != nil {
			t.Fatal(err)
		}
		clock.Advance(10 * time.Minute)
		moved += 10 * time.Minute
	}
	var got int
	for _, m := range e.sim.Templates(e.creds.AppID) {
		if m.ToUser == fan.OpenID {
			got++
		}
	}
	if got != 1 {
		t.Fatalf("%d messages reached the follower, want 1", got)
	}
	f, err := p.FailedNotifications(ctx, e.merchant)
	if err != nil || f.Count != 1 || !strings.Contains(f.LastError, "43004") {
		t.Fatalf("failures %+v (%v), want the non-follower's one with 43004", f, err)
	}
	var attempts int
	if err := e.db.Get(&attempts, `SELECT attempts FROM notifications WHERE merchant_id = $1 AND msg_key = 'commission:order:2'`, e.merchant); err != nil || attempts != 8 {
		t.Fatalf("given up after %d attempts (%v), want 8", attempts, err)
	}
	// A failure older than wallet.NoteKeep is no longer reported: the banner is about the
	// merchant's recent messages, not one fixed a month ago.
	clock.Advance(wallet.NoteKeep)
	moved += wallet.NoteKeep
	if f, err := p.FailedNotifications(ctx, e.merchant); err != nil || f.Count != 0 || f.LastError != "" {
		t.Fatalf("failures after %v: %+v (%v), want none", wallet.NoteKeep, f, err)
	}
}

// The values of a notification fit WeChat's types: a thing over 20 characters is cut.
func TestNewNoteFitsLayout(t *testing.T) {
	n := wallet.NewNote(wallet.NoteFriendPaid, 1, "k", "o", "", strings.Repeat("龙", 25), "好友", "5.00元", "t")
	if r := []rune(n.Data["thing1"]); len(r) != 20 || n.Data["amount3"] != "5.00元" || len(n.Data) != 4 {
		t.Fatalf("data %v", n.Data)
	}
}

// The test message goes to the given openid once per configured template, with sample values.
func TestSendTestMessages(t *testing.T) {
	e := newPayEnv(t)
	p := e.payouts()
	u, err := e.sim.AddUser(sim.User{AppID: e.creds.AppID, Subscribed: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetTemplates(ctx, e.merchant, map[wallet.NoteKind]string{wallet.NoteBuyerPaid: "TPL_P", wallet.NoteSent: "TPL_S"}); err != nil {
		t.Fatal(err)
	}
	n, refused, err := p.SendTest(ctx, e.merchant, u.OpenID)
	if err != nil || n != 2 || len(refused) != 0 {
		t.Fatalf("sent %d, refused %v (%v)", n, refused, err)
	}
	var ids []string
	for _, m := range e.sim.Templates(e.creds.AppID) {
		if m.ToUser == u.OpenID {
			ids = append(ids, m.TemplateID+":"+m.Data["character_string1"]+m.Data["amount1"])
		}
	}
	if strings.Join(ids, ",") != "TPL_S:8.88元,TPL_P:TEST20261202001" {
		t.Fatalf("test messages %v", ids)
	}
}
