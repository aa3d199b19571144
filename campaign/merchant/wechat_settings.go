package merchant

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"fenxiao/wechat"
)

// WeChatInfo is what the console shows of a merchant's WeChat settings: the ids and which
// secrets are set, never the secrets themselves.
type WeChatInfo struct {
	Configured                                bool
	AppID, MchID                              string
	HasSecret, HasToken, HasAESKey, HasAPIKey bool
	Cert                                      *wechat.Certificate // nil: no client certificate
	UpdatedAt                                 time.Time
	// Where WeChat must send things, to paste into the OA and WeChat Pay consoles.
	CallbackURL, PayNotifyURL, RefundNotifyURL, TopUpNotifyURL string
}

// WeChatForm is the settings form. An empty secret field keeps the stored secret, so a
// merchant can change one value without typing the others again.
type WeChatForm struct {
	AppID, AppSecret, Token, EncodingAESKey, MchID, APIKey string
	CertP12                                                []byte // a new certificate; nil keeps the stored one
}

var (
	appIDPattern  = regexp.MustCompile(`^wx[0-9a-f]{16}$`)
	secretPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)
	tokenPattern  = regexp.MustCompile(`^[A-Za-z0-9]{3,32}$`)
	aesKeyPattern = regexp.MustCompile(`^[A-Za-z0-9]{43}$`)
	mchIDPattern  = regexp.MustCompile(`^[0-9]{8,10}$`)
	apiKeyPattern = regexp.MustCompile(`^[A-Za-z0-9]{32}$`)
)

// maxCertSize bounds an uploaded .p12; WeChat's are about 3 KB.
const maxCertSize = 64 << 10

// WeChatInfo returns the merchant's WeChat settings for display.
func (s *Service) WeChatInfo(ctx context.Context, merchantID int64) (WeChatInfo, error) {
	info := WeChatInfo{
		CallbackURL:     fmt.Sprintf("%s/wechat/oa/%d", s.baseURL, merchantID),
		PayNotifyURL:    s.PayNotifyURL(merchantID),
		RefundNotifyURL: s.RefundNotifyURL(merchantID),
		TopUpNotifyURL:  s.TopUpNotifyURL(merchantID),
	}
	creds, updated, err := s.storedWeChat(ctx, merchantID)
	if errors.Is(err, ErrNoWeChat) {
		return info, nil
	}
	if err != nil {
		return info, err
	}
	info.Configured, info.AppID, info.MchID, info.UpdatedAt = true, creds.AppID, creds.MchID, updated
	info.HasSecret, info.HasToken, info.HasAESKey, info.HasAPIKey = creds.AppSecret != "", creds.Token != "", creds.EncodingAESKey != "", creds.APIKey != ""
	if len(creds.CertP12) > 0 {
		if c, err := wechat.CheckCertificate(creds.CertP12, creds.MchID); err == nil {
			info.Cert = &c
		}
	}
	return info, nil
}

// storedWeChat opens the merchant's stored credentials.
func (s *Service) storedWeChat(ctx context.Context, merchantID int64) (wechat.Credentials, time.Time, error) {
	row, err := s.sealedWeChat(ctx, merchantID)
	if err != nil {
		return wechat.Credentials{}, time.Time{}, err
	}
	creds, err := s.openWeChat(merchantID, row)
	return creds, row.Updated, err
}

// SaveWeChat checks the settings form, field by field in words a merchant understands, merges
// it with the stored secrets and saves it (SetWeChat seals the secrets).
func (s *Service) SaveWeChat(ctx context.Context, merchantID int64, f WeChatForm) error {
	old, _, err := s.storedWeChat(ctx, merchantID)
	if err != nil && !errors.Is(err, ErrNoWeChat) {
		return err
	}
	creds, fields := checkWeChatForm(f, old)
	if len(fields) > 0 {
		return &ValidationError{Fields: fields}
	}
	// SetWeChat asks WeChat before anything is stored: a refusal or an outage saves nothing.
	return s.SetWeChat(ctx, merchantID, creds)
}

// WeChatTest is the outcome of the console's "test connection": one line per part, empty
// when the part works.
type WeChatTest struct {
	OA, Pay, Cert string
}

// OK reports whether everything answered.
func (t WeChatTest) OK() bool { return t.OA == "" && t.Pay == "" && t.Cert == "" }

// TestWeChat asks WeChat whether the stored settings work: an access token for the official
// account, a signed order query for WeChat Pay, and the certificate's validity.
func (s *Service) TestWeChat(ctx context.Context, merchantID int64) (WeChatTest, error) {
	creds, updated, err := s.storedWeChat(ctx, merchantID)
	if err != nil {
		return WeChatTest{}, err
	}
	wx, err := s.WeChatFor(ctx, merchantID)
	if err != nil {
		return WeChatTest{}, err
	}
	p, ok := wx.(interface {
		Ping(context.Context) error
		PingPay(context.Context) error
	})
	if !ok {
		return WeChatTest{}, fmt.Errorf("campaign: WeChat client of merchant %d cannot test its connection", merchantID)
	}
	var t WeChatTest
	t.OA = ExplainWeChat(p.Ping(ctx))
	t.Pay = ExplainWeChat(p.PingPay(ctx))
	switch c, err := wechat.CheckCertificate(creds.CertP12, creds.MchID); {
	case len(creds.CertP12) == 0:
		t.Cert = "未上传 API 证书：无法退款，也无法发放红包"
	case err != nil:
		t.Cert = "API 证书无法读取，请重新上传"
	case c.NotAfter.Before(s.now()):
		t.Cert = "API 证书已过期，请在商户平台更新后重新上传"
	}
	if t.OA == "" && t.Pay == "" {
		// Settings saved before they were verified at saving become verified here, unless
		// they changed since this test read them.
		if _, err := s.db.ExecContext(ctx, `UPDATE merchant_wechat SET verified_at = $3 WHERE merchant_id = $1 AND updated_at = $2 AND verified_at IS NULL`,
			merchantID, updated, s.now()); err != nil {
			return t, fmt.Errorf("campaign: WeChat settings of merchant %d: %w", merchantID, err)
		}
	}
	return t, nil
}

