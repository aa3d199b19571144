package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"fenxiao/campaign"
)

// riskToken is the value of the confirmation box on a form that asks to confirm.
func riskToken(page string) string {
	m := regexp.MustCompile(`name="confirm_risks" value="([0-9a-f]+)"`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return m[1]
}

// Issue 17 point 8: a commission above the price and a start in the past are saved only once
// the merchant ticked the consequence; the form comes back with everything typed; a box
// ticked for other risks does not count.
func TestConsoleRiskySettingsAskForConfirmation(t *testing.T) {
	srv, base := startStack(t, nil)
	b, m := signUp(t, srv, base, "冒险店")
	now := time.Now().UTC()
	form := url.Values{
		"title": {"亏本茶"}, "starts_at": {now.Add(-2 * time.Hour).Format(formTime)}, "ends_at": {now.Add(48 * time.Hour).Format(formTime)},
		"commission": {"100"}, "product_name": {"龙井"}, "price": {"68"}, "stock": {"10"}, "max_per_order": {"5"}, "description": {"  明前\n二两"},
	}
	count := func() (n int) {
		t.Helper()
		if err := srv.DB.Get(&n, `SELECT count(*) FROM campaigns WHERE merchant_id = $1`, m); err != nil {
			t.Fatal(err)
		}
		return n
	}
	resp, page := b.post("/console/campaigns", form)
	if resp.StatusCode != http.StatusUnprocessableEntity || count() != 0 {
		t.Fatalf("risky settings: %d, %d campaigns saved, want the form back and nothing saved", resp.StatusCode, count())
	}
	for _, want := range []string{`id="risk-confirm"`, "每卖一件你亏 ¥32.00", "开始时间已经过去", `value="100"`, `value="亏本茶"`, "  明前\n二两"} {
		if !strings.Contains(page, want) {
			t.Errorf("the confirmation form lacks %q", want)
		}
	}
	token := riskToken(page)
	if token == "" {
		t.Fatal("no box to tick")
	}
	// Ticked, but the merchant raised the commission meanwhile: a new consequence, asked again.
	raised := url.Values{}
	for k, v := range form {
		raised[k] = v
	}
	raised.Set("commission", "150")
	raised.Set("confirm_risks", token)
	if resp, page := b.post("/console/campaigns", raised); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "每卖一件你亏 ¥82.00") || count() != 0 {
		t.Fatalf("a box ticked for other risks saved the campaign: %d, %d saved", resp.StatusCode, count())
	}
	form.Set("confirm_risks", token)
	if resp, page := b.post("/console/campaigns", form); resp.StatusCode != http.StatusSeeOther || count() != 1 {
		t.Fatalf("confirmed: %d, %d saved\n%.1500s", resp.StatusCode, count(), page)
	}

	// A mistake is shown before any question.
	form.Del("confirm_risks")
	form.Set("title", "")
	if resp, page := b.post("/console/campaigns", form); resp.StatusCode != http.StatusUnprocessableEntity || fieldError(page, "title") == "" || strings.Contains(page, `id="risk-confirm"`) {
		t.Fatalf("invalid and risky: %d, title error %q", resp.StatusCode, fieldError(page, "title"))
	}
	// Ordinary settings ask nothing.
	form.Set("title", "正常茶")
	form.Set("commission", "2")
	form.Set("starts_at", now.Add(time.Hour).Format(formTime))
	if resp, _ := b.post("/console/campaigns", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("ordinary settings: %d", resp.StatusCode)
	}
}

