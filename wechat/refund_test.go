package wechat_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// refundNotifyServer is a merchant's refund notify endpoint: it decrypts with
// ParseRefundNotify and answers as Fenxiao does.
func refundNotifyServer(t *testing.T, c *wechat.Client) (string, chan wechat.RefundNotify) {
	got := make(chan wechat.RefundNotify, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rn, err := c.ParseRefundNotify(body)
		if err != nil {
			t.Errorf("refund notify: %v", err)
		}
		got <- rn
		w.Write(wechat.NotifyReply(err == nil, "")) //nolint:errcheck
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/pay/refund-notify", got
}

func recvRefund(t *testing.T, ch chan wechat.RefundNotify) wechat.RefundNotify {
	t.Helper()
	select {
	case rn := <-ch:
		return rn
	case <-time.After(10 * time.Second):
		t.Fatal("no refund notification")
		return wechat.RefundNotify{}
	}
}

// paidOrder places a JSAPI order of fen for a new user and pays it in the simulator.
func paidOrder(t *testing.T, c *wechat.Client, creds wechat.Credentials, outTradeNo string, fen int64) {
	t.Helper()
	u := newUser(t, creds.AppID, true)
	notifyURL, notes := payNotifyServer(t, c, fen)
	req, err := c.PrepayJSAPI(ctx(t), wechat.Prepay{OutTradeNo: outTradeNo, Description: "x", TotalFen: fen,
		OpenID: u.OpenID, ClientIP: "1.2.3.4", NotifyURL: notifyURL})
	if err != nil {
		t.Fatal(err)
	}
	if err := simulator.Pay(strings.TrimPrefix(req.Package, "prepay_id="), ""); err != nil {
		t.Fatal(err)
	}
	if n := recv(t, notes); n.err != nil {
		t.Fatal(n.err)
	}
}

// Refunds through the API and in the merchant platform both show in refundquery, numbered
// in the order they were made, and both are notified; the platform's say so.
func TestQueryRefundSeesAPIAndPlatformRefunds(t *testing.T) {
	c, creds := newClient(t)
	refundURL, refunds := refundNotifyServer(t, c)
	_, err := c.QueryRefund(ctx(t), "rq1")
	wantKind(t, err, wechat.KindNotFound) // no such order: WeChat answers REFUNDNOTEXIST too
	paidOrder(t, c, creds, "rq1", 3000)
	_, err = c.QueryRefund(ctx(t), "rq1")
	var we *wechat.Error
	if !errors.As(err, &we) || we.Kind != wechat.KindNotFound || we.Code != "REFUNDNOTEXIST" {
		t.Fatalf("paid, not refunded: %v", err)
	}

	res, err := c.Refund(ctx(t), wechat.Refund{OutTradeNo: "rq1", OutRefundNo: "r1", TotalFen: 3000, RefundFen: 1000, NotifyURL: refundURL})
	if err != nil {
		t.Fatal(err)
	}
	if rn := recvRefund(t, refunds); rn.OutRefundNo != "r1" || rn.RequestSource != "API" {
		t.Fatalf("API refund notification %+v", rn)
	}
	rec, err := simulator.RefundInPlatform(creds.MchID, "rq1", 1500, refundURL)
	if err != nil || rec.OutRefundNo == "" || rec.OutRefundNo == "r1" || rec.RefundFen != 1500 || rec.Source != "VENDOR_PLATFORM" {
		t.Fatalf("platform refund %+v %v", rec, err)
	}
	rn := recvRefund(t, refunds)
	if rn.OutRefundNo != rec.OutRefundNo || rn.RefundID != rec.RefundID || rn.RefundFen != 1500 || rn.TotalFen != 3000 ||
		rn.Status != wechat.RefundSuccess || rn.RequestSource != "VENDOR_PLATFORM" {
		t.Fatalf("platform refund notification %+v", rn)
	}
	if _, err := simulator.RefundInPlatform(creds.MchID, "rq1", 600, refundURL); !errors.Is(err, sim.ErrState) || !strings.Contains(err.Error(), "only 500") {
		t.Fatalf("more than is left: %v", err)
	}

	for range 2 { // the numbering is the same every time
		st, err := c.QueryRefund(ctx(t), "rq1")
		if err != nil || st.RefundedFen != 2500 || st.Processing || len(st.Refunds) != 2 {
			t.Fatalf("refunds %+v %v", st, err)
		}
		if r := st.Refunds[0]; r.OutRefundNo != "r1" || r.RefundID != res.RefundID || r.Fen != 1000 || r.Status != wechat.RefundSuccess || r.SucceededAt.IsZero() {
			t.Fatalf("refund 0 %+v", r)
		}
		if r := st.Refunds[1]; r.OutRefundNo != rec.OutRefundNo || r.RefundID != rec.RefundID || r.Fen != 1500 || r.Status != wechat.RefundSuccess {
			t.Fatalf("refund 1 %+v", r)
		}
	}

	// The rest, in the platform of a merchant without a refund notify URL: no notification.
	if _, err := simulator.RefundInPlatform(creds.MchID, "rq1", 500, ""); err != nil {
		t.Fatal(err)
	}
	if st, err := c.QueryRefund(ctx(t), "rq1"); err != nil || st.RefundedFen != 3000 || len(st.Refunds) != 3 {
		t.Fatalf("fully refunded %+v %v", st, err)
	}
	if st, err := c.QueryOrder(ctx(t), "rq1"); err != nil || st.TradeState != "REFUND" {
		t.Fatalf("order %+v %v", st, err)
	}
	_, err = c.Refund(ctx(t), wechat.Refund{OutTradeNo: "rq1", OutRefundNo: "r2", TotalFen: 3000, RefundFen: 1})
	wantKind(t, err, wechat.KindConfig) // nothing left
	select {
	case rn := <-refunds:
		t.Fatalf("a notification without a notify URL: %+v", rn)
	case <-time.After(100 * time.Millisecond):
	}

	if err := simulator.InjectFault(sim.Fault{Endpoint: "refundquery", Fault: "SYSTEMERROR", Merchant: creds.MchID}); err != nil {
		t.Fatal(err)
	}
	_, err = c.QueryRefund(ctx(t), "rq1")
	wantKind(t, err, wechat.KindUnknown)
}

func TestRefundInPlatformRefuses(t *testing.T) {
	c, creds := newClient(t)
	paidOrder(t, c, creds, "rp1", 100)
	u := newUser(t, creds.AppID, true)
	if _, err := c.PrepayJSAPI(ctx(t), wechat.Prepay{OutTradeNo: "rp2", Description: "x", TotalFen: 100, OpenID: u.OpenID,
		ClientIP: "1.2.3.4", NotifyURL: "http://127.0.0.1:1/"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, mchID, outTradeNo string
		fen                     int64
		want                    error
	}{
		{"unknown merchant", "1", "rp1", 1, sim.ErrUnknownMerchant},
		{"unknown order", creds.MchID, "nope", 1, sim.ErrNotFound},
		{"unpaid order", creds.MchID, "rp2", 1, sim.ErrState},
		{"nothing", creds.MchID, "rp1", 0, sim.ErrState},
		{"more than paid", creds.MchID, "rp1", 101, sim.ErrState},
	}
	for _, tc := range tests {
		if _, err := simulator.RefundInPlatform(tc.mchID, tc.outTradeNo, tc.fen, ""); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := c.QueryRefund(ctx(t), "rp1"); wechat.KindOf(err) != wechat.KindNotFound {
		t.Fatalf("refused refunds left a trace: %v", err)
	}
}
