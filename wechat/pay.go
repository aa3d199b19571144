package wechat

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/silenceper/wechat/v2/pay/notify"
	"github.com/silenceper/wechat/v2/pay/order"
	"github.com/silenceper/wechat/v2/util"
)

// chinaTime is WeChat Pay's clock (UTC+8, no daylight saving): time_expire, time_end.
var chinaTime = time.FixedZone("CST", 8*3600)

const wechatTimeLayout = "20060102150405"

// Prepay is an order to pay with WeChat Pay.
type Prepay struct {
	OutTradeNo  string // the merchant's order number, unique per mch_id
	Description string // shown to the payer ("body")
	TotalFen    int64
	OpenID      string // the payer; JSAPI only
	ClientIP    string
	NotifyURL   string
	TimeExpire  time.Time // zero: WeChat's default of 2 hours
	ProductID   string    // Native only (WeChat requires it there)
	Attach      string    // returned as is in the notification and query (≤ 127 bytes)
}

// PayRequest is what WeixinJSBridge.invoke('getBrandWCPayRequest', …) takes, in its JSON
// shape. The SDK's BridgeConfig lacks appId and spells timestamp in lower case.
type PayRequest struct {
	AppID     string `json:"appId"`
	TimeStamp string `json:"timeStamp"`
	NonceStr  string `json:"nonceStr"`
	Package   string `json:"package"`
	SignType  string `json:"signType"`
	PaySign   string `json:"paySign"`
}

// PrepayJSAPI places a JSAPI order for p.OpenID (unifiedorder) and signs the parameters the
// page passes to getBrandWCPayRequest. Placing the same OutTradeNo again with the same
// fields gives the same prepay_id.
func (c *Client) PrepayJSAPI(ctx context.Context, p Prepay) (PayRequest, error) {
	const op = "unifiedorder"
	if err := c.needPay(op, false); err != nil {
		return PayRequest{}, err
	}
	params := &order.Params{
		TotalFee: strconv.FormatInt(p.TotalFen, 10), CreateIP: p.ClientIP, Body: p.Description,
		OutTradeNo: p.OutTradeNo, OpenID: p.OpenID, TradeType: "JSAPI", NotifyURL: p.NotifyURL,
		SignType: util.SignTypeMD5, Attach: p.Attach,
	}
	if !p.TimeExpire.IsZero() {
		params.TimeExpire = p.TimeExpire.In(chinaTime).Format(wechatTimeLayout)
	}
	po, err := bounded(ctx, c, op, func() (order.PreOrder, error) {
		po, err := c.pay.GetOrder().PrePayOrder(params)
		if err != nil && po.ReturnCode != "" {
			err = payError(op, answer{"return_code": po.ReturnCode, "return_msg": po.ReturnMsg,
				"result_code": po.ResultCode, "err_code": po.ErrCode, "err_code_des": po.ErrCodeDes})
		}
		return po, err
	})
	if err != nil {
		return PayRequest{}, errTransport(op, err)
	}
	if po.PrePayID == "" {
		return PayRequest{}, &Error{Kind: KindUnknown, Op: op, Message: "answer without prepay_id"}
	}
	req := map[string]string{
		"appId":     c.creds.AppID,
		"timeStamp": strconv.FormatInt(time.Now().Unix(), 10),
		"nonceStr":  util.RandomStr(32),
		"package":   "prepay_id=" + po.PrePayID,
		"signType":  util.SignTypeMD5,
	}
	s, err := sign(req, c.creds.APIKey) // no sign_type key: MD5, which signType says
	if err != nil {
		return PayRequest{}, &Error{Kind: KindConfig, Op: op, Err: err}
	}
	return PayRequest{AppID: req["appId"], TimeStamp: req["timeStamp"], NonceStr: req["nonceStr"],
		Package: req["package"], SignType: req["signType"], PaySign: s}, nil
}

// PrepayNative places a Native order and returns its code_url (weixin://wxpay/bizpayurl?…),
// to be shown as a QR code. Written by hand: the SDK's order.Params cannot carry the
// product_id WeChat requires for trade_type NATIVE.
func (c *Client) PrepayNative(ctx context.Context, p Prepay) (string, error) {
	const op = "unifiedorder"
	if err := c.needPay(op, false); err != nil {
		return "", err
	}
	if p.ProductID == "" {
		return "", &Error{Kind: KindConfig, Op: op, Message: "Native pay needs a product_id"}
	}
	params := map[string]string{
		"appid": c.creds.AppID, "mch_id": c.creds.MchID, "nonce_str": util.RandomStr(32),
		"body": p.Description, "out_trade_no": p.OutTradeNo, "total_fee": strconv.FormatInt(p.TotalFen, 10),
		"spbill_create_ip": p.ClientIP, "notify_url": p.NotifyURL, "trade_type": "NATIVE",
		"product_id": p.ProductID, "sign_type": util.SignTypeMD5,
	}
	if !p.TimeExpire.IsZero() {
		params["time_expire"] = p.TimeExpire.In(chinaTime).Format(wechatTimeLayout)
	}
	a, _, err := c.post(ctx, op, "/pay/unifiedorder", params)
	if err != nil {
		return "", err
	}
	if a["code_url"] == "" {
		return "", &Error{Kind: KindUnknown, Op: op, Message: "answer without code_url"}
	}
	return a["code_url"], nil
}

