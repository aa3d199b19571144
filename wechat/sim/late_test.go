package sim_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// Over the admin API, as an out-of-process test drives them: an order past its expiry is
// paid late, then refunded in the merchant platform, and refundquery reports it.
func TestAdminPayLateAndPlatformRefund(t *testing.T) {
	c, creds := newMerchant(t)
	u := newUser(t, creds.AppID)
	var notified atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		notified.Add(1)
		w.Write(wechat.NotifyReply(true, "")) //nolint:errcheck
	}))
	defer srv.Close()
	bg := context.Background()
	req, err := c.PrepayJSAPI(bg, wechat.Prepay{OutTradeNo: "late2", Description: "x", TotalFen: 900, OpenID: u.OpenID,
		ClientIP: "1.2.3.4", NotifyURL: srv.URL, TimeExpire: simulator.Now().Add(15 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	prepayID := strings.TrimPrefix(req.Package, "prepay_id=")
	simulator.Advance(24 * time.Hour) // whole days: other tests rely on the clock's time of day
	pay := map[string]string{"prepay_id": prepayID}
	if code := adminPost(t, "pay", pay, nil); code != http.StatusBadRequest {
		t.Fatalf("paying an expired order: %d", code)
	}
	if code := adminPost(t, "pay-late", pay, nil); code != http.StatusOK {
		t.Fatalf("pay-late: %d", code)
	}
	if code := adminPost(t, "pay-late", pay, nil); code != http.StatusBadRequest {
		t.Fatalf("pay-late twice: %d", code)
	}
	if st, err := c.QueryOrder(bg, "late2"); err != nil || st.TradeState != "SUCCESS" || st.TransactionID == "" {
		t.Fatalf("after pay-late: %+v %v", st, err)
	}

	refund := func(fen int64, out any) int {
		return adminPost(t, "platform-refund", map[string]any{"mch_id": creds.MchID, "out_trade_no": "late2", "fen": fen}, out)
	}
	var refused map[string]string
	if code := refund(901, &refused); code != http.StatusBadRequest || !strings.Contains(refused["error"], "only 900") {
		t.Fatalf("refunding more than paid: %d %v", code, refused)
	}
	var rec sim.RefundRecord
	if code := refund(400, &rec); code != http.StatusOK || rec.RefundFen != 400 || rec.Source != "VENDOR_PLATFORM" || rec.OutRefundNo == "" {
		t.Fatalf("platform refund: %+v", rec)
	}
	st, err := c.QueryRefund(bg, "late2")
	if err != nil || st.RefundedFen != 400 || len(st.Refunds) != 1 || st.Refunds[0].OutRefundNo != rec.OutRefundNo {
		t.Fatalf("refundquery: %+v %v", st, err)
	}
	if code := adminPost(t, "faults", sim.Fault{Endpoint: "refundquery", Fault: "timeout", Merchant: creds.MchID}, nil); code != http.StatusOK {
		t.Fatalf("refundquery fault: %d", code)
	}
	_, err = c.QueryRefund(bg, "late2")
	if wechat.KindOf(err) != wechat.KindUnknown {
		t.Fatalf("timeout: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for notified.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if notified.Load() == 0 {
		t.Fatal("the late payment was never notified")
	}
}

// Held notifications wait for DeliverHeld: nothing reaches the merchant until then, a failed
// delivery stays held, and a delivered one is gone.
func TestHeldNotifications(t *testing.T) {
	var answers atomic.Int32
	var fail atomic.Bool
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answers.Add(1)
		w.Write(wechat.NotifyReply(!fail.Load(), "")) //nolint:errcheck
	}))
	defer hook.Close()
	c, creds := newMerchant(t)
	u := newUser(t, creds.AppID)
	simulator.HoldNotifications(creds.MchID, true)
	defer simulator.HoldNotifications(creds.MchID, false)
	req, err := c.PrepayJSAPI(context.Background(), wechat.Prepay{OutTradeNo: "held1", Description: "x", TotalFen: 500, OpenID: u.OpenID,
		ClientIP: "1.2.3.4", NotifyURL: hook.URL, TimeExpire: simulator.Now().Add(15 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if err := simulator.Pay(strings.TrimPrefix(req.Package, "prepay_id="), u.OpenID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // a notification that was not held would have arrived
	if n := answers.Load(); n != 0 {
		t.Fatalf("%d notifications arrived while held", n)
	}
	if kinds := simulator.HeldNotifications(creds.MchID); len(kinds) != 1 || kinds[0] != "pay" {
		t.Fatalf("held %v", kinds)
	}
	fail.Store(true)
	if ok, err := simulator.DeliverHeld(creds.MchID, 0); ok || err != nil {
		t.Fatalf("a FAIL answer: %v %v", ok, err)
	}
	if len(simulator.HeldNotifications(creds.MchID)) != 1 {
		t.Fatal("a notification answered FAIL is no longer held")
	}
	fail.Store(false)
	if ok, err := simulator.DeliverHeld(creds.MchID, 0); !ok || err != nil {
		t.Fatalf("a SUCCESS answer: %v %v", ok, err)
	}
	if len(simulator.HeldNotifications(creds.MchID)) != 0 || answers.Load() != 2 {
		t.Fatalf("after delivery: held %v, %d answers", simulator.HeldNotifications(creds.MchID), answers.Load())
	}
	if _, err := simulator.DeliverHeld(creds.MchID, 0); err == nil {
		t.Fatal("delivered a notification that is not held")
	}
}
