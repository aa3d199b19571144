package wechat_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

func simAuth(appID, openID string, snapshot bool) sim.AuthRequest {
	return sim.AuthRequest{AppID: appID, OpenID: openID, Scope: wechat.ScopeBase, Snapshot: snapshot}
}

func jsonNumber(n int64) string { return strconv.FormatInt(n, 10) }

// notifyResult is what the merchant's notify endpoint made of one notification.
type notifyResult struct {
	n   wechat.PayNotify
	err error
}

// payNotifyServer is a merchant's notify endpoint: it verifies with ParsePayNotify, checks
// the amount against wantFen and answers as Fenxiao does.
func payNotifyServer(t *testing.T, c *wechat.Client, wantFen int64) (string, chan notifyResult) {
	got := make(chan notifyResult, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n, err := c.ParsePayNotify(body)
		if err == nil {
			err = n.CheckAmount(wantFen)
		}
		got <- notifyResult{n, err}
		w.Write(wechat.NotifyReply(err == nil, "")) //nolint:errcheck
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/pay/notify", got
}

func recv(t *testing.T, ch chan notifyResult) notifyResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no notification")
		return notifyResult{}
	}
}

func TestJSAPIPayNotifyQueryCloseRefund(t *testing.T) {
	c, creds := newClient(t)
	u := newUser(t, creds.AppID, true)
	notifyURL, notes := payNotifyServer(t, c, 2990)

	p := wechat.Prepay{OutTradeNo: "o1001", Description: "测试商品", TotalFen: 2990, OpenID: u.OpenID,
		ClientIP: "113.108.81.189", NotifyURL: notifyURL, TimeExpire: time.Now().Add(15 * time.Minute)}
	req, err := c.PrepayJSAPI(ctx(t), p)
	if err != nil {
		t.Fatal(err)
	}
	if req.AppID != creds.AppID || req.SignType != "MD5" || req.PaySign == "" || len(req.Package) < 11 {
		t.Fatalf("pay request %+v", req)
	}
	again, err := c.PrepayJSAPI(ctx(t), p)
	if err != nil || again.Package != req.Package {
		t.Fatalf("the same order again: %+v %v", again, err)
	}

	// The cashier checks paySign as WeChat does, then 确认支付.
	q := url.Values{"appId": {req.AppID}, "timeStamp": {req.TimeStamp}, "nonceStr": {req.NonceStr},
		"package": {req.Package}, "signType": {req.SignType}, "paySign": {req.PaySign}, "embed": {"1"}}
	_, page := get(t, simURL+"/pay/cashier?"+q.Encode())
	contains(t, page, "确认支付", "29.90", "测试商品")
	q.Set("paySign", tamper(req.PaySign))
	_, page = get(t, simURL+"/pay/cashier?"+q.Encode())
	contains(t, page, "支付验证签名失败")

	st, err := c.QueryOrder(ctx(t), "o1001")
	if err != nil || st.TradeState != "NOTPAY" {
		t.Fatalf("before paying: %+v %v", st, err)
	}
	prepayID := req.Package[len("prepay_id="):]
	_, page = postForm(t, simURL+"/pay/cashier", url.Values{"prepay_id": {prepayID}, "action": {"pay"}, "embed": {"1"}})
	contains(t, page, "支付成功", `wxsim:"pay"`)
	n := recv(t, notes)
	if n.err != nil || n.n.OutTradeNo != "o1001" || n.n.TotalFen != 2990 || n.n.OpenID != u.OpenID || n.n.TransactionID == "" {
		t.Fatalf("notification %+v", n)
	}

	st, err = c.QueryOrder(ctx(t), "o1001")
	if err != nil || st.TradeState != "SUCCESS" || st.TotalFen != 2990 || st.TransactionID != n.n.TransactionID || st.PaidAt.IsZero() {
		t.Fatalf("after paying: %+v %v", st, err)
	}
	err = c.CloseOrder(ctx(t), "o1001")
	wantKind(t, err, wechat.KindFailed)
	_, err = c.QueryOrder(ctx(t), "nope")
	wantKind(t, err, wechat.KindNotFound)

	// Refund, and its encrypted notification.
	refunds := make(chan wechat.RefundNotify, 1)
	rsrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rn, err := c.ParseRefundNotify(body)
		if err != nil {
			t.Errorf("refund notify: %v", err)
		}
		refunds <- rn
		w.Write(wechat.NotifyReply(err == nil, "")) //nolint:errcheck
	}))
	defer rsrv.Close()
	res, err := c.Refund(ctx(t), wechat.Refund{OutTradeNo: "o1001", OutRefundNo: "r1", TotalFen: 2990, RefundFen: 1000, NotifyURL: rsrv.URL})
	if err != nil || res.RefundFen != 1000 || res.RefundID == "" {
		t.Fatalf("refund %+v %v", res, err)
	}
	same, err := c.Refund(ctx(t), wechat.Refund{OutTradeNo: "o1001", OutRefundNo: "r1", TotalFen: 2990, RefundFen: 1000})
	if err != nil || same.RefundID != res.RefundID {
		t.Fatalf("refund replay %+v %v", same, err)
	}
	select {
	case rn := <-refunds:
		if rn.OutRefundNo != "r1" || rn.RefundFen != 1000 || rn.TotalFen != 2990 || rn.Status != "SUCCESS" || rn.RefundID != res.RefundID {
			t.Fatalf("refund notification %+v", rn)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no refund notification")
	}
	_, err = c.Refund(ctx(t), wechat.Refund{OutTradeNo: "o1001", OutRefundNo: "r2", TotalFen: 2990, RefundFen: 2000})
	wantKind(t, err, wechat.KindConfig) // more than is left
	if st, _ := c.QueryOrder(ctx(t), "o1001"); st.TradeState != "REFUND" {
		t.Fatalf("after refund: %+v", st)
	}
}

