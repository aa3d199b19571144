package wechat

import (
	"bytes"
	"crypto/aes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/silenceper/wechat/v2/util"
)

// PayNotify is a verified payment notification.
type PayNotify struct {
	AppID         string
	MchID         string
	OutTradeNo    string
	TransactionID string
	OpenID        string
	TradeType     string
	TotalFen      int64
	PaidAt        time.Time
	Attach        string
}

// ParsePayNotify verifies a payment notification over its raw XML: every field counts in the
// signature, including ones this code has never heard of (the SDK's PaidVerifySign drops
// them and fails, and panics on a missing sign). It then checks that the notification is
// for this merchant and says SUCCESS. The caller must still compare TotalFen with its own
// order (CheckAmount) before marking anything paid, and treat duplicates as normal.
func (c *Client) ParsePayNotify(body []byte) (PayNotify, error) {
	a, err := parseXML(body)
	if err != nil {
		return PayNotify{}, err
	}
	if err := verify(a, c.creds.APIKey); err != nil {
		return PayNotify{}, err
	}
	if a["appid"] != c.creds.AppID || a["mch_id"] != c.creds.MchID {
		return PayNotify{}, fmt.Errorf("%w: appid %q mch_id %q", ErrForeign, a["appid"], a["mch_id"])
	}
	if !a.ok() {
		return PayNotify{}, fmt.Errorf("%w: not a success: %s %s", ErrMalformed, a["return_code"], a["result_code"])
	}
	fen, err := strconv.ParseInt(a["total_fee"], 10, 64)
	if err != nil || fen <= 0 || a["out_trade_no"] == "" || a["transaction_id"] == "" {
		return PayNotify{}, fmt.Errorf("%w: missing total_fee, out_trade_no or transaction_id", ErrMalformed)
	}
	n := PayNotify{
		AppID: a["appid"], MchID: a["mch_id"], OutTradeNo: a["out_trade_no"],
		TransactionID: a["transaction_id"], OpenID: a["openid"], TradeType: a["trade_type"],
		TotalFen: fen, Attach: a["attach"],
	}
	if t, err := time.ParseInLocation(wechatTimeLayout, a["time_end"], chinaTime); err == nil {
		n.PaidAt = t
	}
	return n, nil
}

// CheckAmount returns ErrAmountMismatch unless the notification paid exactly orderFen.
func (n PayNotify) CheckAmount(orderFen int64) error {
	if n.TotalFen != orderFen {
		return fmt.Errorf("%w: order %s: paid %d fen, order is %d fen", ErrAmountMismatch, n.OutTradeNo, n.TotalFen, orderFen)
	}
	return nil
}

// NotifyReply is the body to answer a pay or refund notification with. Answer ok=false only
// to ask WeChat to send it again later (the database is down); a duplicate is ok=true.
// Unlike xml.Marshal(notify.PaidResp{}) it has the <xml> root WeChat requires.
func NotifyReply(ok bool, msg string) []byte {
	code := "SUCCESS"
	if !ok {
		code = "FAIL"
	}
	if msg == "" {
		msg = "OK"
	}
	var b bytes.Buffer
	b.WriteString("<xml><return_code><![CDATA[" + code + "]]></return_code><return_msg><![CDATA[")
	b.WriteString(msg)
	b.WriteString("]]></return_msg></xml>")
	return b.Bytes()
}

// RefundNotify is a decrypted refund notification.
type RefundNotify struct {
	AppID         string
	MchID         string
	OutTradeNo    string
	TransactionID string
	OutRefundNo   string
	RefundID      string
	TotalFen      int64
	RefundFen     int64
	// Status is SUCCESS, CHANGE (the refund failed and needs handling) or REFUNDCLOSE.
	Status      string
	SucceededAt time.Time
	// RequestSource is API for a refund asked for through Refund, VENDOR_PLATFORM for one a
	// person made in the merchant platform: its OutRefundNo was never minted by this code.
	RequestSource string
}

// ParseRefundNotify decrypts a refund notification. It carries no sign: its req_info is
// AES-256-ECB encrypted with the lowercase hex MD5 of the API key, and decrypting it is the
// proof that WeChat sent it.
func (c *Client) ParseRefundNotify(body []byte) (RefundNotify, error) {
	a, err := parseXML(body)
	if err != nil {
		return RefundNotify{}, err
	}
	if a["return_code"] != "SUCCESS" {
		return RefundNotify{}, fmt.Errorf("%w: return_code %q", ErrMalformed, a["return_code"])
	}
	if a["appid"] != c.creds.AppID || a["mch_id"] != c.creds.MchID {
		return RefundNotify{}, fmt.Errorf("%w: appid %q mch_id %q", ErrForeign, a["appid"], a["mch_id"])
	}
	plain, err := decryptReqInfo(a["req_info"], c.creds.APIKey)
	if err != nil {
		return RefundNotify{}, err
	}
	info, err := parseXML(plain)
	if err != nil {
		return RefundNotify{}, fmt.Errorf("%w: req_info: %v", ErrSignature, err)
	}
	n := RefundNotify{
		AppID: a["appid"], MchID: a["mch_id"], OutTradeNo: info["out_trade_no"],
		TransactionID: info["transaction_id"], OutRefundNo: info["out_refund_no"],
		RefundID: info["refund_id"], Status: info["refund_status"], RequestSource: info["refund_request_source"],
	}
	// An amount that does not parse (out of int64 range included: ParseInt then returns the
	// maximum with an error) is malformed, not a huge refund.
	var totalErr, refundErr error
	n.TotalFen, totalErr = strconv.ParseInt(info["total_fee"], 10, 64)
	n.RefundFen, refundErr = strconv.ParseInt(info["refund_fee"], 10, 64)
	if n.OutRefundNo == "" || refundErr != nil || n.RefundFen <= 0 {
		return RefundNotify{}, fmt.Errorf("%w: req_info without out_refund_no or a valid refund_fee", ErrMalformed)
	}
	if info["total_fee"] != "" && (totalErr != nil || n.TotalFen <= 0) {
		return RefundNotify{}, fmt.Errorf("%w: req_info total_fee %q", ErrMalformed, info["total_fee"])
	}
	if t, err := time.ParseInLocation("2006-01-02 15:04:05", info["success_time"], chinaTime); err == nil {
		n.SucceededAt = t
	}
	return n, nil
}

// decryptReqInfo undoes WeChat's req_info encryption, checking the padding itself (the SDK's
// unpadding trusts the last byte and can slice out of range).
func decryptReqInfo(reqInfo, apiKey string) ([]byte, error) {
	data, err := base64.StdEncoding.DecodeString(reqInfo)
	if err != nil || len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: req_info is not base64 whole AES blocks", ErrMalformed)
	}
	sum := md5.Sum([]byte(apiKey))
	block, err := aes.NewCipher([]byte(hex.EncodeToString(sum[:])))
	if err != nil {
		return nil, err
	}
	util.NewECBDecryptor(block).CryptBlocks(data, data)
	pad := int(data[len(data)-1])
	if pad < 1 || pad > aes.BlockSize || pad > len(data) || !bytes.Equal(data[len(data)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		return nil, fmt.Errorf("%w: req_info does not decrypt with this API key", ErrSignature)
	}
	return data[:len(data)-pad], nil
}
