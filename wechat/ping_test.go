package wechat_test

import (
	"testing"
	"time"

	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// clientWith builds a client for creds changed by edit, against the simulator.
func clientWith(t *testing.T, creds wechat.Credentials, edit func(*wechat.Credentials)) *wechat.Client {
	t.Helper()
	edit(&creds)
	c, err := wechat.NewClient(creds, wechat.Options{APIBase: simURL, BrowserBase: simURL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestPingChecksTheOfficialAccountCredentials(t *testing.T) {
	c, creds := newClient(t)
	if err := c.Ping(ctx(t)); err != nil {
		t.Fatalf("ping with good credentials: %v", err)
	}
	if err := c.Ping(ctx(t)); err != nil { // the cached token counts
		t.Fatalf("second ping: %v", err)
	}

	err := clientWith(t, creds, func(c *wechat.Credentials) { c.AppSecret = "0123456789abcdef0123456789abcdef" }).Ping(ctx(t))
	wantKind(t, err, wechat.KindConfig)
	if we := err.(*wechat.Error); we.Code != "40001" {
		t.Errorf("wrong secret: code %q, want 40001", we.Code)
	}
	err = clientWith(t, creds, func(c *wechat.Credentials) { c.AppID = "wx0000000000000000" }).Ping(ctx(t))
	wantKind(t, err, wechat.KindConfig)
	if we := err.(*wechat.Error); we.Code != "40013" {
		t.Errorf("unknown appid: code %q, want 40013", we.Code)
	}

	if err := simulator.InjectFault(sim.Fault{Endpoint: "token", Fault: "SYSTEMERROR", Count: 1, Merchant: creds.AppID}); err != nil {
		t.Fatal(err)
	}
	wantKind(t, clientWith(t, creds, func(*wechat.Credentials) {}).Ping(ctx(t)), wechat.KindUnknown)
}

func TestPingPayChecksMerchantNumberAndKey(t *testing.T) {
	c, creds := newClient(t)
	if err := c.PingPay(ctx(t)); err != nil {
		t.Fatalf("pay ping with good credentials: %v", err)
	}
	err := clientWith(t, creds, func(c *wechat.Credentials) { c.APIKey = "wrongwrongwrongwrongwrongwrong12" }).PingPay(ctx(t))
	wantKind(t, err, wechat.KindConfig)
	err = clientWith(t, creds, func(c *wechat.Credentials) { c.MchID = "1999999999"; c.CertP12 = nil }).PingPay(ctx(t))
	wantKind(t, err, wechat.KindConfig)
	err = clientWith(t, creds, func(c *wechat.Credentials) { c.MchID, c.APIKey, c.CertP12 = "", "", nil }).PingPay(ctx(t))
	wantKind(t, err, wechat.KindConfig)
}

func TestCheckCertificate(t *testing.T) {
	_, creds := newClient(t)
	cert, err := wechat.CheckCertificate(creds.CertP12, creds.MchID)
	if err != nil {
		t.Fatal(err)
	}
	if cert.NotAfter.Before(time.Now()) || cert.Serial == "" {
		t.Errorf("certificate %+v: want a serial and a future expiry", cert)
	}
	if _, err := wechat.CheckCertificate(creds.CertP12, "1234567890"); wechat.KindOf(err) != wechat.KindConfig {
		t.Errorf("wrong password (mch_id): %v, want a configuration error", err)
	}
	if _, err := wechat.CheckCertificate([]byte("not a certificate"), creds.MchID); wechat.KindOf(err) != wechat.KindConfig {
		t.Errorf("garbage: %v, want a configuration error", err)
	}
}
