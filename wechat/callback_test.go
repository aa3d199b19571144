package wechat_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2/util"

	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// callbackHandler serves a client's OA callback for tests of this package: verification and
// reply only (the replay store lives in campaign).
func callbackHandler(c *wechat.Client, h func(wechat.Event) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, wechat.MaxCallbackBody+1))
		cb, err := c.OpenCallback(r.URL.Query(), body, time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		text := ""
		if cb.Event != nil {
			text = h(*cb.Event)
		}
		reply, err := c.CallbackReply(cb, text, time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(reply) //nolint:errcheck
	})
}

// newModeClient registers a merchant whose OA sends callbacks in mode; withKey says whether
// Fenxiao was given its EncodingAESKey.
func newModeClient(t *testing.T, mode string, withKey bool) (*wechat.Client, wechat.Credentials) {
	t.Helper()
	creds, err := simulator.AddMerchant(sim.MerchantConfig{MessageMode: mode})
	if err != nil {
		t.Fatal(err)
	}
	if !withKey {
		creds.EncodingAESKey = ""
	}
	c, err := wechat.NewClient(creds, wechat.Options{APIBase: simURL, BrowserBase: simURL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, creds
}

// capture serves the callback, recording each request's query and body.
func capture(t *testing.T, c *wechat.Client, appID string) (last func() (url.Values, []byte), events chan wechat.Event) {
	t.Helper()
	events = make(chan wechat.Event, 8)
	h := callbackHandler(c, func(e wechat.Event) string { events <- e; return "欢迎 <回来> & 继续" })
	var (
		mu   sync.Mutex
		q    url.Values
		body []byte
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		q, body = r.URL.Query(), b
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	if err := simulator.SetCallbackURL(appID, srv.URL+"/cb"); err != nil {
		t.Fatal(err)
	}
	return func() (url.Values, []byte) { mu.Lock(); defer mu.Unlock(); return q, body }, events
}

// Each message mode WeChat offers works when Fenxiao is configured to match, and the passive
// reply reaches the user (decrypted and its signature checked by the simulator in safe mode).
func TestCallbackHonestPushInEveryMode(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		withKey bool
	}{{sim.ModeSafe, true}, {sim.ModeCompat, true}, {sim.ModePlain, false}} {
		t.Run(tc.mode, func(t *testing.T) {
			c, creds := newModeClient(t, tc.mode, tc.withKey)
			last, events := capture(t, c, creds.AppID)
			u := newUser(t, creds.AppID, false)
			reply, err := simulator.Follow(creds.AppID, u.OpenID, "fx1_2_abc")
			if err != nil || reply != "欢迎 <回来> & 继续" {
				t.Fatalf("reply %q %v", reply, err)
			}
			if e := <-events; e != (wechat.Event{Type: wechat.EventSubscribe, OpenID: u.OpenID, Scene: "fx1_2_abc"}) {
				t.Fatalf("event %+v", e)
			}
			q, body := last()
			if enc := q.Get("encrypt_type") == "aes"; enc != (tc.mode != sim.ModePlain) || bytes.Contains(body, []byte("<Encrypt>")) != enc {
				t.Fatalf("mode %s sent query %v body %s", tc.mode, q, body)
			}
		})
	}
}

// A merchant who set an EncodingAESKey accepts only encrypted, msg_signature-signed pushes:
// plaintext (even correctly signed with the token) is refused, whatever encrypt_type says.
func TestCallbackPlaintextRefusedWithAESKey(t *testing.T) {
	c, creds := newModeClient(t, sim.ModePlain, true) // the OA still sends plaintext
	last, _ := capture(t, c, creds.AppID)
	u := newUser(t, creds.AppID, false)
	if _, err := simulator.Follow(creds.AppID, u.OpenID, ""); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("plaintext push to a safe-mode merchant: %v", err)
	}
	q, body := last()
	if _, err := c.OpenCallback(q, body, time.Now()); !errors.Is(err, wechat.ErrPlaintext) {
		t.Fatalf("plaintext: %v", err)
	}
	q.Set("encrypt_type", "aes") // the caller's say-so does not decrypt anything
	if _, err := c.OpenCallback(q, body, time.Now()); !errors.Is(err, wechat.ErrPlaintext) {
		t.Fatalf("plaintext claiming aes: %v", err)
	}
}

// The encrypted push's msg_signature covers the Encrypt field; the decrypted appid must be
// ours; the timestamp must be fresh.
func TestCallbackSafeModeChecks(t *testing.T) {
	c, creds := newModeClient(t, sim.ModeSafe, true)
	last, _ := capture(t, c, creds.AppID)
	u := newUser(t, creds.AppID, true)
	if _, err := simulator.Follow(creds.AppID, u.OpenID, "s1"); err != nil {
		t.Fatal(err)
	}
	q, body := last()
	if cb, err := c.OpenCallback(q, body, time.Now()); err != nil || !cb.Safe || cb.Event == nil || cb.Event.Type != wechat.EventScan {
		t.Fatalf("honest: %+v %v", cb, err)
	}

	// Another merchant's (valid) ciphertext under our token: msg_signature re-computed by an
	// attacker who knows the token still fails on the appid... and without the token it fails
	// on msg_signature.
	other, ocreds := newModeClient(t, sim.ModeSafe, true)
	olast, _ := capture(t, other, ocreds.AppID)
	ou := newUser(t, ocreds.AppID, true)
	if _, err := simulator.Follow(ocreds.AppID, ou.OpenID, "s1"); err != nil {
		t.Fatal(err)
	}
	_, obody := olast()
	if _, err := c.OpenCallback(q, obody, time.Now()); !errors.Is(err, wechat.ErrSignature) {
		t.Fatalf("foreign Encrypt under our msg_signature: %v", err)
	}

	ts := strconv.FormatInt(time.Now().Unix(), 10)
	forged := signed(creds.Token, ts, "n1", "")
	forged.Set("encrypt_type", "aes")
	forged.Set("msg_signature", "0000000000000000000000000000000000000000")
	if _, err := c.OpenCallback(forged, body, time.Now()); !errors.Is(err, wechat.ErrSignature) {
		t.Fatalf("bad msg_signature: %v", err)
	}

	for _, at := range []time.Time{time.Now().Add(-6 * time.Minute), time.Now().Add(6 * time.Minute)} {
		if _, err := c.OpenCallback(q, body, at); !errors.Is(err, wechat.ErrStale) {
			t.Fatalf("checked at %v: %v", at, err)
		}
	}
	if _, err := c.OpenCallback(q, body, time.Now().Add(4*time.Minute)); err != nil {
		t.Fatalf("within the window: %v", err)
	}
}

// The URL check (GET with echostr) echoes when signed and fresh, in every mode.
func TestCallbackEcho(t *testing.T) {
	c, creds := newModeClient(t, sim.ModeSafe, true)
	now := time.Now()
	q := signed(creds.Token, strconv.FormatInt(now.Unix(), 10), "77", "")
	q.Set("echostr", "hello123")
	cb, err := c.OpenCallback(q, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := c.CallbackReply(cb, "", now); string(r) != "hello123" {
		t.Fatalf("echo %q", r)
	}
	q.Set("signature", strings.Repeat("a", 40))
	if _, err := c.OpenCallback(q, nil, now); !errors.Is(err, wechat.ErrSignature) {
		t.Fatalf("unsigned echo: %v", err)
	}
}

// Our encryption and the SDK's (an independent implementation of the same WeChat format)
// read each other, both ways.
func TestCallbackEncryptionInteroperatesWithTheSDK(t *testing.T) {
	c, creds := newModeClient(t, sim.ModeSafe, true)
	now := time.Now()
	msg := `<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oUser1]]></FromUserName><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[unsubscribe]]></Event></xml>`
	enc, err := util.EncryptMsg([]byte("0123456789abcdef"), []byte(msg), creds.AppID, creds.EncodingAESKey)
	if err != nil {
		t.Fatal(err)
	}
	q, body := encryptedPush(creds, now, "42", string(enc))
	cb, err := c.OpenCallback(q, body, now)
	if err != nil || cb.Event == nil || *cb.Event != (wechat.Event{Type: wechat.EventUnsubscribe, OpenID: "oUser1"}) {
		t.Fatalf("SDK-encrypted push: %+v %v", cb, err)
	}
	cb.Event.Type = wechat.EventSubscribe
	reply, err := c.CallbackReply(cb, "你好", now)
	if err != nil {
		t.Fatal(err)
	}
	var r struct{ Encrypt, MsgSignature, TimeStamp, Nonce string }
	if err := xml.Unmarshal(reply, &r); err != nil {
		t.Fatal(err)
	}
	if util.Signature(creds.Token, r.TimeStamp, r.Nonce, r.Encrypt) != r.MsgSignature {
		t.Fatal("reply MsgSignature does not verify")
	}
	_, plain, err := util.DecryptMsg(creds.AppID, r.Encrypt, creds.EncodingAESKey)
	if err != nil || !strings.Contains(string(plain), "你好") || !strings.Contains(string(plain), "oUser1") {
		t.Fatalf("SDK decrypting our reply: %s %v", plain, err)
	}
}

// signed is a callback query signed with token (as WeChat signs every push).
func signed(token, ts, nonce, _ string) url.Values {
	return url.Values{"signature": {util.Signature(token, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce}}
}

// encryptedPush is the query and body of a safe-mode push of enc.
func encryptedPush(creds wechat.Credentials, at time.Time, nonce, enc string) (url.Values, []byte) {
	ts := strconv.FormatInt(at.Unix(), 10)
	q := signed(creds.Token, ts, nonce, "")
	q.Set("encrypt_type", "aes")
	q.Set("msg_signature", util.Signature(creds.Token, ts, nonce, enc))
	return q, []byte(fmt.Sprintf("<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[%s]]></Encrypt></xml>", enc))
}

// BenchmarkOpenCallback is the cost of verifying and decrypting one safe-mode push.
func BenchmarkOpenCallback(b *testing.B) {
	creds := fuzzCreds
	c, err := wechat.NewClient(creds, wechat.Options{APIBase: simURL})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg := `<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oUser1]]></FromUserName><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[SCAN]]></Event><EventKey><![CDATA[fx1_2_abcdefghij]]></EventKey></xml>`
	enc, err := util.EncryptMsg([]byte("0123456789abcdef"), []byte(msg), creds.AppID, creds.EncodingAESKey)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	q, body := encryptedPush(creds, now, "42", string(enc))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.OpenCallback(q, body, now); err != nil {
			b.Fatal(err)
		}
	}
}

// Advancing the simulator's clock (a day, for packet refunds or daily limits) does not stamp
// pushes in the future: WeChat's pushes carry the wall clock the merchant's server shares.
func TestCallbackTimestampIgnoresSimulatorAdvance(t *testing.T) {
	c, creds := newModeClient(t, sim.ModeSafe, true)
	_, events := capture(t, c, creds.AppID)
	u := newUser(t, creds.AppID, false)
	simulator.Advance(24 * time.Hour)
	defer simulator.Advance(-24 * time.Hour)
	if _, err := simulator.Follow(creds.AppID, u.OpenID, ""); err != nil {
		t.Fatalf("a push after Advance: %v", err)
	}
	if e := <-events; e.OpenID != u.OpenID {
		t.Fatalf("event %+v", e)
	}
}
