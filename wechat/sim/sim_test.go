package sim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// One simulator per test binary (the SDK's base URL is process-wide); these tests use a
// fake clock and a low rate limit.
var (
	simulator *sim.Server
	simURL    string
	clock     = &fakeClock{t: time.Date(2026, 3, 1, 23, 0, 0, 0, time.FixedZone("CST", 8*3600))}
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t } // moved only with Server.Advance

func TestMain(m *testing.M) {
	simulator = sim.New(sim.Config{Clock: clock.now, RateLimit: 5, NotifyFactor: 10000, RefundAfter: time.Hour})
	ts := httptest.NewServer(simulator)
	simURL = ts.URL
	code := m.Run()
	simulator.Close()
	ts.Close()
	os.Exit(code)
}

// adminPost calls the admin API and decodes its answer into out (when not nil).
func adminPost(t *testing.T, path string, in, out any) int {
	t.Helper()
	b, _ := json.Marshal(in)
	resp, err := http.Post(simURL+"/sim/admin/"+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// newMerchant registers a merchant through the admin API, as an out-of-process test would,
// and builds a client from the credentials it hands out.
func newMerchant(t *testing.T) (*wechat.Client, wechat.Credentials) {
	t.Helper()
	var raw map[string]string
	if code := adminPost(t, "merchants", map[string]any{"name": "测试店"}, &raw); code != 200 {
		t.Fatalf("add merchant: %d %v", code, raw)
	}
	var p12 []byte
	json.Unmarshal([]byte(`"`+raw["cert_p12_base64"]+`"`), &p12) //nolint:errcheck
	creds := wechat.Credentials{AppID: raw["appid"], AppSecret: raw["appsecret"], Token: raw["token"],
		EncodingAESKey: raw["encoding_aes_key"], MchID: raw["mch_id"], APIKey: raw["api_key"], CertP12: p12}
	c, err := wechat.NewClient(creds, wechat.Options{APIBase: simURL, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("the certificate the admin API hands out must load: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, creds
}

func newUser(t *testing.T, appID string) sim.User {
	t.Helper()
	var u sim.User
	if code := adminPost(t, "users", map[string]any{"appid": appID, "subscribed": true}, &u); code != 200 {
		t.Fatalf("add user: %d", code)
	}
	return u
}

func send(c *wechat.Client, billNo, openID string, fen int64) error {
	_, err := c.SendRedPacket(context.Background(), wechat.RedPacket{BillNo: billNo, OpenID: openID, AmountFen: fen,
		SendName: "店", Wishing: "恭喜", ActName: "活动", ClientIP: "10.0.0.1"})
	return err
}

func TestRateLimitPerMerchant(t *testing.T) {
	c, creds := newMerchant(t)
	other, ocreds := newMerchant(t)
	u, ou := newUser(t, creds.AppID), newUser(t, ocreds.AppID)
	var limited bool
	start := time.Now()
	// The limit is 5 calls in each wall-clock second. 11 calls made within 0.9 s fall into at
	// most two seconds, so one of them holds at least 6, however the calls straddle the tick.
	for i := range 11 {
		err := send(c, fmt.Sprintf("rl%d", i), u.OpenID, 100)
		if wechat.KindOf(err) == wechat.KindRateLimited {
			limited = true
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if !limited && time.Since(start) < 900*time.Millisecond {
		t.Fatal("11 calls within 0.9 s were not limited")
	}
	if err := send(other, "rl0", ou.OpenID, 100); err != nil && !limited {
		t.Fatalf("another merchant has its own limit: %v", err)
	}
}

func TestDailyLimitsResetAtChinaMidnight(t *testing.T) {
	c, creds := newMerchant(t)
	u := newUser(t, creds.AppID)
	for i := range 10 {
		if err := send(c, fmt.Sprintf("d%d", i), u.OpenID, 100); err != nil {
			t.Fatal(err)
		}
		time.Sleep(210 * time.Millisecond) // stay under the test's rate limit of 5/s
	}
	if err := send(c, "d10", u.OpenID, 100); wechat.KindOf(err) != wechat.KindUserDailyLimit {
		t.Fatalf("11th packet: %v", err)
	}
	var now map[string]time.Time
	adminPost(t, "clock", map[string]string{"advance": "1h"}, &now) // 23:00 → past midnight in China
	time.Sleep(time.Second)                                         // a fresh rate-limit second
	if err := send(c, "d10", u.OpenID, 100); err != nil {
		t.Fatalf("the next day: %v (now %v)", err, now["now"])
	}
}

func TestAdminFaultsLedgerAndOpen(t *testing.T) {
	c, creds := newMerchant(t)
	u := newUser(t, creds.AppID)
	if code := adminPost(t, "faults", sim.Fault{Endpoint: "sendredpack", Fault: "NOTENOUGH", Count: 2, Merchant: creds.MchID}, nil); code != 200 {
		t.Fatalf("fault: %d", code)
	}
	for range 2 {
		if err := send(c, "adm1", u.OpenID, 300); wechat.KindOf(err) != wechat.KindNotEnough {
			t.Fatalf("fault: %v", err)
		}
	}
	if err := send(c, "adm1", u.OpenID, 300); err != nil {
		t.Fatal(err)
	}
	if code := adminPost(t, "open", map[string]string{"mch_id": creds.MchID, "mch_billno": "adm1"}, nil); code != 200 {
		t.Fatalf("open: %d", code)
	}
	if code := adminPost(t, "open", map[string]string{"mch_id": creds.MchID, "mch_billno": "adm1"}, nil); code != 400 {
		t.Fatalf("opening twice: %d", code)
	}
	if code := adminPost(t, "faults", sim.Fault{Endpoint: "nope", Fault: "SYSTEMERROR"}, nil); code != 400 {
		t.Fatalf("unknown endpoint: %d", code)
	}
	resp, err := http.Get(simURL + "/sim/admin/ledger")
	if err != nil {
		t.Fatal(err)
	}
	var l sim.Ledger
	json.NewDecoder(resp.Body).Decode(&l) //nolint:errcheck
	resp.Body.Close()
	n := 0
	for _, p := range l.Packets {
		if p.MchID == creds.MchID {
			n++
			if p.BillNo != "adm1" || p.Status != "RECEIVED" || p.AmountFen != 300 || p.Sends != 1 {
				t.Fatalf("packet %+v", p)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d packets", n)
	}
}

// Random faults come from a seeded generator: the same seed, the same faults.
func TestRandomFaultsAreRepeatable(t *testing.T) {
	draw := func() []wechat.Kind {
		c, creds := newMerchant(t)
		u := newUser(t, creds.AppID)
		if err := simulator.SetRandomFaults(sim.RandomFaults{Endpoint: "gethbinfo", Seed: 7,
			Probabilities: map[string]float64{"SYSTEMERROR": 0.3, "FREQ_LIMIT": 0.2}}); err != nil {
			t.Fatal(err)
		}
		defer simulator.SetRandomFaults(sim.RandomFaults{Endpoint: "gethbinfo"}) //nolint:errcheck
		_ = u
		var kinds []wechat.Kind
		for range 20 {
			_, err := c.RedPacketInfo(context.Background(), "none")
			kinds = append(kinds, wechat.KindOf(err))
		}
		return kinds
	}
	a, b := draw(), draw()
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("%v\n%v", a, b)
	}
	seen := map[wechat.Kind]bool{}
	for _, k := range a {
		seen[k] = true
	}
	if !seen[wechat.KindUnknown] || !seen[wechat.KindRateLimited] || !seen[wechat.KindNotFound] {
		t.Fatalf("draws %v", a)
	}
	if err := simulator.SetRandomFaults(sim.RandomFaults{Endpoint: "gethbinfo", Probabilities: map[string]float64{"SYSTEMERROR": 0.8, "FREQ_LIMIT": 0.5}}); err == nil {
		t.Fatal("probabilities over 1 accepted")
	}
}

func TestAccessTokenExpiresAfter7200Seconds(t *testing.T) {
	c, creds := newMerchant(t)
	u := newUser(t, creds.AppID)
	if _, err := c.User(context.Background(), u.OpenID); err != nil {
		t.Fatal(err)
	}
	simulator.Advance(7201 * time.Second) // the SDK's cache still holds it (it keeps 7200-1500 s of wall time)
	if _, err := c.User(context.Background(), u.OpenID); err != nil {
		t.Fatalf("an expired token is fetched again: %v", err)
	}
}
