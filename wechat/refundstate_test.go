package wechat

import (
	"testing"
	"time"
)

// refundquery answers are read field by field from a map: every way one can be garbled must
// be an error of unknown outcome, never a panic or a smaller sum.
func TestParseRefundState(t *testing.T) {
	ok := func(extra ...string) answer {
		a := answer{"return_code": "SUCCESS", "result_code": "SUCCESS", "out_trade_no": "o1", "refund_count": "2",
			"out_refund_no_0": "r1", "refund_id_0": "5030001", "refund_fee_0": "100", "refund_status_0": "SUCCESS",
			"out_refund_no_1": "r2", "refund_id_1": "5030002", "refund_fee_1": "50", "refund_status_1": "PROCESSING",
			"refund_success_time_0": "2026-03-01 12:00:05"}
		for i := 0; i+1 < len(extra); i += 2 {
			if extra[i+1] == "-" {
				delete(a, extra[i])
			} else {
				a[extra[i]] = extra[i+1]
			}
		}
		return a
	}
	tests := []struct {
		name       string
		a          answer
		refunded   int64
		processing bool
		n          int
		bad        bool
	}{
		{name: "success and processing", a: ok(), refunded: 100, processing: true, n: 2},
		{name: "closed and change count nothing", a: ok("refund_status_0", "REFUNDCLOSE", "refund_status_1", "CHANGE"), n: 2},
		{name: "a status WeChat adds later is kept, not summed", a: ok("refund_status_1", "SOMETHING_NEW"), refunded: 100, n: 2},
		{name: "no refunds", a: answer{"refund_count": "0"}},
		{name: "unparsable success time is left zero", a: ok("refund_success_time_0", "yesterday"), refunded: 100, processing: true, n: 2},
		{name: "all pages", a: ok("total_refund_count", "2"), refunded: 100, processing: true, n: 2},
		{name: "no refund_count", a: ok("refund_count", "-"), bad: true},
		{name: "refund_count not a number", a: ok("refund_count", "two"), bad: true},
		{name: "negative refund_count", a: ok("refund_count", "-1"), bad: true},
		{name: "absurd refund_count", a: ok("refund_count", "1000000000"), bad: true},
		{name: "fewer refunds than counted", a: ok("refund_count", "3"), bad: true},
		{name: "fee in yuan", a: ok("refund_fee_0", "1.00"), bad: true},
		{name: "fee missing", a: ok("refund_fee_1", "-"), bad: true},
		{name: "fee zero", a: ok("refund_fee_0", "0"), bad: true},
		{name: "fee overflows", a: ok("refund_fee_0", "99999999999999999999"), bad: true},
		{name: "status missing", a: ok("refund_status_0", "-"), bad: true},
		{name: "out_refund_no missing", a: ok("out_refund_no_1", "-"), bad: true},
		{name: "another order", a: ok("out_trade_no", "o2"), bad: true},
		{name: "one page of many", a: ok("total_refund_count", "12"), bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := parseRefundState("refundquery", "o1", tc.a)
			if tc.bad {
				if KindOf(err) != KindUnknown {
					t.Fatalf("%+v, %v: want a KindUnknown error", st, err)
				}
				return
			}
			if err != nil || st.RefundedFen != tc.refunded || st.Processing != tc.processing || len(st.Refunds) != tc.n {
				t.Fatalf("%+v, %v", st, err)
			}
		})
	}

	st, _ := parseRefundState("refundquery", "o1", ok())
	want := RefundItem{OutRefundNo: "r1", RefundID: "5030001", Status: RefundSuccess, Fen: 100,
		SucceededAt: time.Date(2026, 3, 1, 12, 0, 5, 0, chinaTime)}
	if got := st.Refunds[0]; got.OutRefundNo != want.OutRefundNo || got.RefundID != want.RefundID ||
		got.Status != want.Status || got.Fen != want.Fen || !got.SucceededAt.Equal(want.SucceededAt) {
		t.Fatalf("refund 0: %+v, want %+v", got, want)
	}
	if got := st.Refunds[1]; got.OutRefundNo != "r2" || got.Status != RefundProcessing || !got.SucceededAt.IsZero() {
		t.Fatalf("refund 1: %+v", got)
	}
}
