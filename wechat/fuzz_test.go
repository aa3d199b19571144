package wechat_test

import (
	"crypto/aes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2/util"

	"fenxiao/wechat"
)

// fuzzCreds is a fixed merchant for the fuzz targets: no network is involved.
var fuzzCreds = wechat.Credentials{
	AppID: "wx0123456789abcdef", AppSecret: "0123456789abcdef0123456789abcdef", Token: "fuzzToken42",
	EncodingAESKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", MchID: "1900000109", APIKey: "fuzzApiKey0123456789abcdefghijkl",
}

func fuzzClient(f *testing.F, withKey bool) *wechat.Client {
	creds := fuzzCreds
	if !withKey {
		creds.EncodingAESKey = ""
	}
	c, err := wechat.NewClient(creds, wechat.Options{APIBase: simURL, BrowserBase: simURL})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { c.Close() })
	return c
}

// FuzzOACallback feeds the callback verifier (a) honest encrypted pushes of arbitrary
// plaintext, which must never be refused as forged and whose replies must decrypt with the
// SDK, and (b) arbitrary bodies under a valid query signature, in plaintext and safe mode,
// which must never panic and never yield an out-of-bounds event or a safe-mode event that
// was not encrypted.
func FuzzOACallback(f *testing.F) {
	safe, plain := fuzzClient(f, true), fuzzClient(f, false)
	ev := func(event, key string) string {
		return fmt.Sprintf("<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName>"+
			"<CreateTime>1</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[%s]]></Event><EventKey><![CDATA[%s]]></EventKey></xml>", event, key)
	}
	for _, seed := range []string{ev("subscribe", "qrscene_fx1_2_abc"), ev("SCAN", "fx1_2_abc"), ev("unsubscribe", ""),
		"<xml><MsgType>text</MsgType><Content>hi</Content></xml>", "<xml>", "", "<xml><Encrypt>AAAA</Encrypt></xml>"} {
		f.Add([]byte(seed), "12345", []byte(seed))
	}
	f.Add([]byte(ev("subscribe", strings.Repeat("x", 80))), "", []byte("<xml><Encrypt><![CDATA[////]]></Encrypt></xml>"))
	f.Fuzz(func(t *testing.T, payload []byte, nonce string, raw []byte) {
		now := time.Now()
		ts := strconv.FormatInt(now.Unix(), 10)

		// (a) an honest encrypted push of payload.
		enc, err := util.EncryptMsg([]byte("0123456789abcdef"), payload, fuzzCreds.AppID, fuzzCreds.EncodingAESKey)
		if err != nil {
			t.Fatal(err)
		}
		q, body := encryptedPush(fuzzCreds, now, nonce, string(enc))
		cb, err := safe.OpenCallback(q, body, now)
		switch {
		case err != nil && !errors.Is(err, wechat.ErrMalformed):
			t.Fatalf("honest push refused as %v", err)
		case err == nil && !cb.Safe:
			t.Fatal("an encrypted push was not marked safe")
		case err == nil && cb.Event != nil:
			checkEvent(t, *cb.Event)
			reply, err := safe.CallbackReply(cb, "回复 ]]> <&>", now)
			if err != nil {
				t.Fatal(err)
			}
			var r struct{ Encrypt, MsgSignature, TimeStamp, Nonce string }
			if err := xml.Unmarshal(reply, &r); err != nil || util.Signature(fuzzCreds.Token, r.TimeStamp, r.Nonce, r.Encrypt) != r.MsgSignature {
				t.Fatalf("reply %s: %v", reply, err)
			}
			if _, plainReply, err := util.DecryptMsg(fuzzCreds.AppID, r.Encrypt, fuzzCreds.EncodingAESKey); err != nil || !strings.Contains(string(plainReply), "<Content>回复 ]]&gt; &lt;&amp;&gt;</Content>") {
				t.Fatalf("reply does not decrypt: %s %v", plainReply, err)
			}
		}

		// (b) an arbitrary body under valid signatures.
		pq := url.Values{"signature": {sha1Hex(fuzzCreds.Token, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce}}
		if cb, err := plain.OpenCallback(pq, raw, now); err == nil {
			if cb.Safe {
				t.Fatal("a plaintext client marked a push safe")
			}
			if cb.Event != nil {
				checkEvent(t, *cb.Event)
			}
		}
		var envelope struct{ Encrypt string }
		_ = xml.Unmarshal(raw, &envelope)
		sq := url.Values{"signature": pq["signature"], "timestamp": {ts}, "nonce": {nonce}, "encrypt_type": {"aes"},
			"msg_signature": {sha1Hex(fuzzCreds.Token, ts, nonce, envelope.Encrypt)}}
		if cb, err := safe.OpenCallback(sq, raw, now); err == nil && cb.Event != nil {
			checkEvent(t, *cb.Event)
		}
		if _, err := safe.OpenCallback(pq, raw, now); err == nil {
			t.Fatal("a safe-mode merchant accepted a push without encrypt_type=aes")
		}
	})
}

func checkEvent(t *testing.T, e wechat.Event) {
	t.Helper()
	switch {
	case e.Type != wechat.EventSubscribe && e.Type != wechat.EventScan && e.Type != wechat.EventUnsubscribe:
		t.Fatalf("event type %q", e.Type)
	case e.OpenID == "" || len(e.OpenID) > 64 || len(e.Scene) > 64:
		t.Fatalf("event out of bounds: %+v", e)
	case e.Type == wechat.EventUnsubscribe && e.Scene != "":
		t.Fatalf("unsubscribe with a scene: %+v", e)
	}
}

func sha1Hex(parts ...string) string { return util.Signature(parts...) }

// FuzzPayNotify feeds the payment and refund notification parsers (a) arbitrary bodies, which
// must never panic nor be accepted (nothing arbitrary is signed with the merchant's key),
// and (b) correctly signed notifications with arbitrary field values, whose accepted
// amounts must be the positive numbers that were signed.
func FuzzPayNotify(f *testing.F) {
	c := fuzzClient(f, true)
	f.Add([]byte("<xml><return_code>SUCCESS</return_code></xml>"), "8800", "ORDER1", "extra")
	f.Add([]byte("<xml><return_code><![CDATA[SUCCESS]]></return_code><appid>wx0123456789abcdef</appid><mch_id>1900000109</mch_id><req_info>AAAA</req_info></xml>"), "-1", "", "")
	f.Add([]byte("<request><sign>x</sign></request>"), "99999999999999999999", "A<B", "]]>")
	f.Add([]byte(""), "0", "O", "")
	f.Fuzz(func(t *testing.T, raw []byte, fee, outTradeNo, extra string) {
		if n, err := c.ParsePayNotify(raw); err == nil {
			t.Fatalf("an unsigned body was accepted as a payment: %+v", n)
		}
		if n, err := c.ParseRefundNotify(raw); err == nil {
			t.Fatalf("an arbitrary body was accepted as a refund: %+v", n)
		}

		p := map[string]string{"return_code": "SUCCESS", "result_code": "SUCCESS", "appid": fuzzCreds.AppID, "mch_id": fuzzCreds.MchID,
			"nonce_str": "n1", "openid": "oBuyer", "out_trade_no": outTradeNo, "transaction_id": "42000001", "total_fee": fee,
			"trade_type": "JSAPI", "time_end": "20260101120000", "coupon_id_9": extra}
		sig, err := util.ParamSign(p, fuzzCreds.APIKey)
		if err != nil {
			t.Fatal(err)
		}
		p["sign"] = sig
		n, err := c.ParsePayNotify(xmlOf(p))
		want, ferr := strconv.ParseInt(fee, 10, 64)
		switch {
		case err == nil && (ferr != nil || want <= 0 || n.TotalFen != want || n.OutTradeNo != outTradeNo):
			t.Fatalf("accepted %+v for total_fee %q", n, fee)
		case err == nil:
		case !errors.Is(err, wechat.ErrMalformed) && !errors.Is(err, wechat.ErrSignature):
			t.Fatalf("signed notification: %v", err)
		}

		info := map[string]string{"out_trade_no": outTradeNo, "out_refund_no": "R" + outTradeNo, "refund_fee": fee, "total_fee": fee,
			"refund_status": "SUCCESS", "transaction_id": "42000001", "refund_id": "5000", "extra": extra}
		r := map[string]string{"return_code": "SUCCESS", "appid": fuzzCreds.AppID, "mch_id": fuzzCreds.MchID, "nonce_str": "n2",
			"req_info": reqInfo(xmlOf(info), fuzzCreds.APIKey)}
		rn, err := c.ParseRefundNotify(xmlOf(r))
		if err == nil && (ferr != nil || want <= 0 || rn.RefundFen != want || rn.OutRefundNo != "R"+xmlRoundTrip(outTradeNo)) {
			t.Fatalf("refund accepted %+v for refund_fee %q", rn, fee)
		}
	})
}

// xmlRoundTrip is s as it reads back from XML text: characters XML cannot carry (control
// characters, invalid UTF-8) become U+FFFD when escaped.
func xmlRoundTrip(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s)) //nolint:errcheck // a strings.Builder
	var v struct {
		V string `xml:",chardata"`
	}
	if err := xml.Unmarshal([]byte("<a>"+b.String()+"</a>"), &v); err != nil {
		return s
	}
	return v.V
}

// xmlOf is a flat WeChat Pay XML message, values escaped, keys sorted.
func xmlOf(m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("<xml>")
	for _, k := range keys {
		b.WriteString("<" + k + ">")
		xml.EscapeText(&b, []byte(m[k])) //nolint:errcheck // a strings.Builder
		b.WriteString("</" + k + ">")
	}
	b.WriteString("</xml>")
	return []byte(b.String())
}

// reqInfo encrypts a refund notification's details as WeChat does: AES-256-ECB, PKCS#7, under
// the lowercase hex MD5 of the API key, base64.
func reqInfo(plain []byte, apiKey string) string {
	sum := md5.Sum([]byte(apiKey))
	block, _ := aes.NewCipher([]byte(hex.EncodeToString(sum[:])))
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	data := append(append([]byte(nil), plain...), make([]byte, pad)...)
	for i := len(plain); i < len(data); i++ {
		data[i] = byte(pad)
	}
	for i := 0; i < len(data); i += aes.BlockSize {
		block.Encrypt(data[i:i+aes.BlockSize], data[i:i+aes.BlockSize])
	}
	return base64.StdEncoding.EncodeToString(data)
}