// OrderState is the answer of orderquery.
type OrderState struct {
	// TradeState is SUCCESS, REFUND, NOTPAY, CLOSED, REVOKED, USERPAYING or PAYERROR.
	TradeState    string
	TransactionID string
	OutTradeNo    string
	OpenID        string
	TotalFen      int64
	PaidAt        time.Time // time_end, for paid orders
}

// QueryOrder asks for an order's state, for orders whose notification never came. An unknown
// order is a KindNotFound error. A malformed answer is an error, never a panic.
func (c *Client) QueryOrder(ctx context.Context, outTradeNo string) (OrderState, error) {
	const op = "orderquery"
	if err := c.needPay(op, false); err != nil {
		return OrderState{}, err
	}
	r, err := bounded(ctx, c, op, func() (notify.PaidResult, error) {
		r, err := c.pay.GetOrder().QueryOrder(&order.QueryParams{OutTradeNo: outTradeNo})
		if err != nil && r.ReturnCode != nil {
			err = payError(op, answer{"return_code": deref(r.ReturnCode), "return_msg": deref(r.ReturnMsg),
				"result_code": deref(r.ResultCode), "err_code": deref(r.ErrCode), "err_code_des": deref(r.ErrCodeDes)})
		}
		return r, err
	})
	if err != nil {
		return OrderState{}, errTransport(op, err)
	}
	st := OrderState{
		TradeState: deref(r.TradeState), TransactionID: deref(r.TransactionID),
		OutTradeNo: deref(r.OutTradeNo), OpenID: deref(r.OpenID),
	}
	if r.TotalFee != nil {
		st.TotalFen = int64(*r.TotalFee)
	}
	if st.TradeState == "" {
		return OrderState{}, &Error{Kind: KindUnknown, Op: op, Message: "answer without trade_state"}
	}
	if t, err := time.ParseInLocation(wechatTimeLayout, deref(r.TimeEnd), chinaTime); err == nil {
		st.PaidAt = t
	}
	return st, nil
}

// CloseOrder closes an unpaid order so it can no longer be paid. Closing a paid order is a
// KindFailed error with code ORDERPAID.
func (c *Client) CloseOrder(ctx context.Context, outTradeNo string) error {
	const op = "closeorder"
	if err := c.needPay(op, false); err != nil {
		return err
	}
	_, err := bounded(ctx, c, op, func() (struct{}, error) {
		r, err := c.pay.GetOrder().CloseOrder(&order.CloseParams{OutTradeNo: outTradeNo})
		if err != nil && r.ReturnCode != nil {
			err = payError(op, answer{"return_code": deref(r.ReturnCode), "return_msg": deref(r.ReturnMsg),
				"result_code": deref(r.ResultCode), "err_code": deref(r.ErrCode), "err_code_des": deref(r.ErrCodeDes)})
		}
		return struct{}{}, err
	})
	return errTransport(op, err)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// post signs params, posts them as XML to the pay API path (presenting the client
// certificate when the client has one) and returns the answer, which must be a success.
// Answers that carry a sign must verify: a forged or garbled one leaves the outcome unknown.
func (c *Client) post(ctx context.Context, op, path string, params map[string]string) (answer, []byte, error) {
	s, err := sign(params, c.creds.APIKey)
	if err != nil {
		return nil, nil, &Error{Kind: KindConfig, Op: op, Err: err}
	}
	params["sign"] = s
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.mchURL(path), bytes.NewReader(encodeXML(params)))
	if err != nil {
		return nil, nil, &Error{Kind: KindConfig, Op: op, Err: err}
	}
	req.Header.Set("Content-Type", "application/xml; charset=utf-8")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, errTransport(op, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, errTransport(op, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, &Error{Kind: KindUnknown, Op: op, Message: fmt.Sprintf("HTTP %d", resp.StatusCode)}
	}
	a, err := parseXML(body)
	if err != nil {
		return nil, nil, &Error{Kind: KindUnknown, Op: op, Err: err}
	}
	if a["sign"] != "" && a["return_code"] == "SUCCESS" {
		if err := verify(a, c.creds.APIKey); err != nil {
			return nil, nil, &Error{Kind: KindUnknown, Op: op, Err: err}
		}
	}
	return a, body, payError(op, a)
}
