package wechat

import (
	"context"
	"strconv"

	"github.com/silenceper/wechat/v2/pay/refund"
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
