package wechat

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/silenceper/wechat/v2/pay/refund"
	"github.com/silenceper/wechat/v2/util"
)

// Refund asks WeChat to return RefundFen of a paid order. OutRefundNo makes it idempotent:
// the same number is one refund however often it is sent.
type Refund struct {
	OutTradeNo  string
	OutRefundNo string
	TotalFen    int64 // the order's amount
	RefundFen   int64
	Reason      string
	NotifyURL   string // where the refund notification goes (ParseRefundNotify)
}

// RefundResult is WeChat's acceptance of a refund; the money moves later and the refund
// notification says when.
type RefundResult struct {
	RefundID  string
	RefundFen int64
}

// Refund requests a refund through the SDK (client certificate, from the client's private
// copy of the .p12).
func (c *Client) Refund(ctx context.Context, r Refund) (RefundResult, error) {
	const op = "refund"
	if err := c.needPay(op, true); err != nil {
		return RefundResult{}, err
	}
	params := &refund.Params{
		OutTradeNo: r.OutTradeNo, OutRefundNo: r.OutRefundNo, RefundDesc: r.Reason,
		TotalFee: strconv.FormatInt(r.TotalFen, 10), RefundFee: strconv.FormatInt(r.RefundFen, 10),
		NotifyURL: r.NotifyURL, RootCa: c.certPath,
	}
	rsp, err := bounded(ctx, c, op, func() (refund.Response, error) {
		rsp, err := c.pay.GetRefund().Refund(params)
		if err != nil && rsp.ReturnCode != "" {
			err = payError(op, answer{"return_code": rsp.ReturnCode, "return_msg": rsp.ReturnMsg,
				"result_code": rsp.ResultCode, "err_code": rsp.ErrCode, "err_code_des": rsp.ErrCodeDes})
		}
		return rsp, err
	})
	if err != nil {
		return RefundResult{}, errTransport(op, err)
	}
	fen, _ := strconv.ParseInt(rsp.RefundFee, 10, 64)
	return RefundResult{RefundID: rsp.RefundID, RefundFen: fen}, nil
}

// Refund statuses of refundquery (refund_status_$n) and of refund notifications.
const (
	RefundSuccess    = "SUCCESS"
	RefundClosed     = "REFUNDCLOSE"
	RefundProcessing = "PROCESSING"
	RefundChange     = "CHANGE" // failed (the payer's bank card is frozen or cancelled): needs a person
)

// RefundState is what refundquery tells about an order's refunds, whoever asked for them:
// refunds a person made in the merchant platform appear here too, under out_refund_no values
// this code never minted.
type RefundState struct {
	RefundedFen int64 // the sum of the refunds whose status is SUCCESS
	Processing  bool  // some refund is still PROCESSING: RefundedFen may grow
	Refunds     []RefundItem
}

// RefundItem is one refund of an order (refund_$n of refundquery).
type RefundItem struct {
	OutRefundNo string
	RefundID    string
	Status      string // one of the Refund… constants, or a status WeChat adds later
	Fen         int64
	SucceededAt time.Time // zero unless SUCCESS
}

// QueryRefund lists the refunds of an order (refundquery). Written by hand: the SDK has no
// refund query. It needs no client certificate. An order without refunds (or unknown to
// WeChat, which answers both with REFUNDNOTEXIST) is a KindNotFound error; an answer that
// lacks refund_count or whose amounts do not parse is KindUnknown.
func (c *Client) QueryRefund(ctx context.Context, outTradeNo string) (RefundState, error) {
	const op = "refundquery"
	if err := c.needPay(op, false); err != nil {
		return RefundState{}, err
	}
	a, _, err := c.post(ctx, op, "/pay/refundquery", map[string]string{
		"appid": c.creds.AppID, "mch_id": c.creds.MchID, "nonce_str": util.RandomStr(32), "out_trade_no": outTradeNo,
	})
	if err != nil {
		return RefundState{}, err
	}
	return parseRefundState(op, outTradeNo, a)
}

// maxRefunds bounds refund_count: WeChat allows at most 50 partial refunds of one order, and
// a garbled count must not make the loop below run for ever.
const maxRefunds = 50

// parseRefundState reads a successful refundquery answer. Amounts and statuses are money, so
// one that is missing or does not parse makes the whole answer unknown rather than a smaller
// sum; a success time that does not parse is only left zero, as in QueryOrder.
func parseRefundState(op, outTradeNo string, a answer) (RefundState, error) {
	malformed := func(format string, args ...any) (RefundState, error) {
		return RefundState{}, &Error{Kind: KindUnknown, Op: op, Message: fmt.Sprintf(format, args...)}
	}
	if got := a["out_trade_no"]; got != "" && got != outTradeNo {
		return malformed("answer is about order %q, not %q", got, outTradeNo)
	}
	count, err := strconv.Atoi(a["refund_count"])
	if err != nil || count < 0 || count > maxRefunds {
		return malformed("refund_count %q", a["refund_count"])
	}
	if total := a["total_refund_count"]; total != "" && total != a["refund_count"] {
		// WeChat pages orders with many partial refunds (offset); a page is not the sum.
		return malformed("answer lists %d of %s refunds", count, total)
	}
	st := RefundState{Refunds: make([]RefundItem, 0, count)}
	for n := range count {
		i := strconv.Itoa(n)
		it := RefundItem{OutRefundNo: a["out_refund_no_"+i], RefundID: a["refund_id_"+i], Status: a["refund_status_"+i]}
		fen, err := strconv.ParseInt(a["refund_fee_"+i], 10, 64)
		if err != nil || fen <= 0 {
			return malformed("refund_fee_%d %q", n, a["refund_fee_"+i])
		}
		if it.Status == "" || it.OutRefundNo == "" {
			return malformed("refund %d without refund_status or out_refund_no", n)
		}
		it.Fen = fen
		if t, err := time.ParseInLocation("2006-01-02 15:04:05", a["refund_success_time_"+i], chinaTime); err == nil {
			it.SucceededAt = t
		}
		switch it.Status {
		case RefundSuccess:
			st.RefundedFen += fen
		case RefundProcessing:
			st.Processing = true
		}
		st.Refunds = append(st.Refunds, it)
	}
	return st, nil
}