func TestNativePayThroughCodeURLAndClose(t *testing.T) {
	c, creds := newClient(t)
	notifyURL, notes := payNotifyServer(t, c, 100000)
	codeURL, err := c.PrepayNative(ctx(t), wechat.Prepay{OutTradeNo: "topup1", Description: "红包资产充值", TotalFen: 100000,
		ClientIP: "127.0.0.1", NotifyURL: notifyURL, ProductID: "topup"})
	if err != nil {
		t.Fatal(err)
	}
	resp, page := get(t, simURL+"/pay/native?code_url="+url.QueryEscape(codeURL))
	if resp != http.StatusFound {
		t.Fatalf("scanning %s: %d %s", codeURL, resp, page)
	}
	prepayID, err := simulator.PrepayIDOfCodeURL(codeURL)
	if err != nil {
		t.Fatal(err)
	}
	_, page = get(t, simURL+"/pay/cashier?prepay_id="+prepayID)
	contains(t, page, "扫码付款的微信用户", "1000.00")
	payer := newUser(t, creds.AppID, false)
	if err := simulator.Pay(prepayID, payer.OpenID); err != nil {
		t.Fatal(err)
	}
	if n := recv(t, notes); n.err != nil || n.n.TradeType != "NATIVE" || n.n.OpenID != payer.OpenID {
		t.Fatalf("notification %+v", n)
	}

	if _, err := c.PrepayNative(ctx(t), wechat.Prepay{OutTradeNo: "topup2", Description: "x", TotalFen: 1, ClientIP: "127.0.0.1", NotifyURL: notifyURL}); wechat.KindOf(err) != wechat.KindConfig {
		t.Fatalf("without product_id: %v", err)
	}
	if _, err := c.PrepayNative(ctx(t), wechat.Prepay{OutTradeNo: "topup2", Description: "x", TotalFen: 1, ClientIP: "127.0.0.1", NotifyURL: notifyURL, ProductID: "p"}); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseOrder(ctx(t), "topup2"); err != nil {
		t.Fatal(err)
	}
	if st, err := c.QueryOrder(ctx(t), "topup2"); err != nil || st.TradeState != "CLOSED" {
		t.Fatalf("closed: %+v %v", st, err)
	}
}

// Acceptance 2: extra fields verify; forged or amount-mismatched notifications are rejected.
func TestNotificationsExtraForgedWrongAmount(t *testing.T) {
	c, creds := newClient(t)
	u := newUser(t, creds.AppID, true)
	notifyURL, notes := payNotifyServer(t, c, 500)
	req, err := c.PrepayJSAPI(ctx(t), wechat.Prepay{OutTradeNo: "n1", Description: "x", TotalFen: 500, OpenID: u.OpenID, ClientIP: "1.2.3.4", NotifyURL: notifyURL})
	if err != nil {
		t.Fatal(err)
	}
	if err := simulator.Pay(req.Package[len("prepay_id="):], ""); err != nil {
		t.Fatal(err)
	}
	if n := recv(t, notes); n.err != nil {
		t.Fatal(n.err)
	}

	replies, err := simulator.SendPayNotify(creds.MchID, "n1", sim.NotifyOptions{Times: 2, Extra: map[string]string{
		"coupon_id_3": "C3", "coupon_fee_3": "1", "sub_mch_id": "1900000200", "settlement_total_fee": "500"}})
	if err != nil || len(replies) != 2 || replies[1] != string(wechat.NotifyReply(true, "")) {
		t.Fatalf("duplicates with extra fields: %q %v", replies, err)
	}
	for range 2 {
		if n := recv(t, notes); n.err != nil || n.n.OutTradeNo != "n1" {
			t.Fatalf("extra fields: %+v", n)
		}
	}

	if _, err := simulator.SendPayNotify(creds.MchID, "n1", sim.NotifyOptions{Forged: true}); err != nil {
		t.Fatal(err)
	}
	if n := recv(t, notes); !errors.Is(n.err, wechat.ErrSignature) {
		t.Fatalf("forged: %v", n.err)
	}
	if _, err := simulator.SendPayNotify(creds.MchID, "n1", sim.NotifyOptions{TotalFen: 1}); err != nil {
		t.Fatal(err)
	}
	if n := recv(t, notes); !errors.Is(n.err, wechat.ErrAmountMismatch) {
		t.Fatalf("wrong amount: %v", n.err)
	}

	other, _ := newClient(t)
	f := `<xml><appid>` + creds.AppID + `</appid></xml>`
	if _, err := other.ParsePayNotify([]byte(f)); !errors.Is(err, wechat.ErrSignature) {
		t.Fatalf("unsigned: %v", err)
	}
	if _, err := c.ParsePayNotify([]byte("not xml")); !errors.Is(err, wechat.ErrMalformed) {
		t.Fatalf("garbage: %v", err)
	}
}

