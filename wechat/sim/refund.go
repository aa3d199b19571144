package sim

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Where a refund was asked for, as refund notifications report it in refund_request_source.
const (
	sourceAPI      = "API"
	sourcePlatform = "VENDOR_PLATFORM" // the merchant platform (商户平台), by a person
)

// RefundRecord is one refund the simulator accepted.
type RefundRecord struct {
	MchID           string    `json:"mch_id"`
	OutTradeNo      string    `json:"out_trade_no"`
	OutRefundNo     string    `json:"out_refund_no"`
	RefundID        string    `json:"refund_id"`
	RefundFen       int64     `json:"refund_fee"`
	Source          string    `json:"refund_request_source"` // API or VENDOR_PLATFORM
	At              time.Time `json:"at"`
	NotifyURL       string    `json:"notify_url,omitempty"`
	NotifyDelivered bool      `json:"notify_delivered"`
}

func (s *Server) handleRefund(w http.ResponseWriter, r *http.Request) {
	s.payHandler("refund", "appid", true, func(m *merchant, req map[string]string) (map[string]string, string) {
		return s.refund(m, req), ""
	})(w, r)
}

func (s *Server) handleRefundQuery(w http.ResponseWriter, r *http.Request) {
	s.payHandler("refundquery", "appid", true, func(m *merchant, req map[string]string) (map[string]string, string) {
		return s.refundQuery(m, req), ""
	})(w, r)
}

// refundOf returns o's refund numbered outRefundNo, or nil.
func (o *order) refundOf(outRefundNo string) *RefundRecord {
	for _, rf := range o.refunds {
		if rf.OutRefundNo == outRefundNo {
			return rf
		}
	}
	return nil
}

// refund refunds at once and notifies the refund's notify_url. out_refund_no is idempotent.
func (s *Server) refund(m *merchant, req map[string]string) map[string]string {
	o := s.findOrder(m, req)
	total, err1 := strconv.ParseInt(req["total_fee"], 10, 64)
	amount, err2 := strconv.ParseInt(req["refund_fee"], 10, 64)
	switch {
	case o == nil:
		return fail("ORDERNOTEXIST")
	case req["out_refund_no"] == "" || err1 != nil || err2 != nil || amount <= 0:
		return fail("PARAM_ERROR")
	case o.State != "SUCCESS" && o.State != "REFUND":
		return fail("TRADE_STATE_ERROR")
	case total != o.TotalFen:
		return fail("PARAM_ERROR")
	}
	rf := o.refundOf(req["out_refund_no"])
	if rf != nil && rf.RefundFen != amount {
		return fail("PARAM_ERROR")
	}
	if rf == nil {
		if o.RefundedFen+amount > o.TotalFen {
			return map[string]string{"result_code": "FAIL", "err_code": "PARAM_ERROR", "err_code_des": "累计退款金额大于支付金额"}
		}
		rf = s.addRefund(m, o, req["out_refund_no"], amount, req["notify_url"], sourceAPI)
	}
	return map[string]string{"result_code": "SUCCESS", "transaction_id": o.TransactionID, "out_trade_no": o.OutTradeNo,
		"out_refund_no": rf.OutRefundNo, "refund_id": rf.RefundID, "refund_fee": strconv.FormatInt(rf.RefundFen, 10),
		"total_fee": strconv.FormatInt(o.TotalFen, 10), "cash_fee": strconv.FormatInt(o.TotalFen, 10)}
}

// addRefund records a refund of o that the caller has checked fits in what is left, and
// starts its notification. Caller holds s.mu.
func (s *Server) addRefund(m *merchant, o *order, outRefundNo string, fen int64, notifyURL, source string) *RefundRecord {
	rf := &RefundRecord{MchID: m.mchID, OutTradeNo: o.OutTradeNo, OutRefundNo: outRefundNo,
		RefundID: fmt.Sprintf("5030%024d", s.id()), RefundFen: fen, Source: source, At: s.now(), NotifyURL: notifyURL}
	o.refunds = append(o.refunds, rf)
	o.RefundedFen += fen
	o.State = "REFUND"
	if rf.NotifyURL != "" {
		s.startRefundNotify(m, o, rf)
	}
	return rf
}

// refundQuery lists an order's refunds, found by out_trade_no or transaction_id, numbered
// refund_$n from 0 in the order they were made. The simulator refunds at once, so every
// refund is SUCCESS. An order without refunds, or none at all, is REFUNDNOTEXIST: WeChat's
// refundquery has no ORDERNOTEXIST.
func (s *Server) refundQuery(m *merchant, req map[string]string) map[string]string {
	o := s.findOrder(m, req)
	if o == nil || len(o.refunds) == 0 {
		return fail("REFUNDNOTEXIST")
	}
	total := strconv.FormatInt(o.TotalFen, 10)
	ans := map[string]string{"result_code": "SUCCESS", "transaction_id": o.TransactionID, "out_trade_no": o.OutTradeNo,
		"total_fee": total, "settlement_total_fee": total, "fee_type": "CNY", "cash_fee": total,
		"refund_count": strconv.Itoa(len(o.refunds))}
	for n, rf := range o.refunds {
		i, amount := strconv.Itoa(n), strconv.FormatInt(rf.RefundFen, 10)
		ans["out_refund_no_"+i], ans["refund_id_"+i] = rf.OutRefundNo, rf.RefundID
		ans["refund_channel_"+i], ans["refund_fee_"+i], ans["settlement_refund_fee_"+i] = "ORIGINAL", amount, amount
		ans["refund_status_"+i], ans["refund_account_"+i] = "SUCCESS", "REFUND_SOURCE_RECHARGE_FUNDS"
		ans["refund_recv_accout_"+i] = "支付用户的零钱"
		ans["refund_success_time_"+i] = rf.At.In(chinaTime).Format("2006-01-02 15:04:05")
	}
	return ans
}

// RefundInPlatform refunds fen of a paid order as a person does in WeChat Pay's merchant
// platform, outside the API: Fenxiao never asked for it and learns of it only from the
// refund notification (refund_request_source VENDOR_PLATFORM), orderquery's trade_state
// REFUND or refundquery. A partial refund is allowed; more than is left is refused. The
// out_refund_no is made up here, as WeChat does for platform refunds. An empty notifyURL
// sends no notification (a merchant without a refund notify URL configured).
func (s *Server) RefundInPlatform(mchID, outTradeNo string, fen int64, notifyURL string) (RefundRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.byMch[mchID]
	if m == nil {
		return RefundRecord{}, ErrUnknownMerchant
	}
	o := s.orders[mchID+"/"+outTradeNo]
	switch {
	case o == nil:
		return RefundRecord{}, ErrNotFound
	case o.State != "SUCCESS" && o.State != "REFUND":
		return RefundRecord{}, fmt.Errorf("%w: the order is %s, not paid", ErrState, o.State)
	case fen <= 0:
		return RefundRecord{}, fmt.Errorf("%w: a refund of %d fen", ErrState, fen)
	case o.RefundedFen+fen > o.TotalFen:
		return RefundRecord{}, fmt.Errorf("%w: refunding %d fen, but only %d of the order's %d fen are left to refund",
			ErrState, fen, o.TotalFen-o.RefundedFen, o.TotalFen)
	}
	outRefundNo := fmt.Sprintf("VP%s%010d", s.now().In(chinaTime).Format("20060102150405"), s.id())
	return *s.addRefund(m, o, outRefundNo, fen, notifyURL, sourcePlatform), nil
}
