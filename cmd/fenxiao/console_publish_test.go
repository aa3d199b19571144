package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"fenxiao/campaign"
	"fenxiao/wechat/sim"
)

// Issue 14, points 6 and 8: a new merchant's campaign page says what publishing lacks
// (verified WeChat settings) and publishing is refused with the same words; the WeChat form
// refuses a wrong secret and a wrong key beside their fields and saves nothing; the honest
// settings are verified with WeChat, and then the campaign publishes. Before, settings were
// saved unverified and a merchant who had only signed up could publish.
func TestConsolePublishNeedsVerifiedWeChat(t *testing.T) {
	ctx := context.Background()
	srv, base := startStack(t, nil)
	b, m := signUp(t, srv, base, "新开的店")
	if _, err := srv.Wallet.TopUpAssets(ctx, nil, m, decimal.NewFromInt(100), "test-funds", ""); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c, err := srv.Campaign.Create(ctx, m, campaign.Settings{Title: "首发", StartsAt: now.Add(-time.Hour), EndsAt: now.Add(24 * time.Hour),
		Commission: decimal.NewFromInt(1), ProductName: "茶", Price: decimal.NewFromInt(10)}, 10)
	if err != nil {
		t.Fatal(err)
	}
	page := fmt.Sprintf("/console/campaigns/%d", c.ID)
	if _, body := b.get(page); !strings.Contains(body, `id="need-wechat"`) || !strings.Contains(body, "请先完成微信设置并通过验证") || !strings.Contains(body, `href="/console/wechat"`) {
		t.Fatalf("the draft's page does not say that WeChat settings are missing:\n%.3000s", body)
	}
	resp, _ := b.post(page+"/publish", nil)
	if msg := b.flashOf(resp); !strings.Contains(msg, "请先完成微信设置并通过验证") {
		t.Fatalf("publishing without WeChat settings: %q", msg)
	}

	s, _ := testSim()
	creds, err := s.AddMerchant(sim.MerchantConfig{Name: "新开的店"})
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"app_id": {creds.AppID}, "app_secret": {creds.AppSecret}, "token": {creds.Token}, "aes_key": {creds.EncodingAESKey},
		"mch_id": {creds.MchID}, "api_key": {creds.APIKey}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for key, vs := range form {
			f[key] = vs
		}
		f.Set(k, v)
		return f
	}
	files := map[string][]byte{"cert": creds.CertP12}
	for _, tc := range []struct {
		name, field, value, want string
	}{
		{"wrong secret", "app_secret", strings.Repeat("0", 32), "AppID 与 AppSecret 不匹配"},
		{"wrong key", "api_key", strings.Repeat("A", 32), "API 密钥不正确"},
	} {
		resp, body := b.postMultipart("/console/wechat", with(tc.field, tc.value), files)
		if got := fieldError(body, tc.field); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %d %q, want %q", tc.name, resp.StatusCode, got, tc.want)
		}
		if info, err := srv.Merchants.WeChatInfo(ctx, m); err != nil || info.Configured {
			t.Fatalf("%s: settings saved: %+v %v", tc.name, info, err)
		}
	}
	resp, body := b.postMultipart("/console/wechat", form, files)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("honest settings: %d\n%.2000s", resp.StatusCode, body)
	}
	if _, body := b.get(page); strings.Contains(body, `id="need-wechat"`) {
		t.Fatal("the page still says WeChat settings are missing")
	}
	resp, _ = b.post(page+"/publish", nil)
	if msg := b.flashOf(resp); !strings.Contains(msg, "活动已发布") {
		t.Fatalf("publishing with verified settings: %q", msg)
	}
}
