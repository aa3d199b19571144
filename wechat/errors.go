package wechat

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

// Kind says what a caller should do about a failed WeChat call. The classes follow what the
// money needs: a red packet whose outcome is unknown must be retried or queried with the SAME
// bill number, one that definitely failed may return its money, and a configuration problem
// must reach a person instead of being retried forever.
type Kind int

const (
	// KindNone is the kind of a nil error.
	KindNone Kind = iota
	// KindUnknown: the outcome is unknown (SYSTEMERROR, PROCESSING, a timeout, a transport
	// error, an unparsable or unexpected answer). Retry or query with the same bill number;
	// never mint a new one.
	KindUnknown
	// KindRateLimited: WeChat asks to slow down (FREQ_LIMIT, SECOND_OVER_LIMITED,
	// DAY_OVER_LIMITED, 45009). Back off and retry with the same bill number.
	KindRateLimited
	// KindNotEnough: the merchant's WeChat Pay balance cannot cover the packet (NOTENOUGH).
	// Wait for a top-up and tell the merchant.
	KindNotEnough
	// KindUserDailyLimit: the user has had their 10 packets or 1000 yuan today
	// (SENDNUM_LIMIT, RCVDAMOUNT_LIMIT). Try again tomorrow.
	KindUserDailyLimit
	// KindFailed: definitely failed (SEND_FAILED, an order already paid or closed, an OAuth
	// code already used), or WeChat will not pay this one user: OPENID_ERROR (the openid is
	// not the OA's), NO_AUTH (WeChat blocks the account: abnormal, at risk, not real-name
	// verified), USER_ACCOUNT_ABNORMAL, V2_ACCOUNT_SIMPLE_BAN (not real-name verified). Nothing
	// was paid; a new attempt needs a new bill number; the merchant's other users are unaffected.
	KindFailed
	// KindConfig: the request or the merchant's set-up is wrong (CA_ERROR, SIGN_ERROR,
	// PARAM_ERROR, MONEY_LIMIT, FATAL_ERROR, bad credentials or certificate), for every user
	// alike. Do not retry automatically; alert a person.
	KindConfig
	// KindNotFound: WeChat does not know the object (ORDERNOTEXIST, NOT_FOUND, unknown
	// openid). For a red packet this may mean "still processing": not a failure.
	KindNotFound
)

var kindNames = [...]string{"none", "unknown", "rate_limited", "not_enough", "user_daily_limit", "failed", "config", "not_found"}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindNames[k]
}

// Error is every error a remote WeChat call returns. Code is WeChat's err_code (pay, red
// packets) or errcode (official account), empty for transport failures.
type Error struct {
	Kind    Kind
	Op      string // the adapter call, such as "sendredpack"
	Code    string
	Message string
	Err     error // the underlying cause, if any
}

