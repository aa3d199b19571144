package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"fenxiao/campaign"
)

// Every validation rule of the console's forms, posted through HTTP: the answer is the form
// again (422) with the rule's message beside its own field. The campaign rules are those of
// campaign.Service.validate plus the console's own parsing; a new rule without a case here is
// a rule no merchant has seen explained.
func TestConsoleValidationMessagesBesideFields(t *testing.T) {
	srv, base := startStack(t, nil)
	b, m := signUp(t, srv, base, "规则店")
	published, order, creds := merchantSetup(t, srv, m, 10)
	loc := time.UTC // startStack's time zone
	now := time.Now().In(loc)
	valid := url.Values{
		"title": {"春茶"}, "starts_at": {now.Add(time.Hour).Format(formTime)}, "ends_at": {now.Add(48 * time.Hour).Format(formTime)},
		"commission": {"2.00"}, "product_name": {"龙井"}, "price": {"68"}, "stock": {"10"}, "max_per_order": {"5"},
	}
	with := func(base url.Values, kv ...string) url.Values {
		v := url.Values{}
		for k, vs := range base {
			v[k] = append([]string(nil), vs...)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "<none>" {
				v.Del(kv[i])
			} else {
				v.Add(kv[i], kv[i+1])
				v[kv[i]] = v[kv[i]][len(v[kv[i]])-1:]
			}
		}
		return v
	}
	long := func(n int) string { return strings.Repeat("茶", n) }
	buttons := func(label, link string) []string { return []string{"button_label", label, "button_link", link} }

	create := []struct {
		name, field, want string
		kv                []string
	}{
		{"title missing", "title", "请填写活动标题", []string{"title", ""}},
		{"title too long", "title", "活动标题最多 60 个字", []string{"title", long(61)}},
		{"start missing", "starts_at", "请选择开始时间", []string{"starts_at", ""}},
		{"start garbled", "starts_at", "时间格式不正确", []string{"starts_at", "tomorrow"}},
		{"end missing", "ends_at", "请选择结束时间", []string{"ends_at", ""}},
		{"end before start", "ends_at", "结束时间必须晚于开始时间", []string{"ends_at", now.Format(formTime)}},
		{"buyer limit negative", "buyer_limit", "限购人数不能为负数", []string{"buyer_limit", "-1"}},
		{"buyer limit not a number", "buyer_limit", "请输入整数", []string{"buyer_limit", "很多"}},
		{"commission missing", "commission", "请填写每件佣金", []string{"commission", ""}},
		{"commission not a number", "commission", "请输入金额", []string{"commission", "两块"}},
		{"commission too small", "commission", "每件佣金须在 0.30 元到 200.00 元之间", []string{"commission", "0.29"}},
		{"commission too large", "commission", "每件佣金须在 0.30 元到 200.00 元之间", []string{"commission", "200.01"}},
		{"commission fen", "commission", "佣金最多两位小数", []string{"commission", "1.005"}},
		{"hold days out of range", "hold_days", "佣金冻结期须在 0 到 90 天之间", []string{"hold_days", "91"}},
		{"product name missing", "product_name", "请填写商品名称", []string{"product_name", ""}},
		{"product name too long", "product_name", "商品名称最多 60 个字", []string{"product_name", long(61)}},
		{"price missing", "price", "请填写商品价格", []string{"price", ""}},
		{"price zero", "price", "价格必须大于 0", []string{"price", "0"}},
		{"price fen", "price", "价格最多两位小数", []string{"price", "9.999"}},
		{"price too high", "price", "价格不能超过 1,000,000 元", []string{"price", "1000000.01"}},
		{"stock negative", "stock", "库存不能为负数", []string{"stock", "-5"}},
		{"stock not a number", "stock", "请输入整数", []string{"stock", "十"}},
		{"max per order zero", "max_per_order", "每单限购须在 1 到 999 件之间", []string{"max_per_order", "-1"}},
		{"max per order too many", "max_per_order", "每单限购须在 1 到 999 件之间", []string{"max_per_order", "1000"}},
		{"description too long", "description", "商品描述最多 5000 个字", []string{"description", long(5001)}},
		{"password too long", "password", "活动密码最多 32 个字符", []string{"password", strings.Repeat("p", 33)}},
		{"region unknown", "regions", "未知的省份：“火星省”", []string{"regions", "火星省"}},
		{"region near miss", "regions", "是否为“广东省”", []string{"regions", "广东"}},
		{"region city unknown", "regions", "广东省 没有城市“纽约”", []string{"regions", "广东省/纽约"}},
		{"splash link", "splash_link", "开屏广告链接须以 http:// 或 https:// 开头", []string{"splash_link", "javascript:alert(1)"}},
		{"button label too long", "buttons", "按钮文字须为 1 到 8 个字", buttons("九个字的按钮文字呀", "https://a.cn")},
		{"button label missing", "buttons", "按钮文字须为 1 到 8 个字", buttons("", "https://a.cn")},
		{"button link", "buttons", "的链接须以 http:// 或 https:// 开头", buttons("客服", "weixin://x")},
		{"image address", "product_images", "图片地址无效", []string{"product_images", "data:image/png;base64,AAAA"}},
		{"fulfilment unknown", "fulfilment", "请选择发货方式", []string{"fulfilment", "drone"}},
		{"auto-complete too late", "auto_complete_days", "1 到 30 天", []string{"auto_complete_days", "31"}},
		{"hold from unknown", "hold_from", "请选择佣金冻结期", []string{"hold_from", "tomorrow"}},
	}
	for _, tc := range create {
		t.Run("create/"+tc.name, func(t *testing.T) {
			resp, page := b.post("/console/campaigns", with(valid, tc.kv...))
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("%d, want the form back with 422", resp.StatusCode)
			}
			if got := fieldError(page, tc.field); !strings.Contains(got, tc.want) {
				t.Fatalf("beside %s: %q, want %q", tc.field, got, tc.want)
			}
		})
	}
	// Several mistakes at once, one that does not even parse among them: all are shown.
	resp, page := b.post("/console/campaigns", with(valid, "price", "abc", "title", "", "commission", "500"))
	if resp.StatusCode != http.StatusUnprocessableEntity || fieldError(page, "price") == "" || fieldError(page, "title") == "" || fieldError(page, "commission") == "" {
		t.Fatalf("mixed mistakes: %d, price %q, title %q, commission %q", resp.StatusCode,
			fieldError(page, "price"), fieldError(page, "title"), fieldError(page, "commission"))
	}
	if !strings.Contains(page, `value="500"`) {
		t.Error("the form lost what the merchant typed")
	}

	// Rules of a published (and of an ended) campaign, through the edit form.
	edit := editForm(t, b, published.ID)
	editPath := fmt.Sprintf("/console/campaigns/%d", published.ID)
	for _, tc := range []struct {
		name, field, want string
		kv                []string
	}{
		{"start frozen", "starts_at", "活动发布后不能修改开始时间", []string{"starts_at", now.Add(-30 * time.Minute).Format(formTime)}},
		{"commission frozen", "commission", "活动发布后不能修改佣金", []string{"commission", "3.00"}},
		{"end in the past", "ends_at", "结束时间必须晚于现在", []string{"ends_at", now.Add(-time.Minute).Format(formTime)}},
		{"fulfilment fixed by its orders", "fulfilment", "发货方式不能再改", []string{"fulfilment", "delivery"}},
	} {
		t.Run("edit/"+tc.name, func(t *testing.T) {
			resp, page := b.post(editPath, with(edit, tc.kv...))
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("%d, want 422", resp.StatusCode)
			}
			if got := fieldError(page, tc.field); !strings.Contains(got, tc.want) {
				t.Fatalf("beside %s: %q, want %q", tc.field, got, tc.want)
			}
		})
	}
	// Saving unchanged settings keeps the exact start time (a form shows minutes only).
	if resp, page := b.post(editPath, with(edit, "title", "春茶 · 改")); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("saving a published campaign unchanged: %d\n%.2000s", resp.StatusCode, page)
	}
	if _, err := srv.Campaign.EndNow(context.Background(), m, published.ID); err != nil {
		t.Fatal(err)
	}
	ended, _ := srv.Campaign.Get(context.Background(), m, published.ID)
	edit = editForm(t, b, ended.ID)
	resp, page = b.post(editPath, with(edit, "ends_at", now.Add(time.Hour).Format(formTime)))
	if got := fieldError(page, "ends_at"); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(got, "活动结束后不能修改结束时间") {
		t.Fatalf("ended campaign's end: %d, %q", resp.StatusCode, got)
	}

	// Actions answered by a message on the page they came from.
	draft, err := srv.Campaign.Create(context.Background(), m, campaign.Settings{Title: "大库存", StartsAt: now.Add(time.Hour), EndsAt: now.Add(2 * time.Hour),
		Commission: published.Commission, ProductName: "茶", Price: published.Price}, 100000)
	if err != nil {
		t.Fatal(err)
	}
	if _, page := b.get(fmt.Sprintf("/console/campaigns/%d", draft.ID)); !strings.Contains(page, "余额不足，还差 ¥199,020.00") {
		t.Error("the draft's page does not say how much publishing lacks")
	}
	for _, tc := range []struct {
		name, path, want string
		form             url.Values
	}{
		{"publish without the balance", fmt.Sprintf("/console/campaigns/%d/publish", draft.ID), "红包资产余额不足：需要冻结 ¥200,000.00，可用余额", nil},
		{"stock below sold", fmt.Sprintf("/console/campaigns/%d/stock", draft.ID), "最多还能减少 100000 件", url.Values{"direction": {"remove"}, "count": {"100001"}}},
		{"stock not a number", fmt.Sprintf("/console/campaigns/%d/stock", draft.ID), "请输入要增加或减少的库存件数", url.Values{"count": {"几件"}}},
		{"end a draft", fmt.Sprintf("/console/campaigns/%d/end", draft.ID), "只有进行中或未开始的活动可以提前结束", nil},
		{"refund unconfirmed", fmt.Sprintf("/console/orders/%d/refund", order.ID), "请勾选确认后再退款", url.Values{}},
	} {
		t.Run("action/"+tc.name, func(t *testing.T) {
			resp, _ := b.post(tc.path, tc.form)
			if got := b.flashOf(resp); !strings.Contains(got, tc.want) {
				t.Fatalf("message %q, want %q", got, tc.want)
			}
		})
	}

	// Top-up amounts.
	for amount, want := range map[string]string{"": "请输入金额", "一百": "不是有效的金额", "0.5": "1 元到 50,000 元", "60000": "1 元到 50,000 元", "10.001": "最多两位小数"} {
		resp, page := b.post("/console/assets/topups", url.Values{"amount": {amount}})
		if got := fieldError(page, "amount"); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(got, want) {
			t.Errorf("top-up %q: %d, %q, want %q", amount, resp.StatusCode, got, want)
		}
	}

	// WeChat settings, including a certificate that does not decode.
	for _, tc := range []struct {
		field, want string
		form        url.Values
		cert        []byte
	}{
		{"app_id", "请填写公众号 AppID", url.Values{"mch_id": {creds.MchID}}, nil},
		{"app_id", "wx 开头", url.Values{"app_id": {"gh_123"}, "mch_id": {creds.MchID}}, nil},
		{"app_secret", "32 位", url.Values{"app_id": {creds.AppID}, "app_secret": {"short"}, "mch_id": {creds.MchID}}, nil},
		{"token", "3 到 32 位", url.Values{"app_id": {creds.AppID}, "token": {"有空 格"}, "mch_id": {creds.MchID}}, nil},
		{"aes_key", "43 位", url.Values{"app_id": {creds.AppID}, "aes_key": {"short"}, "mch_id": {creds.MchID}}, nil},
		{"mch_id", "请填写微信支付商户号", url.Values{"app_id": {creds.AppID}}, nil},
		{"mch_id", "8 到 10 位数字", url.Values{"app_id": {creds.AppID}, "mch_id": {"abc"}}, nil},
		{"api_key", "32 位", url.Values{"app_id": {creds.AppID}, "mch_id": {creds.MchID}, "api_key": {"k"}}, nil},
		{"cert", "证书无法读取", url.Values{"app_id": {creds.AppID}, "mch_id": {creds.MchID}}, []byte("not a p12")},
	} {
		files := map[string][]byte{}
		if tc.cert != nil {
			files["cert"] = tc.cert
		}
		resp, page := b.postMultipart("/console/wechat", tc.form, files)
		if got := fieldError(page, tc.field); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(got, tc.want) {
			t.Errorf("WeChat %s: %d, %q, want %q", tc.field, resp.StatusCode, got, tc.want)
		}
		if strings.Contains(page, creds.AppSecret) || strings.Contains(page, creds.APIKey) {
			t.Fatal("the settings form sent a stored secret back to the browser")
		}
	}

	// Account forms.
	anon := newBrowserClient(t, base)
	for _, tc := range []struct{ field, want, shop, email, pw, confirm string }{
		{"shop_name", "请填写店铺名称", "", "a@b.cn", "password-1", "password-1"},
		{"email", "邮箱格式不正确", "店", "not-an-email", "password-1", "password-1"},
		{"password", "密码至少 8 位", "店", "a@b.cn", "short", "short"},
		{"confirm", "两次输入的密码不一致", "店", "a@b.cn", "password-1", "password-2"},
	} {
		resp, page := anon.post("/console/signup", url.Values{"shop_name": {tc.shop}, "email": {tc.email}, "password": {tc.pw}, "confirm": {tc.confirm}})
		if got := fieldError(page, tc.field); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(got, tc.want) {
			t.Errorf("sign-up %s: %d, %q, want %q", tc.field, resp.StatusCode, got, tc.want)
		}
	}
	resp, page = anon.post("/console/login", url.Values{"email": {"nobody@example.com"}, "password": {"whatever-1"}})
	if got := fieldError(page, "password"); resp.StatusCode != http.StatusUnprocessableEntity || got != "邮箱或密码不正确" {
		t.Errorf("log-in: %d, %q", resp.StatusCode, got)
	}
	resp, page = b.post("/console/account/password", url.Values{"current": {"wrong"}, "new": {"12345678"}, "confirm": {"12345678"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || fieldError(page, "current") != "当前密码不正确" || !strings.Contains(fieldError(page, "new"), "不能全是数字") {
		t.Errorf("password change: %d, current %q, new %q", resp.StatusCode, fieldError(page, "current"), fieldError(page, "new"))
	}
}