// Issue 17 points 7 and 9 in the console: stock after the end is refused (and not offered);
// removing too much says the most; not enough balance links to a top-up, amounts with
// separators; a draft lacking money or stock says so instead of a negative remainder;
// ending a campaign before its start keeps the start and its other settings still save.
func TestConsoleStockAndMoneyMessages(t *testing.T) {
	ctx := context.Background()
	srv, base := startStack(t, nil)
	b, m := signUp(t, srv, base, "消息店")
	published, _, _ := merchantSetup(t, srv, m, 10) // 1000 yuan, 20 frozen, one unit sold
	page := fmt.Sprintf("/console/campaigns/%d", published.ID)

	resp, _ := b.post(page+"/stock", url.Values{"direction": {"remove"}, "count": {"500"}})
	if msg := b.flashOf(resp); !strings.Contains(msg, "最多还能减少 9 件") {
		t.Errorf("removing 500 of 10 with 1 sold: %q", msg)
	}
	resp, _ = b.post(page+"/stock", url.Values{"direction": {"add"}, "count": {"1000"}})
	_, body := b.get(resp.Header.Get("Location"))
	toast := regexp.MustCompile(`(?s)<div class="toast toast-error" role="status">.*?</div>`).FindString(body)
	if !strings.Contains(toast, "需要冻结 ¥2,000.00，可用余额 ¥980.00，还差 ¥1,020.00") || !strings.Contains(toast, `href="/console/assets?amount=1020">去充值</a>`) {
		t.Errorf("adding without the balance: %q, want the amounts with separators and a top-up link", toast)
	}

	if _, err := srv.DB.Exec(`UPDATE campaigns SET ends_at = now() - interval '1 second' WHERE id = $1`, published.ID); err != nil {
		t.Fatal(err)
	}
	resp, _ = b.post(page+"/stock", url.Values{"direction": {"add"}, "count": {"5"}})
	if msg := b.flashOf(resp); !strings.Contains(msg, "活动已结束，不能再调整库存") {
		t.Errorf("stock after the end, before the release job: %q", msg)
	}
	if _, body := b.get(page); !strings.Contains(body, `id="stock-ended"`) || strings.Contains(body, `id="stock-form"`) {
		t.Error("the ended campaign's page still offers 调整库存")
	}

	now := time.Now()
	set := campaign.Settings{Title: "大库存", StartsAt: now.Add(time.Hour), EndsAt: now.Add(2 * time.Hour),
		Commission: decimal.NewFromInt(100), ProductName: "茶", Price: decimal.NewFromInt(200)}
	huge, err := srv.Campaign.Create(ctx, m, set, campaign.MaxStock)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := srv.Campaign.Create(ctx, m, set, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id   int64
		want string
	}{
		{huge.ID, "冻结需 ¥100,000,000.00，可用余额还差 ¥99,999,020.00"},
		{empty.ID, "库存为 0 件"},
	} {
		_, body := b.get(fmt.Sprintf("/console/campaigns/%d", tc.id))
		after := regexp.MustCompile(`id="after-freeze">([^<]*)<`).FindStringSubmatch(body)
		if after == nil || !strings.Contains(after[1], tc.want) || strings.Contains(after[1], "¥-") {
			t.Errorf("draft %d says %q, want %q", tc.id, after, tc.want)
		}
	}

	// Ending a campaign before its start: the start stays, the page says so, other settings save.
	starts := now.Add(48 * time.Hour).Truncate(time.Minute)
	upcoming, err := srv.Campaign.Create(ctx, m, campaign.Settings{Title: "未开始", StartsAt: starts, EndsAt: starts.Add(24 * time.Hour),
		Commission: decimal.NewFromInt(1), ProductName: "茶", Price: decimal.NewFromInt(10)}, 5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Campaign.Publish(ctx, m, upcoming.ID); err != nil {
		t.Fatal(err)
	}
	upPage := fmt.Sprintf("/console/campaigns/%d", upcoming.ID)
	if resp, _ := b.post(upPage+"/end", nil); !strings.Contains(b.flashOf(resp), "活动已结束") {
		t.Fatal("ending the upcoming campaign failed")
	}
	ended, _ := srv.Campaign.Get(ctx, m, upcoming.ID)
	if !ended.StartsAt.Equal(starts) {
		t.Fatalf("start rewritten from %s to %s", starts, ended.StartsAt)
	}
	if _, body := b.get(upPage); !strings.Contains(body, "未开始即于") {
		t.Error("the page does not say it ended before its start")
	}
	edit := editForm(t, b, ended.ID)
	edit.Set("title", "未开始 · 已改")
	if resp, body := b.post(upPage, edit); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("saving the ended-before-start campaign: %d %q", resp.StatusCode, fieldError(body, "ends_at"))
	}
	if again, _ := srv.Campaign.Get(ctx, m, upcoming.ID); !again.StartsAt.Equal(starts) || again.Title != "未开始 · 已改" {
		t.Fatalf("after saving: start %s, title %q", again.StartsAt, again.Title)
	}
}