func (e *Error) Error() string {
	s := "wechat: " + e.Op + ": " + e.Kind.String()
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of err: KindNone for nil, the Kind of a wrapped *Error, and
// KindUnknown for anything else, because an error we cannot explain leaves the outcome unknown.
func KindOf(err error) Kind {
	if err == nil {
		return KindNone
	}
	var we *Error
	if errors.As(err, &we) {
		return we.Kind
	}
	return KindUnknown
}

// Sentinel errors of the parts that do not call WeChat.
var (
	// ErrSignature: a notification or callback is not signed with the merchant's key or token.
	ErrSignature = errors.New("wechat: signature does not verify")
	// ErrMalformed: a notification cannot be parsed or lacks a required field.
	ErrMalformed = errors.New("wechat: malformed message")
	// ErrForeign: a notification names another appid or mch_id than this client's.
	ErrForeign = errors.New("wechat: message is for another merchant")
	// ErrAmountMismatch: a payment notification's total_fee differs from the order's amount.
	ErrAmountMismatch = errors.New("wechat: paid amount differs from the order")
	// ErrStale: a callback's timestamp is further than CallbackWindow from now.
	ErrStale = errors.New("wechat: callback timestamp outside the accepted window")
	// ErrPlaintext: a plaintext callback for a merchant that set an EncodingAESKey, or an
	// encrypted one for a merchant that did not.
	ErrPlaintext = errors.New("wechat: callback in the wrong message mode")
)

// payCodeKinds classifies the err_code of WeChat Pay v2 XML answers (pay, refund, red
// packets). Codes missing here are KindUnknown: an answer we do not understand leaves the
// outcome unknown, which is the safe reading for money.
var payCodeKinds = map[string]Kind{
	"SYSTEMERROR":           KindUnknown,
	"PROCESSING":            KindUnknown,
	"BIZERR_NEED_RETRY":     KindUnknown,
	"FREQ_LIMIT":            KindRateLimited,
	"SECOND_OVER_LIMITED":   KindRateLimited,
	"DAY_OVER_LIMITED":      KindRateLimited,
	"SENDAMOUNT_LIMIT":      KindRateLimited, // the merchant's own daily amount cap
	"NOTENOUGH":             KindNotEnough,
	"SENDNUM_LIMIT":         KindUserDailyLimit,
	"RCVDAMOUNT_LIMIT":      KindUserDailyLimit,
	"SEND_FAILED":           KindFailed,
	"NO_AUTH":               KindFailed,
	"ORDERPAID":             KindFailed,
	"ORDERCLOSED":           KindFailed,
	"USER_ACCOUNT_ABNORMAL": KindFailed,
	"V2_ACCOUNT_SIMPLE_BAN": KindFailed, // the user is not real-name verified
	"OPENID_ERROR":          KindFailed, // this openid is not the OA's: one user, not the merchant
	"OPENID_MISMATCH":       KindFailed, // unifiedorder's openid is not the appid's: the same, on a payment
	"CA_ERROR":              KindConfig,
	"SIGN_ERROR":            KindConfig,
	"PARAM_ERROR":           KindConfig,
	"MONEY_LIMIT":           KindConfig,
	"FATAL_ERROR":           KindConfig,
	"XML_ERROR":             KindConfig,
	"APPID_NOT_EXIST":       KindConfig,
	"MCHID_NOT_EXIST":       KindConfig,
	"APPID_MCHID_NOT_MATCH": KindConfig,
	"LACK_PARAMS":           KindConfig,
	"OUT_TRADE_NO_USED":     KindConfig,
	"INVALID_REQUEST":       KindConfig,
	"REQUIRE_POST_METHOD":   KindConfig,
	"POST_DATA_EMPTY":       KindConfig,
	"NOT_UTF8":              KindConfig,
	"ILLEGAL_APPID":         KindConfig,
	"ORDERNOTEXIST":         KindNotFound,
	"REFUNDNOTEXIST":        KindNotFound,
	"NOT_FOUND":             KindNotFound,
}

// payCodeKind classifies a WeChat Pay err_code alone, whatever return_code said: failures come
// with return_code FAIL in the documented samples and with SUCCESS in some real traffic.
func payCodeKind(code string) Kind {
	if k, ok := payCodeKinds[code]; ok {
		return k
	}
	return KindUnknown
}

// oaCodeKinds classifies the errcode of official-account JSON answers.
var oaCodeKinds = map[int64]Kind{
	-1:    KindUnknown,     // system busy
	40001: KindConfig,      // invalid credential (after the one retry with a fresh token)
	40013: KindConfig,      // invalid appid
	40125: KindConfig,      // invalid appsecret
	40164: KindConfig,      // caller IP not in the whitelist
	48001: KindConfig,      // api unauthorized
	40003: KindNotFound,    // invalid openid
	40029: KindFailed,      // invalid or expired OAuth code
	40163: KindFailed,      // OAuth code already used
	43004: KindFailed,      // template message: the user does not follow the OA
	45009: KindRateLimited, // api freq out of limit
	45011: KindRateLimited, // api minute-quota reach limit
}

// staleToken reports the errcodes that mean "fetch a new access_token and try once more".
func staleToken(code int64) bool { return code == 40001 || code == 40014 || code == 42001 }

func oaCodeKind(code int64) Kind {
	if staleToken(code) {
		return KindConfig
	}
	if k, ok := oaCodeKinds[code]; ok {
		return k
	}
	return KindUnknown
}

// sdkErrcode digs the errcode out of the SDK's formatted official-account errors
// ("... errcode=40001 , errmsg=..."), the only place the SDK reports it.
var sdkErrcode = regexp.MustCompile(`errcode=(-?\d+)\s*,\s*err(?:or)?msg=(.*)$`)

// oaError classifies an error the SDK returned from an official-account call.
func oaError(op string, err error) error {
	if err == nil {
		return nil
	}
	var we *Error
	if errors.As(err, &we) {
		return err
	}
	if m := sdkErrcode.FindStringSubmatch(err.Error()); m != nil {
		code, _ := strconv.ParseInt(m[1], 10, 64)
		return &Error{Kind: oaCodeKind(code), Op: op, Code: m[1], Message: m[2]}
	}
	return &Error{Kind: KindUnknown, Op: op, Err: err}
}

// oaErrcode returns the errcode of an SDK error, or 0 when it carries none.
func oaErrcode(err error) int64 {
	var we *Error
	if errors.As(err, &we) {
		n, _ := strconv.ParseInt(we.Code, 10, 64)
		return n
	}
	return 0
}

// payError builds the error for a WeChat Pay answer that was not a success.
func payError(op string, a answer) error {
	if a.ok() {
		return nil
	}
	code, msg := a["err_code"], a["err_code_des"]
	if code == "" {
		// return_code FAIL without err_code: a communication-level refusal such as
		// 签名错误 or 参数格式校验错误, which retrying the same request cannot fix.
		if a["return_code"] == "FAIL" {
			return &Error{Kind: KindConfig, Op: op, Code: "FAIL", Message: a["return_msg"]}
		}
		return &Error{Kind: KindUnknown, Op: op, Message: fmt.Sprintf("unexpected answer %q", a["return_code"]+"/"+a["result_code"])}
	}
	return &Error{Kind: payCodeKind(code), Op: op, Code: code, Message: msg}
}
