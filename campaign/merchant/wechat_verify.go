package merchant

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jmoiron/sqlx"

	"fenxiao/wechat"
)

// msgWrongSecret is the answer to an AppID and secret WeChat refuses, and, word for word, to
// an AppID another merchant has bound: the two must not be told apart (issue 14, point 6).
const msgWrongSecret = "AppID 与 AppSecret 不匹配：请在公众号后台「设置与开发 › 基本配置」核对 AppID，并重置 AppSecret 后重新填写"

// msgUnreachable says WeChat could not be asked; nothing was saved and trying again may work.
const msgUnreachable = "暂时连不上微信，设置未保存，请稍后再试"

// verifier is what verifyWeChat asks of a client: an access token for the official account
// and a signed order query for WeChat Pay (wechat/ping.go).
type verifier interface {
	Ping(context.Context) error
	PingPay(context.Context) error
}

// verifyWeChat asks WeChat whether new credentials work: an access token for the AppID and
// secret, and an order query of a number that does not exist, signed with the API key
// (ORDERNOTEXIST means merchant number and key are right). Both are always asked, at the
// same time, so a refused secret takes as long as an accepted one; the answer is the form's
// messages, empty when WeChat accepted both.
func (s *Service) verifyWeChat(ctx context.Context, cl verifier) map[string]string {
	var oa, pay error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); oa = cl.Ping(ctx) }()
	go func() { defer wg.Done(); pay = cl.PingPay(ctx) }()
	wg.Wait()
	fields := map[string]string{}
	if oa != nil {
		fields["app_secret"] = oaRefusal(oa)
	}
	if pay != nil {
		field, msg := payRefusal(pay)
		fields[field] = msg
	}
	if len(fields) > 0 {
		s.log.InfoContext(ctx, "WeChat refused new settings", "oa", errString(oa), "pay", errString(pay))
	}
	return fields
}

// oaRefusal explains an access-token failure. Every answer about the AppID or the secret is
// msgWrongSecret: WeChat's "invalid appid" would otherwise differ from what an AppID bound here
// answers.
func oaRefusal(err error) string {
	var we *wechat.Error
	if !errors.As(err, &we) || we.Kind == wechat.KindUnknown || we.Kind == wechat.KindRateLimited {
		return msgUnreachable
	}
	switch we.Code {
	case "40164", "61004":
		return "本服务器的 IP 不在公众号的 IP 白名单中：请在公众号后台「设置与开发 › 基本配置」中添加后重试"
	}
	return msgWrongSecret
}

// payRefusal explains an order-query failure, beside the field to fix.
func payRefusal(err error) (field, msg string) {
	var we *wechat.Error
	if !errors.As(err, &we) || we.Kind == wechat.KindUnknown || we.Kind == wechat.KindRateLimited {
		return "api_key", msgUnreachable
	}
	switch we.Code {
	case "SIGN_ERROR", "SIGNERROR", "INVALID_REQUEST":
		return "api_key", "API 密钥不正确：请核对商户平台「账户中心 › API安全」中设置的 API 密钥（v2）"
	case "MCHID_NOT_EXIST":
		return "mch_id", "商户号不存在：请核对微信支付商户号"
	case "APPID_MCHID_NOT_MATCH", "APPID_NOT_EXIST":
		return "mch_id", "商户号未与该公众号关联：请在商户平台「产品中心 › AppID账号管理」中关联后重试"
	}
	return "api_key", "微信支付拒绝了该设置：" + strings.TrimPrefix(err.Error(), "wechat: ")
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// WeChatVerified reports whether the merchant may publish: its WeChat settings exist and
// WeChat accepted them (when they were saved, or at a later connection test).
func (s *Service) WeChatVerified(ctx context.Context, merchantID int64) (bool, error) {
	return WeChatVerifiedIn(ctx, s.db, merchantID)
}

// WeChatVerifiedIn is WeChatVerified read through q: publishing asks in its transaction.
func WeChatVerifiedIn(ctx context.Context, q sqlx.QueryerContext, merchantID int64) (bool, error) {
	var ok bool
	err := sqlx.GetContext(ctx, q, &ok, `SELECT EXISTS (SELECT 1 FROM merchant_wechat WHERE merchant_id = $1 AND verified_at IS NOT NULL)`, merchantID)
	if err != nil {
		return false, fmt.Errorf("campaign: WeChat settings of merchant %d: %w", merchantID, err)
	}
	return ok, nil
}
