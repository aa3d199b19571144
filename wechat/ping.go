package wechat

import (
	"context"
	"crypto/x509"
	"time"

	"github.com/silenceper/wechat/v2/util"
)

// Ping checks the official account's appid and secret by getting an access token, which is
// what the console's "test connection" button does. A token this client already holds
// counts: fetching a fresh one would invalidate the token other replicas are using (WeChat
// keeps one live token per appid), and a client is rebuilt whenever the credentials change,
// so new credentials are always checked against WeChat.
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	if _, err := c.oa.GetAccessTokenContext(ctx); err != nil {
		if ctx.Err() != nil {
			return &Error{Kind: KindUnknown, Op: "token", Err: ctx.Err()}
		}
		return oaError("token", err)
	}
	return nil
}

// PingPay checks the WeChat Pay merchant number and API key by querying an order that does
// not exist: WeChat answers ORDERNOTEXIST to a correctly signed request from a known
// merchant, and a signature or merchant error otherwise. Nothing is created.
func (c *Client) PingPay(ctx context.Context) error {
	const op = "orderquery"
	if err := c.needPay(op, false); err != nil {
		return err
	}
	_, _, err := c.post(ctx, op, "/pay/orderquery", map[string]string{
		"appid": c.creds.AppID, "mch_id": c.creds.MchID, "nonce_str": util.RandomStr(32),
		"out_trade_no": "FXPING" + time.Now().UTC().Format("20060102150405"), "sign_type": util.SignTypeMD5,
	})
	if KindOf(err) == KindNotFound {
		return nil
	}
	return err
}

// Certificate is what the console shows of a client certificate, never the key.
type Certificate struct {
	Subject  string
	Serial   string
	NotAfter time.Time
}

// CheckCertificate decodes a WeChat Pay client certificate (.p12, password = mch_id) the way
// NewClient and the SDK's certificate calls will, so a bad file is refused when it is
// uploaded rather than at the first refund or red packet.
func CheckCertificate(p12 []byte, mchID string) (Certificate, error) {
	if mchID == "" {
		return Certificate{}, configErr("a client certificate needs the mch_id (its password)")
	}
	cert, err := loadP12(p12, mchID)
	if err != nil {
		return Certificate{}, err
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return Certificate{}, configErr("client certificate does not parse: " + err.Error())
		}
	}
	return Certificate{Subject: leaf.Subject.CommonName, Serial: leaf.SerialNumber.Text(16), NotAfter: leaf.NotAfter}, nil
}
