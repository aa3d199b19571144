package main

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"fenxiao/campaign"
	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// oaStack is the server with one merchant whose official account pushes in mode, a
// fans-only campaign, and helpers to play WeChat and the attacker.
type oaStack struct {
	t     *testing.T
	srv   *server
	base  string
	sim   *sim.Server
	m     int64
	creds wechat.Credentials
	c     *campaign.Campaign
}

func newOAStack(t *testing.T, mode string) *oaStack {
	t.Helper()
	ctx := context.Background()
	srv, base := startStack(t, nil)
	s, _ := testSim()
	st := &oaStack{t: t, srv: srv, base: base, sim: s}
	var err error
	if st.m, err = srv.Merchants.CreateMerchant(ctx, "公众号回调 "+t.Name()); err != nil {
		t.Fatal(err)
	}
	if st.creds, err = s.AddMerchant(sim.MerchantConfig{MessageMode: mode, CallbackURL: fmt.Sprintf("%s/wechat/oa/%d", base, st.m)}); err != nil {
		t.Fatal(err)
	}
	creds := st.creds
	if mode == sim.ModePlain {
		creds.EncodingAESKey = "" // 明文模式: the merchant entered no key
	}
	if err := srv.Merchants.SetWeChat(ctx, st.m, creds); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Wallet.TopUpAssets(ctx, nil, st.m, decimal.NewFromInt(100), "funds", ""); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c, err := srv.Campaign.Create(ctx, st.m, campaign.Settings{Title: "粉丝专享", StartsAt: now.Add(-time.Hour), EndsAt: now.Add(time.Hour),
		Commission: decimal.NewFromInt(1), ProductName: "茶", Price: decimal.NewFromInt(9), FansOnly: true, MaxPerOrder: 5}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if st.c, err = srv.Campaign.Publish(ctx, st.m, c.ID); err != nil {
		t.Fatal(err)
	}
	return st
}

func (st *oaStack) signIn(name string, subscribed bool) *campaign.User {
	st.t.Helper()
	su, err := st.sim.AddUser(sim.User{AppID: st.creds.AppID, Nickname: name, Subscribed: subscribed})
	if err != nil {
		st.t.Fatal(err)
	}
	u, err := st.srv.Campaign.SignIn(context.Background(), st.m, wechat.OAuthToken{OpenID: su.OpenID}, nil)
	if err != nil {
		st.t.Fatal(err)
	}
	return u
}

// gate is what the H5 page decides for u now, with u read afresh as each request does.
func (st *oaStack) gate(u *campaign.User, sharerID int64) campaign.Gate {
	st.t.Helper()
	fresh, err := st.srv.Campaign.User(context.Background(), st.m, u.ID)
	if err != nil {
		st.t.Fatal(err)
	}
	g, err := st.srv.Campaign.Enter(context.Background(), st.c, fresh, "", sharerID)
	if err != nil {
		st.t.Fatal(err)
	}
	return g
}

func (st *oaStack) post(u, body string) (int, string) {
	st.t.Helper()
	resp, err := http.Post(u, "text/xml", strings.NewReader(body))
	if err != nil {
		st.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// signedURL is the callback URL as WeChat signs it in plaintext mode: what anyone who knows
// the token, or captured a URL, can produce.
func (st *oaStack) signedURL(at time.Time, nonce string) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	parts := []string{st.creds.Token, ts, nonce}
	sort.Strings(parts)
	sum := sha1.Sum([]byte(strings.Join(parts, "")))
	q := url.Values{"signature": {hex.EncodeToString(sum[:])}, "timestamp": {ts}, "nonce": {nonce}}
	return fmt.Sprintf("%s/wechat/oa/%d?%s", st.base, st.m, q.Encode())
}

func eventXML(openid, event, key string) string {
	return fmt.Sprintf("<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName>"+
		"<CreateTime>%d</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[%s]]></Event>"+
		"<EventKey><![CDATA[%s]]></EventKey></xml>", openid, time.Now().Unix(), event, key)
}

// payAndWait pays co in the simulator and waits (bounded) for the notification to land.
func (st *oaStack) payAndWait(co *campaign.Checkout, buyer *campaign.User) *campaign.Order {
	st.t.Helper()
	if err := st.sim.Pay(strings.TrimPrefix(co.Pay.Package, "prepay_id="), buyer.OpenID); err != nil {
		st.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		o, err := st.srv.Campaign.Order(context.Background(), st.m, co.Order.ID)
		if err != nil {
			st.t.Fatal(err)
		}
		if o.Status == campaign.Paid {
			return o
		}
		if time.Now().After(deadline) {
			st.t.Fatal("waited 10 s for the payment notification of the order")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The attack of issue 14 point 2, in plaintext mode (the weakest WeChat offers): a captured
// push replayed with a body of one's own — a subscribe for a non-fan, a SCAN moving a buyer
// to another sharer — is refused; so is a stale timestamp. WeChat's own retry of a push is
// answered without processing it twice. The honest follow through the QR still binds and the
// buyer's order pays the right sharer.
func TestOACallbackReplayedOrStalePushRefused(t *testing.T) {
	ctx := context.Background()
	st := newOAStack(t, sim.ModePlain)
	a, b := st.signIn("分享者甲", true), st.signIn("分享者乙", true)
	buyer, stranger := st.signIn("买家", false), st.signIn("路人", false)

	g := st.gate(buyer, a.ID)
	if g.Reason != campaign.NotFan || g.FollowQR == nil {
		t.Fatalf("gate for a non-fan: %+v", g)
	}
	reply, err := st.sim.Scan(g.FollowQR.Ticket, buyer.OpenID)
	if err != nil || !strings.Contains(reply, st.srv.Campaign.ShareURL(st.c.ID, a.ID)) {
		t.Fatalf("honest follow: reply %q, %v", reply, err)
	}
	if g := st.gate(buyer, a.ID); g.Reason != campaign.Open {
		t.Fatalf("gate after following: %+v", g)
	}
	captured, err := st.sim.LastPush(st.creds.AppID)
	if err != nil {
		t.Fatal(err)
	}

	// WeChat retries a push it got no answer to: same URL, same body. Answered, not redone.
	again, err := st.sim.Redeliver(st.creds.AppID)
	if err != nil || again != "" {
		t.Errorf("WeChat's retry: reply %q, %v; want an empty success without processing again", again, err)
	}

	// The captured URL with the attacker's body: a subscribe for the stranger...
	if status, _ := st.post(captured.URL, eventXML(stranger.OpenID, "subscribe", "")); status != http.StatusForbidden {
		t.Errorf("replayed URL with a forged subscribe answered %d, want 403", status)
	}
	if g := st.gate(stranger, 0); g.Reason != campaign.NotFan {
		t.Errorf("a forged subscribe let a non-fan through: %+v", g)
	}
	// ...and a SCAN moving the buyer to sharer B's scene (B's QR, as the stranger got it).
	gb := st.gate(stranger, b.ID)
	if gb.FollowQR == nil {
		t.Fatalf("no follow QR for the stranger: %+v", gb)
	}
	if _, err := st.sim.Scan(gb.FollowQR.Ticket, stranger.OpenID); err != nil {
		t.Fatal(err)
	}
	var sceneB string
	for _, u := range st.sim.Users(st.creds.AppID) {
		if u.OpenID == stranger.OpenID {
			sceneB = u.SceneStr
		}
	}
	if status, _ := st.post(captured.URL, eventXML(buyer.OpenID, "SCAN", sceneB)); status != http.StatusForbidden {
		t.Errorf("replayed URL with a forged SCAN answered %d, want 403", status)
	}

	// A stale timestamp, even correctly signed, is refused; a fresh one is handled.
	stale := eventXML(stranger.OpenID, "subscribe", "")
	if status, _ := st.post(st.signedURL(time.Now().Add(-6*time.Minute), "5150"), stale); status != http.StatusForbidden {
		t.Errorf("a 6-minute-old push answered %d, want 403", status)
	}
	if status, _ := st.post(st.signedURL(time.Now().Add(6*time.Minute), "5151"), stale); status != http.StatusForbidden {
		t.Errorf("a push 6 minutes in the future answered %d, want 403", status)
	}
	if status, body := st.post(st.signedURL(time.Now(), "5152"), eventXML(buyer.OpenID, "SCAN", "")); status != http.StatusOK || body != "success" {
		t.Fatalf("a fresh push answered %d %q", status, body)
	}

	// The buyer's next order pays sharer A, who brought them, not B.
	co, err := st.srv.Campaign.CreateOrder(ctx, st.c.ID, buyer, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	if o := st.payAndWait(co, buyer); o.SharerID == nil || *o.SharerID != a.ID {
		t.Fatalf("the order credits %v, want sharer A %d", o.SharerID, a.ID)
	}
}

// Replicas receiving the same push at once process it once: one answer carries the reply,
// every other is a bare success.
func TestOACallbackConcurrentDuplicatesProcessedOnce(t *testing.T) {
	st := newOAStack(t, sim.ModePlain)
	a, buyer := st.signIn("分享者", true), st.signIn("买家", false)
	g := st.gate(buyer, a.ID)
	if _, err := st.sim.Scan(g.FollowQR.Ticket, buyer.OpenID); err != nil { // buyer follows (and is bound)
		t.Fatal(err)
	}
	var scene string
	for _, u := range st.sim.Users(st.creds.AppID) {
		if u.OpenID == buyer.OpenID {
			scene = u.SceneStr
		}
	}
	u, body := st.signedURL(time.Now(), "8080"), eventXML(buyer.OpenID, "SCAN", scene)
	const n = 8
	var wg sync.WaitGroup
	replies := make([]string, n)
	for i := range replies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(u, "text/xml", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			replies[i] = fmt.Sprint(resp.StatusCode, " ", string(b))
		}()
	}
	wg.Wait()
	texts := 0
	for _, r := range replies {
		switch {
		case strings.HasPrefix(r, "200 <xml>") && strings.Contains(r, "感谢关注"):
			texts++
		case r != "200 success":
			t.Fatalf("answer %q", r)
		}
	}
	if texts != 1 {
		t.Fatalf("%d of %d identical pushes were processed, want 1: %q", texts, n, replies)
	}
}

// With an EncodingAESKey set, only encrypted pushes whose msg_signature covers the Encrypt
// field count: a plaintext push correctly signed with the token is refused (whatever
// encrypt_type says), while the simulator's honest encrypted push binds and gets its
// encrypted reply.
func TestOACallbackSafeMode(t *testing.T) {
	st := newOAStack(t, sim.ModeSafe)
	a, buyer, stranger := st.signIn("分享者", true), st.signIn("买家", false), st.signIn("路人", false)

	g := st.gate(buyer, a.ID)
	reply, err := st.sim.Scan(g.FollowQR.Ticket, buyer.OpenID)
	if err != nil || !strings.Contains(reply, st.srv.Campaign.ShareURL(st.c.ID, a.ID)) {
		t.Fatalf("honest encrypted push: reply %q, %v", reply, err)
	}
	if again, err := st.sim.Redeliver(st.creds.AppID); err != nil || again != "" {
		t.Errorf("WeChat's retry of the encrypted push: %q %v", again, err)
	}

	forged := eventXML(stranger.OpenID, "subscribe", "")
	if status, _ := st.post(st.signedURL(time.Now(), "1001"), forged); status != http.StatusForbidden {
		t.Errorf("plaintext push to a merchant with an EncodingAESKey answered %d, want 403", status)
	}
	if status, _ := st.post(st.signedURL(time.Now(), "1002")+"&encrypt_type=aes&msg_signature=00", forged); status != http.StatusForbidden {
		t.Errorf("plaintext push claiming aes answered %d, want 403", status)
	}
	captured, err := st.sim.LastPush(st.creds.AppID)
	if err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(captured.Body, "<Encrypt><![CDATA[", "<Encrypt><![CDATA[AAAA", 1)
	if status, _ := st.post(captured.URL, tampered); status != http.StatusForbidden {
		t.Errorf("tampered Encrypt answered %d, want 403", status)
	}
	if g := st.gate(stranger, 0); g.Reason != campaign.NotFan {
		t.Errorf("a forged subscribe let a non-fan through: %+v", g)
	}
}

// Anyone can post to the WeChat routes: bodies over 64 KB are answered 413 before parsing;
// normal ones are still parsed (a garbage notification is refused by its verifier, not by
// size).
func TestWeChatRoutesLimitBodies(t *testing.T) {
	st := newOAStack(t, sim.ModePlain)
	big := "<xml>" + strings.Repeat("A", 64<<10) + "</xml>"
	for _, path := range []string{"/wechat/pay/%d/notify", "/wechat/pay/%d/refund", "/wechat/pay/%d/topup"} {
		path = fmt.Sprintf(path, st.m)
		u := st.base + path
		if status, _ := st.post(u, big); status != http.StatusRequestEntityTooLarge {
			t.Errorf("%s with %d bytes answered %d, want 413", path, len(big), status)
		}
		if status, body := st.post(u, "<xml><return_code>SUCCESS</return_code></xml>"); status != http.StatusOK || !strings.Contains(body, "FAIL") {
			t.Errorf("%s with a small unsigned body: %d %q, want a parsed FAIL", path, status, body)
		}
	}
	if status, _ := st.post(st.signedURL(time.Now(), "77"), big); status != http.StatusRequestEntityTooLarge {
		t.Errorf("OA callback with %d bytes answered %d, want 413", len(big), status)
	}
	if status, body := st.post(st.signedURL(time.Now(), "78"), "<xml><MsgType>text</MsgType></xml>"); status != http.StatusOK || body != "success" {
		t.Errorf("OA callback with a small message: %d %q", status, body)
	}
}
