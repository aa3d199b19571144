package console

import (
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"fenxiao/campaign"
	"fenxiao/wallet"
)

// The methods of consolePage are the console templates' formatting helpers, so that no
// template function needs registering with the shared view engine.

// Yuan formats money with thousands separators: 12,345.60 (wallet.Yuan, as every message).
func (p *consolePage) Yuan(d decimal.Decimal) string { return wallet.Yuan(d) }

// Signed formats a statement amount with its sign: +100.00, -20.00.
func (p *consolePage) Signed(d decimal.Decimal) string {
	if d.IsPositive() {
		return "+" + p.Yuan(d)
	}
	return p.Yuan(d)
}

// Time formats a time in the console's time zone; a nil or zero time is a dash.
func (p *consolePage) Time(t any) string {
	switch v := t.(type) {
	case time.Time:
		if !v.IsZero() {
			return v.In(p.loc).Format("2006-01-02 15:04")
		}
	case *time.Time:
		if v != nil && !v.IsZero() {
			return v.In(p.loc).Format("2006-01-02 15:04")
		}
	}
	return "—"
}

// Date is the day of t in the console's time zone.
func (p *consolePage) Date(t time.Time) string { return t.In(p.loc).Format("2006-01-02") }

// Err is the message of a form field, "" when it is fine.
func (p *consolePage) Err(field string) string { return p.Errors[field] }

// Phase names what a campaign is now, in words and as a CSS class.
func (p *consolePage) Phase(c *campaign.Campaign) string {
	return map[string]string{"draft": "草稿", "upcoming": "未开始", "running": "进行中", "ended": "已结束"}[c.Phase(time.Now())]
}

// PhaseClass is the status pill's class.
func (p *consolePage) PhaseClass(c *campaign.Campaign) string { return "pill-" + c.Phase(time.Now()) }

// Sales is what a campaign has taken: units sold (refunded ones included) × price.
func (p *consolePage) Sales(c *campaign.Campaign) string {
	return p.Yuan(c.Price.Mul(decimal.NewFromInt(int64(c.Sold))))
}

// Reserve is what a published campaign keeps frozen: commission × (stock − earned).
func (p *consolePage) Reserve(c *campaign.Campaign) string {
	if c.Status != campaign.Published || c.ReleasedAt != nil {
		return "0.00"
	}
	return p.Yuan(c.Commission.Mul(decimal.NewFromInt(int64(c.Stock - c.Earned))))
}

// Pct is n out of of, in percent, for progress bars.
func (p *consolePage) Pct(n, of int) int {
	if of <= 0 {
		return 0
	}
	return min(100, 100*n/of)
}

// KindLabel names a statement kind.
func (p *consolePage) KindLabel(k wallet.TransferKind) string {
	return campaign.StatementLine{Line: wallet.Line{Kind: k}}.Label()
}

// TopUpStatus names a top-up's status.
func (p *consolePage) TopUpStatus(s string) string {
	return map[string]string{"pending": "待支付", "paid": "已到账", "closed": "已关闭"}[s]
}

// Str turns an optional string into text.
func (p *consolePage) Str(s *string) string {
	if s == nil || *s == "" {
		return "—"
	}
	return *s
}

// ProblemHelp says what to do about a payout problem.
func (p *consolePage) ProblemHelp() string {
	if p.Problem == nil {
		return ""
	}
	switch p.Problem.Code {
	case "NOTENOUGH":
		return "请登录微信支付商户平台（pay.weixin.qq.com），在「资金管理」中为商户号充值（现金红包从基本账户扣款），充值后点击「恢复发放」。"
	case "CA_ERROR":
		return "API 证书无效或已过期：请在「微信设置」中重新上传商户平台下载的 apiclient_cert.p12，然后点击「恢复发放」。"
	case "SIGN_ERROR":
		return "API 密钥不正确：请在「微信设置」中重新填写商户平台「API安全」里的密钥，然后点击「恢复发放」。"
	case "NO_AUTH":
		return "商户号没有现金红包权限：请在商户平台「产品中心」开通现金红包，然后点击「恢复发放」。"
	}
	return "请在「微信设置」中检查商户号、API 密钥和 API 证书（可点击「测试连接」），修正后点击「恢复发放」。"
}

// consoleField is one form input for the "console-input" partial: its label, value, hint and
// the message beside it when the form came back with errors.
type consoleField struct {
	Name, Label, Type, Value                           string
	Hint, Placeholder, Prefix, Suffix, Auto, Inputmode string
	Required, ReadOnly                                 bool
	Error                                              string
}

// Input builds a field for the "console-input" partial; With adds options.
func (p *consolePage) Input(name, label, typ, value string) *consoleField {
	return &consoleField{Name: name, Label: label, Type: typ, Value: value, Error: p.Errors[name]}
}

// With sets options given as "key=value" (hint, placeholder, prefix, suffix, auto, mode) or
// flags ("req", "readonly").
func (f *consoleField) With(opts ...string) *consoleField {
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "hint":
			f.Hint = v
		case "placeholder":
			f.Placeholder = v
		case "prefix":
			f.Prefix = v
		case "suffix":
			f.Suffix = v
		case "auto":
			f.Auto = v
		case "mode":
			f.Inputmode = v
		case "req":
			f.Required = true
		case "readonly":
			f.ReadOnly = true
		}
	}
	return f
}

// campRow is a campaign in a list, with the page for formatting.
type campRow struct {
	P *consolePage
	C *campaign.Campaign
}

// Row pairs a campaign with the page, for the "console-camp-row" partial.
func (p *consolePage) Row(c campaign.Campaign) campRow { return campRow{P: p, C: &c} }

// Earned is the commissions a campaign has paid to sharers: commission × units earned.
func (p *consolePage) Earned(c *campaign.Campaign) string {
	return p.Yuan(c.Commission.Mul(decimal.NewFromInt(int64(c.Earned))))
}

// Initial is the first character of s, for image placeholders.
func (p *consolePage) Initial(s string) string {
	for _, r := range s {
		return string(r)
	}
	return "微"
}

// Secret is a secret field's placeholder: whether one is stored (never its value).
func (p *consolePage) Secret(stored bool, format string) string {
	if stored {
		return "已保存（留空则不修改）"
	}
	return format
}

// Inc is i+1, for ranks.
func (p *consolePage) Inc(i int) int { return i + 1 }

// Rate is n of of as a percentage with one decimal, "—" without a base.
func (p *consolePage) Rate(n, of int) string { return rate(n, of) }

// PerHead is an amount shared by n people.
func (p *consolePage) PerHead(d decimal.Decimal, n int) string {
	if n <= 0 {
		return "0.00"
	}
	return p.Yuan(d.Div(decimal.NewFromInt(int64(n))).Round(2))
}

// Shortfall is what the available balance lacks to freeze need; zero when it is enough.
func (p *consolePage) Shortfall(need decimal.Decimal) decimal.Decimal {
	if p.Assets == nil {
		return need
	}
	if short := need.Sub(p.Assets.Available); short.IsPositive() {
		return short
	}
	return decimal.Zero
}

// Funded reports whether the merchant has ever had red-packet assets.
func (p *consolePage) Funded() bool {
	return p.Assets != nil && (p.Assets.Available.IsPositive() || p.Assets.Frozen.IsPositive())
}