// Issue 17 point 9: the region picker says 全市 for a municipality (no city list under it)
// and 全省 for a province; 显示参与人数 says what is counted.
func TestConsoleRegionWordsAndParticipantsHint(t *testing.T) {
	srv, base := startStack(t, nil)
	b, _ := signUp(t, srv, base, "地区店")
	_, page := b.get("/console/campaigns/new")
	beijing := regexp.MustCompile(`(?s)value="北京市"[^>]*> 北京市</label><span class="muted small">([^<]*)</span></summary>\s*(<div class="cities">)?`).FindStringSubmatch(page)
	if beijing == nil || beijing[1] != "全市" || beijing[2] != "" {
		t.Errorf("北京市 in the picker: %q", beijing)
	}
	if !regexp.MustCompile(`value="广东省"[^>]*> 广东省</label><span class="muted small">全省</span>`).MatchString(page) {
		t.Error("广东省 is not 全省")
	}
	if !strings.Contains(page, "拿到佣金的分享者人数，每人只算一次") {
		t.Error("显示参与人数 does not say what is counted")
	}
}

// Issue 17 point 10: copy a published campaign and a draft into new drafts, delete a draft
// after ticking the box; a published campaign cannot be deleted; another merchant can do
// neither.
func TestConsoleCopyAndDeleteDrafts(t *testing.T) {
	ctx := context.Background()
	srv, base := startStack(t, nil)
	b, m := signUp(t, srv, base, "复制店")
	published, _, _ := merchantSetup(t, srv, m, 10)
	resp, _ := b.post(fmt.Sprintf("/console/campaigns/%d/copy", published.ID), nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("copy: %d", resp.StatusCode)
	}
	var id int64
	if _, err := fmt.Sscanf(resp.Header.Get("Location"), "/console/campaigns/%d/edit", &id); err != nil {
		t.Fatalf("copy went to %q", resp.Header.Get("Location"))
	}
	cp, err := srv.Campaign.Get(ctx, m, id)
	if err != nil || cp.Status != campaign.Draft || cp.Title != "副本 "+published.Title || cp.Stock != 0 || !cp.Commission.Equal(published.Commission) {
		t.Fatalf("copy: %+v %v", cp, err)
	}
	if _, body := b.get(resp.Header.Get("Location")); !strings.Contains(body, `value="副本 `+published.Title+`"`) {
		t.Error("the copy's form does not show its title")
	}
	draftPage := fmt.Sprintf("/console/campaigns/%d", id)
	if _, body := b.get(draftPage); !strings.Contains(body, `id="delete-open"`) || !strings.Contains(body, `id="copy-campaign"`) {
		t.Error("the draft's page offers no copy and delete")
	}
	if _, body := b.get(fmt.Sprintf("/console/campaigns/%d", published.ID)); strings.Contains(body, `id="delete-open"`) {
		t.Error("the published campaign's page offers to delete it")
	}

	other, _ := signUp(t, srv, base, "别人的店")
	for _, action := range []string{"copy", "delete"} {
		if resp, _ := other.post(fmt.Sprintf("/console/campaigns/%d/%s", id, action), url.Values{"confirm": {"1"}}); resp.StatusCode != http.StatusNotFound {
			t.Errorf("another merchant's %s: %d", action, resp.StatusCode)
		}
	}
	resp, _ = b.post(draftPage+"/delete", nil)
	if msg := b.flashOf(resp); !strings.Contains(msg, "请勾选确认") {
		t.Errorf("delete without the box: %q", msg)
	}
	resp, _ = b.post(fmt.Sprintf("/console/campaigns/%d/delete", published.ID), url.Values{"confirm": {"1"}})
	if msg := b.flashOf(resp); !strings.Contains(msg, "只能删除草稿") {
		t.Errorf("deleting the published campaign: %q", msg)
	}
	resp, _ = b.post(draftPage+"/delete", url.Values{"confirm": {"1"}})
	if resp.Header.Get("Location") != "/console/campaigns" || !strings.Contains(b.flashOf(resp), "草稿已删除") {
		t.Fatalf("delete: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, err := srv.Campaign.Get(ctx, m, id); err == nil {
		t.Fatal("the draft is still there")
	}
	if _, err := srv.Campaign.Get(ctx, m, published.ID); err != nil {
		t.Fatal(err)
	}
}