// ExplainWeChat says what a failed WeChat call means for the merchant's settings.
func ExplainWeChat(err error) string {
	if err == nil {
		return ""
	}
	var we *wechat.Error
	if !errors.As(err, &we) {
		return "连接失败：" + err.Error()
	}
	switch we.Code {
	case "40013":
		return "AppID 无效：请核对公众号的 AppID"
	case "40001", "40125":
		return "AppSecret 不正确：请在公众号后台重置后重新填写"
	case "40164":
		return "本服务器的 IP 不在公众号的 IP 白名单中：请在「设置与开发 › 基本配置」中添加"
	case "SIGN_ERROR":
		return "API 密钥不正确：请核对商户平台「API安全」中设置的密钥"
	case "MCHID_NOT_EXIST":
		return "商户号不存在：请核对微信支付商户号"
	case "APPID_MCHID_NOT_MATCH":
		return "商户号未与该公众号关联：请在商户平台「产品中心 › AppID账号管理」中关联"
	}
	if we.Kind == wechat.KindUnknown || we.Kind == wechat.KindRateLimited {
		return "暂时连不上微信，请稍后再试（" + strings.TrimPrefix(err.Error(), "wechat: ") + "）"
	}
	return "微信返回错误：" + strings.TrimPrefix(err.Error(), "wechat: ")
}

// checkWeChatForm checks the settings form field by field, in words a merchant understands,
// and merges it with the stored credentials old (an empty secret field keeps the stored one).
// It asks nobody: SetWeChat then asks WeChat.
func checkWeChatForm(f WeChatForm, old wechat.Credentials) (wechat.Credentials, map[string]string) {
	trim := func(v *string) { *v = strings.TrimSpace(*v) }
	for _, v := range []*string{&f.AppID, &f.AppSecret, &f.Token, &f.EncodingAESKey, &f.MchID, &f.APIKey} {
		trim(v)
	}
	keep := func(v *string, stored string) {
		if *v == "" {
			*v = stored
		}
	}
	keep(&f.AppSecret, old.AppSecret)
	keep(&f.Token, old.Token)
	keep(&f.EncodingAESKey, old.EncodingAESKey)
	keep(&f.APIKey, old.APIKey)
	fields := map[string]string{}
	check := func(field, v string, p *regexp.Regexp, missing, wrong string) {
		switch {
		case v == "" && missing != "":
			fields[field] = missing
		case v != "" && !p.MatchString(v):
			fields[field] = wrong
		}
	}
	check("app_id", f.AppID, appIDPattern, "请填写公众号 AppID", "AppID 应为 wx 开头的 18 位字母和数字，见公众号后台「设置与开发 › 基本配置」")
	check("app_secret", f.AppSecret, secretPattern, "请填写公众号 AppSecret", "AppSecret 应为 32 位小写字母和数字")
	check("token", f.Token, tokenPattern, "请填写令牌 Token（与公众号服务器配置中的一致）", "令牌 Token 须为 3 到 32 位英文字母或数字")
	check("aes_key", f.EncodingAESKey, aesKeyPattern, "", "消息加解密密钥 EncodingAESKey 应为 43 位字母和数字（明文模式可不填）")
	check("mch_id", f.MchID, mchIDPattern, "请填写微信支付商户号", "商户号应为 8 到 10 位数字")
	check("api_key", f.APIKey, apiKeyPattern, "请填写微信支付 API 密钥", "API 密钥应为 32 位字母和数字，见商户平台「账户中心 › API安全」")
	cert := old.CertP12
	if len(f.CertP12) > 0 {
		cert = f.CertP12
	}
	switch {
	case len(f.CertP12) > maxCertSize:
		fields["cert"] = "证书文件过大：请上传商户平台下载的 apiclient_cert.p12"
	case len(cert) > 0 && fields["mch_id"] == "":
		if _, err := wechat.CheckCertificate(cert, f.MchID); err != nil {
			if len(f.CertP12) > 0 {
				fields["cert"] = "证书无法读取：请上传商户平台下载的 apiclient_cert.p12（其密码为商户号）"
			} else {
				fields["cert"] = "已保存的证书与新商户号不匹配，请重新上传该商户号的 apiclient_cert.p12"
			}
		}
	}
	if len(fields) > 0 {
		return wechat.Credentials{}, fields
	}
	return wechat.Credentials{AppID: f.AppID, AppSecret: f.AppSecret, Token: f.Token,
		EncodingAESKey: f.EncodingAESKey, MchID: f.MchID, APIKey: f.APIKey, CertP12: cert}, nil
}
