package wechat

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/silenceper/wechat/v2/util"
)

// The published v2 signature vector of the WeChat Pay docs (签名算法).
func TestPublishedSignatureVectors(t *testing.T) {
	params := map[string]string{"appid": "wxd930ea5d5a258f4f", "mch_id": "10000100", "device_info": "1000",
		"body": "test", "nonce_str": "ibuaiVcKdpRxkhJA"}
	const key = "192006250b4c09247ec02edce69f6a2d"
	md5, err := sign(params, key)
	if err != nil || md5 != "9A0A8659F005D6984697E2CA0A9CF3B7" {
		t.Fatalf("MD5 %s %v", md5, err)
	}
	hmac, err := util.CalculateSign(util.OrderParam(params, "&key="+key), util.SignTypeHMACSHA256, key)
	if err != nil || hmac != "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6" {
		t.Fatalf("HMAC-SHA256 %s %v", hmac, err)
	}
	params["sign"] = md5
	if err := verify(params, key); err != nil {
		t.Fatal(err)
	}
	params["total_fee"] = "1" // a field added after signing
	if err := verify(params, key); !errors.Is(err, ErrSignature) {
		t.Fatalf("tampered: %v", err)
	}
}

// Every class, from the answer alone: WeChat Pay answers (with either return_code, since real
// traffic sends failures with both), official-account errcodes and transport failures.
func TestClassification(t *testing.T) {
	pay := []struct {
		code string
		want Kind
	}{
		{"SYSTEMERROR", KindUnknown}, {"PROCESSING", KindUnknown}, {"BRAND_NEW_CODE", KindUnknown},
		{"FREQ_LIMIT", KindRateLimited}, {"SECOND_OVER_LIMITED", KindRateLimited}, {"DAY_OVER_LIMITED", KindRateLimited},
		{"NOTENOUGH", KindNotEnough},
		{"SENDNUM_LIMIT", KindUserDailyLimit}, {"RCVDAMOUNT_LIMIT", KindUserDailyLimit},
		{"SEND_FAILED", KindFailed}, {"NO_AUTH", KindFailed}, {"ORDERPAID", KindFailed},
		{"CA_ERROR", KindConfig}, {"SIGN_ERROR", KindConfig}, {"PARAM_ERROR", KindConfig}, {"MONEY_LIMIT", KindConfig},
		{"FATAL_ERROR", KindConfig}, {"OPENID_ERROR", KindFailed},
		{"NOT_FOUND", KindNotFound}, {"ORDERNOTEXIST", KindNotFound},
	}
	for _, tc := range pay {
		for _, rc := range []string{"FAIL", "SUCCESS"} {
			err := payError("sendredpack", answer{"return_code": rc, "result_code": "FAIL", "err_code": tc.code})
			var we *Error
			if !errors.As(err, &we) || we.Kind != tc.want || we.Code != tc.code || KindOf(fmt.Errorf("wrapped: %w", err)) != tc.want {
				t.Errorf("%s with return_code %s: %v, want %v", tc.code, rc, err, tc.want)
			}
		}
	}
	if err := payError("x", answer{"return_code": "SUCCESS", "result_code": "SUCCESS"}); err != nil {
		t.Errorf("success: %v", err)
	}
	if k := KindOf(payError("x", answer{"return_code": "FAIL", "return_msg": "签名错误"})); k != KindConfig {
		t.Errorf("FAIL without err_code: %v", k)
	}
	if k := KindOf(payError("x", answer{"return_code": "SUCCESS"})); k != KindUnknown {
		t.Errorf("no result_code: %v", k)
	}

	oa := []struct {
		msg  string
		want Kind
	}{
		{"get qr_ticket error : errcode=-1 , errormsg=system error", KindUnknown},
		{"GetUserInfo Error , errcode=45009 , errmsg=api freq out of limit", KindRateLimited},
		{"GetUserAccessToken error : errcode=40029 , errmsg=invalid code", KindFailed},
		{"GetUserAccessToken error : errcode=40163 , errmsg=code been used", KindFailed},
		{"template msg send error : errcode=43004 , errmsg=require subscribe", KindFailed},
		{"GetUserInfo Error , errcode=40003 , errmsg=invalid openid", KindNotFound},
		{"get access_token error : errcode=40125 , errormsg=invalid appsecret", KindConfig},
		{"get access_token error : errcode=40001 , errormsg=invalid credential", KindConfig},
		{"dial tcp: connection refused", KindUnknown},
	}
	for _, tc := range oa {
		if k := KindOf(oaError("op", errors.New(tc.msg))); k != tc.want {
			t.Errorf("%q: %v, want %v", tc.msg, k, tc.want)
		}
	}
	if KindOf(nil) != KindNone || KindOf(errors.New("?")) != KindUnknown {
		t.Error("KindOf of nil or a foreign error")
	}
	if KindOf(errTransport("x", context.DeadlineExceeded)) != KindUnknown || errTransport("x", nil) != nil {
		t.Error("errTransport")
	}
}

func TestNotifyReplyShape(t *testing.T) {
	const ok = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
	if got := string(NotifyReply(true, "")); got != ok {
		t.Fatalf("%s", got)
	}
	if a, err := parseXML(NotifyReply(false, "数据库不可用")); err != nil || a["return_code"] != "FAIL" || a["return_msg"] != "数据库不可用" {
		t.Fatalf("%v %v", a, err)
	}
}

func TestBadCertificateIsAConfigErrorAtStart(t *testing.T) {
	creds := Credentials{AppID: "wx1", AppSecret: "s", MchID: "1900000109", APIKey: "k", CertP12: []byte("not a p12")}
	_, err := NewClient(creds, Options{})
	if KindOf(err) != KindConfig {
		t.Fatalf("%v", err)
	}
}

func TestDecryptReqInfoRejectsGarbage(t *testing.T) {
	for _, s := range []string{"", "!!", "AAAAAAAAAAAAAAAAAAAAAA==", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="} {
		if _, err := decryptReqInfo(s, "key"); err == nil {
			t.Errorf("%q decrypts", s)
		}
	}
}
