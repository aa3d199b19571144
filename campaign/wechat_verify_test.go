package campaign_test

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"fenxiao/campaign"
	"fenxiao/campaign/merchant"
	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// formOf is the settings form filled with creds, as a merchant types them.
func formOfCreds(c wechat.Credentials) merchant.WeChatForm {
	return merchant.WeChatForm{AppID: c.AppID, AppSecret: c.AppSecret, Token: c.Token, EncodingAESKey: c.EncodingAESKey,
		MchID: c.MchID, APIKey: c.APIKey, CertP12: c.CertP12}
}

// Issue 14, point 6: WeChat settings are bound only once WeChat accepted them — an access
// token for the AppID and secret, a signed order query for the merchant number and key — and
// an AppID another merchant bound answers exactly what a wrong secret answers, so nobody can
// claim another's AppID or probe which are registered. Before, only formats were checked, a
// wrong secret was saved, and a bound AppID answered 该公众号已被其他商家绑定.
func TestWeChatSettingsVerifiedBeforeBinding(t *testing.T) {
	owner := newEnv(t, "") // binds its AppID (newEnv saves its simulator credentials)
	e := newEnv(t, "100")
	fresh, err := e.svc.Merchants().CreateMerchant(ctx, "新商家")
	if err != nil {
		t.Fatal(err)
	}
	mine, err := simulator.AddMerchant(sim.MerchantConfig{Name: "新商家"})
	if err != nil {
		t.Fatal(err)
	}
	unbound, err := simulator.AddMerchant(sim.MerchantConfig{Name: "无人绑定"}) // exists at WeChat, bound by nobody here
	if err != nil {
		t.Fatal(err)
	}
	nothingSaved := func(what string) {
		t.Helper()
		if info, err := e.svc.Merchants().WeChatInfo(ctx, fresh); err != nil || info.Configured {
			t.Fatalf("%s: settings were saved: %+v, %v", what, info, err)
		}
	}
	save := func(f merchant.WeChatForm) (map[string]string, time.Duration) {
		t.Helper()
		start := time.Now()
		err := e.svc.Merchants().SaveWeChat(ctx, fresh, f)
		took := time.Since(start)
		if err == nil {
			return nil, took
		}
		return fields(t, err), took
	}

	// Publishing needs verified settings: a new merchant is told what is missing.
	c, err := e.svc.Create(ctx, fresh, campaign.Settings{Title: "新品", StartsAt: clock.Now().Add(-time.Hour), EndsAt: clock.Now().Add(24 * time.Hour),
		Commission: d("1"), ProductName: "茶", Price: d("10")}, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Publish(ctx, fresh, c.ID)
	wantField(t, err, "wechat", "请先完成微信设置并通过验证")

	wrongSecret := formOfCreds(mine)
	wrongSecret.AppSecret = strings.Repeat("0", 32)
	got, _ := save(wrongSecret)
	if !strings.Contains(got["app_secret"], "AppID 与 AppSecret 不匹配") || len(got) != 1 {
		t.Fatalf("wrong secret: %v", got)
	}
	nothingSaved("wrong secret")

	wrongKey := formOfCreds(mine)
	wrongKey.APIKey = strings.Repeat("A", 32)
	got, _ = save(wrongKey)
	if !strings.Contains(got["api_key"], "API 密钥不正确") || len(got) != 1 {
		t.Fatalf("wrong API key: %v", got)
	}
	nothingSaved("wrong key")

	wrongMch := formOfCreds(mine)
	wrongMch.MchID, wrongMch.CertP12 = unbound.MchID, nil
	got, _ = save(wrongMch)
	if !strings.Contains(got["mch_id"], "商户号未与该公众号关联") {
		t.Fatalf("another merchant number: %v", got)
	}
	nothingSaved("merchant number of another AppID")

	// Probing: an AppID bound here and one bound nowhere, each with a guessed secret and the
	// prober's own pay settings, answer the same; so does the bound AppID with its real
	// secret and pay settings (had they leaked).
	probe := func(target wechat.Credentials, secret string) merchant.WeChatForm {
		f := formOfCreds(mine)
		f.AppID, f.AppSecret = target.AppID, secret
		return f
	}
	bound, tookBound := save(probe(owner.creds, strings.Repeat("1", 32)))
	free, tookFree := save(probe(unbound, strings.Repeat("1", 32)))
	if !maps.Equal(bound, free) || !strings.Contains(bound["app_secret"], "AppID 与 AppSecret 不匹配") {
		t.Fatalf("a bound AppID answers %v, an unbound one %v: they must not differ", bound, free)
	}
	stolen, tookStolen := save(formOfCreds(owner.creds))
	wrong, _ := save(wrongSecret)
	if !maps.Equal(stolen, wrong) {
		t.Fatalf("another merchant's complete settings answer %v, a wrong secret %v: they must not differ", stolen, wrong)
	}
	t.Logf("answer times: bound AppID %s, unbound AppID %s, stolen settings %s", tookBound, tookFree, tookStolen)
	nothingSaved("another merchant's AppID")
	if info, err := owner.svc.Merchants().WeChatInfo(ctx, owner.merchant); err != nil || info.AppID != owner.creds.AppID {
		t.Fatalf("the owner's settings: %+v, %v", info, err)
	}

	// WeChat unreachable: a clear message, nothing saved; the next try works.
	if err := simulator.InjectFault(sim.Fault{Endpoint: "token", Fault: "SYSTEMERROR", Merchant: mine.AppID}); err != nil {
		t.Fatal(err)
	}
	got, _ = save(formOfCreds(mine))
	if !strings.Contains(got["app_secret"], "暂时连不上微信，设置未保存，请稍后再试") {
		t.Fatalf("WeChat unreachable: %v", got)
	}
	nothingSaved("WeChat unreachable")

	// The honest settings are saved, verified, and the campaign publishes.
	if got, _ := save(formOfCreds(mine)); got != nil {
		t.Fatalf("honest settings: %v", got)
	}
	if ok, err := e.svc.Merchants().WeChatVerified(ctx, fresh); err != nil || !ok {
		t.Fatalf("verified after saving: %v, %v", ok, err)
	}
	if _, err := e.wallet.TopUpAssets(ctx, nil, fresh, decimal.NewFromInt(10), "funds", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Publish(ctx, fresh, c.ID); err != nil {
		t.Fatalf("publishing with verified settings: %v", err)
	}
	if !errors.Is(e.svc.Merchants().SetWeChat(ctx, fresh, wrongKeyCreds(mine)), campaign.ErrInvalid) {
		t.Fatal("SetWeChat stored a wrong key")
	}
}

func wrongKeyCreds(c wechat.Credentials) wechat.Credentials {
	c.APIKey = strings.Repeat("B", 32)
	return c
}
