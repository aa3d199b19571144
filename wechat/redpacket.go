package wechat

import (
	"context"
	"encoding/xml"
	"regexp"
	"strconv"
	"time"

	"github.com/silenceper/wechat/v2/util"
)

// RedPacket is one cash red packet (现金红包) to a user's WeChat wallet.
type RedPacket struct {
	// BillNo (mch_billno) identifies the packet: ≤28 of [0-9A-Za-z]. Every retry of an
	// unknown outcome must reuse it; WeChat pays one packet per bill number.
	BillNo    string
	OpenID    string
	AmountFen int64
	SendName  string // ≤32: the merchant's name on the packet
	Wishing   string // ≤128
	ActName   string // ≤32
	Remark    string // ≤256
	ClientIP  string // the server's IP
	// SceneID (PRODUCT_1…PRODUCT_8) is required under 1 or over 200 yuan; PRODUCT_5 is
	// "channel commission".
	SceneID string
}

// SendResult is WeChat's acceptance of a red packet.
type SendResult struct {
	SendListID string // WeChat's id of the packet (gethbinfo's detail_id)
}

var billNoPattern = regexp.MustCompile(`^[0-9A-Za-z]{1,28}$`)

// SendRedPacket sends a cash red packet. Written by hand rather than with the SDK's
// redpacket package, which cannot send scene_id (so no packet under 1 yuan), reads the .p12
// from disk and builds an HTTP client without a timeout on every call, and reports WeChat's
// err_code only inside a formatted string. Classify failures with KindOf: KindUnknown and
// KindRateLimited mean "send again with the same BillNo".
func (c *Client) SendRedPacket(ctx context.Context, p RedPacket) (SendResult, error) {
	const op = "sendredpack"
	if err := c.needPay(op, true); err != nil {
		return SendResult{}, err
	}
	if !billNoPattern.MatchString(p.BillNo) {
		return SendResult{}, &Error{Kind: KindConfig, Op: op, Code: "PARAM_ERROR", Message: "mch_billno must be 1 to 28 of [0-9A-Za-z]"}
	}
	params := map[string]string{
		"nonce_str": util.RandomStr(32), "mch_billno": p.BillNo, "mch_id": c.creds.MchID,
		"wxappid": c.creds.AppID, "send_name": p.SendName, "re_openid": p.OpenID,
		"total_amount": strconv.FormatInt(p.AmountFen, 10), "total_num": "1",
		"wishing": p.Wishing, "client_ip": p.ClientIP, "act_name": p.ActName,
		"remark": p.Remark, "scene_id": p.SceneID,
	}
	a, _, err := c.post(ctx, op, "/mmpaymkttransfers/sendredpack", params)
	if err != nil {
		return SendResult{}, err
	}
	return SendResult{SendListID: a["send_listid"]}, nil
}

// Red packet statuses of gethbinfo.
const (
	PacketSending   = "SENDING"
	PacketSent      = "SENT" // waiting for the user to open it
	PacketFailed    = "FAILED"
	PacketReceived  = "RECEIVED"
	PacketRefunding = "RFUND_ING" // WeChat's spelling
	PacketRefunded  = "REFUND"    // unopened for 24 h: the money is back with the merchant
)

// PacketInfo is what gethbinfo tells about a red packet.
type PacketInfo struct {
	BillNo     string
	DetailID   string
	Status     string // one of the Packet… constants
	AmountFen  int64
	OpenID     string
	Reason     string // why it failed
	SentAt     time.Time
	ReceivedAt time.Time
	RefundedAt time.Time
	RefundFen  int64
}

// RedPacketInfo queries a red packet by bill number (gethbinfo, last 30 days). A packet
// WeChat does not know is a KindNotFound error, which may mean "still processing" and is
// never a reason to send a new packet.
func (c *Client) RedPacketInfo(ctx context.Context, billNo string) (PacketInfo, error) {
	const op = "gethbinfo"
	if err := c.needPay(op, true); err != nil {
		return PacketInfo{}, err
	}
	params := map[string]string{
		"nonce_str": util.RandomStr(32), "mch_billno": billNo, "mch_id": c.creds.MchID,
		"appid": c.creds.AppID, "bill_type": "MCHT",
	}
	a, raw, err := c.post(ctx, op, "/mmpaymkttransfers/gethbinfo", params)
	if err != nil {
		return PacketInfo{}, err
	}
	info := PacketInfo{BillNo: a["mch_billno"], DetailID: a["detail_id"], Status: a["status"], Reason: a["reason"]}
	if info.Status == "" {
		return PacketInfo{}, &Error{Kind: KindUnknown, Op: op, Message: "answer without status"}
	}
	info.AmountFen, _ = strconv.ParseInt(a["total_amount"], 10, 64)
	info.RefundFen, _ = strconv.ParseInt(a["refund_amount"], 10, 64)
	info.SentAt = parseHBTime(a["send_time"])
	info.RefundedAt = parseHBTime(a["refund_time"])
	var hb struct {
		Infos []struct {
			OpenID  string `xml:"openid"`
			RcvTime string `xml:"rcv_time"`
		} `xml:"hblist>hbinfo"`
	}
	if err := xml.Unmarshal(raw, &hb); err == nil && len(hb.Infos) > 0 {
		info.OpenID = hb.Infos[0].OpenID
		info.ReceivedAt = parseHBTime(hb.Infos[0].RcvTime)
	}
	return info, nil
}

func parseHBTime(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, chinaTime)
	if err != nil {
		return time.Time{}
	}
	return t
}