func TestNotifyRetriesUntilSuccess(t *testing.T) {
	c, creds := newClient(t)
	u := newUser(t, creds.AppID, true)
	calls := make(chan int, 8)
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := int(n.Add(1))
		calls <- k
		w.Write(wechat.NotifyReply(k >= 3, "db down")) //nolint:errcheck
	}))
	defer srv.Close()
	req, err := c.PrepayJSAPI(ctx(t), wechat.Prepay{OutTradeNo: "retry1", Description: "x", TotalFen: 100, OpenID: u.OpenID, ClientIP: "1.2.3.4", NotifyURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := simulator.Pay(req.Package[len("prepay_id="):], ""); err != nil {
		t.Fatal(err)
	}
	for want := 1; want <= 3; want++ {
		select {
		case got := <-calls:
			if got != want {
				t.Fatalf("call %d", got)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("attempt %d never came", want)
		}
	}
	time.Sleep(200 * time.Millisecond) // the compressed schedule's next step would be 3m/10000
	for _, p := range simulator.Ledger().Payments {
		if p.OutTradeNo == "retry1" && (p.NotifyAttempts != 3 || !p.NotifyDelivered) {
			t.Fatalf("payment %+v", p)
		}
	}
	select {
	case got := <-calls:
		t.Fatalf("call %d after SUCCESS", got)
	default:
	}
}

// A reply missing its fields makes the SDK's QueryOrder and CloseOrder dereference nil; the
// adapter turns that into an error of unknown outcome instead of a crash.
func TestMalformedAnswersNeverPanic(t *testing.T) {
	c, creds := newClient(t)
	for _, ep := range []string{"orderquery", "closeorder", "unifiedorder", "refund", "refundquery", "sendredpack", "gethbinfo"} {
		if err := simulator.InjectFault(sim.Fault{Endpoint: ep, Fault: sim.FaultMalformed, Merchant: creds.MchID}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.QueryOrder(ctx(t), "o1")
	wantKind(t, err, wechat.KindUnknown)
	wantKind(t, c.CloseOrder(ctx(t), "o1"), wechat.KindUnknown)
	_, err = c.PrepayJSAPI(ctx(t), wechat.Prepay{OutTradeNo: "m1", Description: "x", TotalFen: 1, OpenID: "o", ClientIP: "1.2.3.4", NotifyURL: "http://x/"})
	wantKind(t, err, wechat.KindUnknown)
	_, err = c.Refund(ctx(t), wechat.Refund{OutTradeNo: "o1", OutRefundNo: "r", TotalFen: 1, RefundFen: 1})
	wantKind(t, err, wechat.KindUnknown)
	_, err = c.SendRedPacket(ctx(t), packet("m1", "o", 100))
	wantKind(t, err, wechat.KindUnknown)
	_, err = c.RedPacketInfo(ctx(t), "m1")
	wantKind(t, err, wechat.KindUnknown)
	_, err = c.QueryRefund(ctx(t), "o1")
	wantKind(t, err, wechat.KindUnknown)
}

// closeorder tells the order's real state when it cannot close it: ORDERCLOSED for one
// already closed, ORDERPAID for one paid (or refunded, which was paid).
func TestCloseOrderAnswersTheOrdersState(t *testing.T) {
	c, creds := newClient(t)
	place := func(t *testing.T, no string) string {
		u := newUser(t, creds.AppID, true)
		req, err := c.PrepayJSAPI(ctx(t), wechat.Prepay{OutTradeNo: no, Description: "x", TotalFen: 100, OpenID: u.OpenID,
			ClientIP: "1.2.3.4", NotifyURL: "http://127.0.0.1:1/"}) // nobody listens: the notifications just fail
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimPrefix(req.Package, "prepay_id=")
	}
	tests := []struct {
		state string
		setup func(t *testing.T, no string) // leaves order no in state
		kind  wechat.Kind
		code  string
	}{
		{"NOTPAY", func(t *testing.T, no string) { place(t, no) }, wechat.KindNone, ""},
		{"CLOSED", func(t *testing.T, no string) {
			place(t, no)
			if err := c.CloseOrder(ctx(t), no); err != nil {
				t.Fatal(err)
			}
		}, wechat.KindFailed, "ORDERCLOSED"},
		{"SUCCESS", func(t *testing.T, no string) {
			if err := simulator.Pay(place(t, no), ""); err != nil {
				t.Fatal(err)
			}
		}, wechat.KindFailed, "ORDERPAID"},
		{"REFUND", func(t *testing.T, no string) {
			if err := simulator.Pay(place(t, no), ""); err != nil {
				t.Fatal(err)
			}
			if _, err := simulator.RefundInPlatform(creds.MchID, no, 50, ""); err != nil {
				t.Fatal(err)
			}
		}, wechat.KindFailed, "ORDERPAID"},
		{"unknown", func(*testing.T, string) {}, wechat.KindNotFound, "ORDERNOTEXIST"},
	}
	for _, tc := range tests {
		t.Run(tc.state, func(t *testing.T) {
			no := "close" + tc.state
			tc.setup(t, no)
			if st, err := c.QueryOrder(ctx(t), no); tc.state != "unknown" && st.TradeState != tc.state {
				t.Fatalf("set-up left %+v %v", st, err)
			}
			err := c.CloseOrder(ctx(t), no)
			var we *wechat.Error
			if wechat.KindOf(err) != tc.kind || (err != nil && (!errors.As(err, &we) || we.Code != tc.code)) {
				t.Fatalf("close: %v, want %v %s", err, tc.kind, tc.code)
			}
			if st, _ := c.QueryOrder(ctx(t), no); tc.state != "unknown" && tc.state != "NOTPAY" && st.TradeState != tc.state {
				t.Fatalf("a refused close changed the order: %+v", st)
			}
		})
	}
}

// The race PayLate stands for: the merchant closed the order, the payment went through
// anyway, and the notification arrives for an order the merchant thinks is dead.
func TestPaymentAfterClose(t *testing.T) {
	c, creds := newClient(t)
	u := newUser(t, creds.AppID, true)
	notifyURL, notes := payNotifyServer(t, c, 700)
	req, err := c.PrepayJSAPI(ctx(t), wechat.Prepay{OutTradeNo: "late1", Description: "x", TotalFen: 700, OpenID: u.OpenID,
		ClientIP: "1.2.3.4", NotifyURL: notifyURL})
	if err != nil {
		t.Fatal(err)
	}
	prepayID := strings.TrimPrefix(req.Package, "prepay_id=")
	if err := c.CloseOrder(ctx(t), "late1"); err != nil {
		t.Fatal(err)
	}
	if err := simulator.Pay(prepayID, ""); !errors.Is(err, sim.ErrState) {
		t.Fatalf("the cashier pays a closed order: %v", err)
	}
	if err := simulator.PayLate(prepayID, ""); err != nil {
		t.Fatal(err)
	}
	n := recv(t, notes)
	if n.err != nil || n.n.OutTradeNo != "late1" || n.n.TransactionID == "" || n.n.OpenID != u.OpenID {
		t.Fatalf("late notification %+v", n)
	}
	st, err := c.QueryOrder(ctx(t), "late1")
	if err != nil || st.TradeState != "SUCCESS" || st.TransactionID != n.n.TransactionID {
		t.Fatalf("after the late payment: %+v %v", st, err)
	}
	var we *wechat.Error
	if err := c.CloseOrder(ctx(t), "late1"); !errors.As(err, &we) || we.Code != "ORDERPAID" {
		t.Fatalf("closing it again: %v", err)
	}
	if err := simulator.PayLate(prepayID, ""); !errors.Is(err, sim.ErrState) {
		t.Fatalf("paid twice: %v", err)
	}
	if err := simulator.PayLate("nope", ""); !errors.Is(err, sim.ErrNotFound) {
		t.Fatalf("unknown prepay_id: %v", err)
	}
}

// tamper changes the first character of a signature (to one it is not).
func tamper(sign string) string {
	if sign[0] == '0' {
		return "1" + sign[1:]
	}
	return "0" + sign[1:]
}
