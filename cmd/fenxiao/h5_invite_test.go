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
	"fenxiao/campaign/poster"
	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// The landing page names who invited the visitor and shows the merchant's escrow (issue 17
// point 14): a visitor who came through 王小明's link reads "你的好友 王** 邀请你", one
// without a link or on their own link reads no such line; every visitor reads how much
// commission the merchant has frozen for the campaign (10 units × ¥5.00) and what a sharer
// gets per unit. The page is still rendered once per snapshot for all of them, and the
// inviter's nickname is read once for two visitors who came through the same link.
func TestH5LandingInviterAndEscrow(t *testing.T) {
	st := newH5StackWith(t, func(c *Config) { c.snapshotEvery = time.Minute }) // one snapshot for the test
	m := st.merchant("邀请店")
	c := st.campaign(m, 10)
	ctx := context.Background()
	page := fmt.Sprintf("%s/c/%d", st.base, c.ID)
	user := func(nick string) (sim.User, *campaign.User) {
		t.Helper()
		su, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: nick, Subscribed: true})
		if err != nil {
			t.Fatal(err)
		}
		u, err := st.srv.Campaign.SignIn(ctx, m.id, wechat.OAuthToken{OpenID: su.OpenID}, &wechat.User{OpenID: su.OpenID, Nickname: nick})
		if err != nil {
			t.Fatal(err)
		}
		return su, u
	}
	sa, sharer := user("王小明")
	link := page + "?s=" + st.srv.Campaign.ShareToken(c.ID, sharer.ID)
	open := func(su sim.User, u string) string {
		t.Helper()
		f := newFollower()
		f.signIn(t, st, m, u, su.OpenID)
		resp, body := f.get(t, u)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", u, resp.StatusCode, body)
		}
		return body
	}
	const escrow = "商家已预存佣金 ¥50.00，每卖一件分享者得 ¥5.00，红包直达微信零钱"
	rendersBefore, readsBefore := st.srv.h5.Counters().LandingRenders, st.srv.Campaign.InviterReads()

	b1, _ := user("李小红")
	body := open(b1, link)
	if !strings.Contains(body, `你的好友 <b>王**</b> 邀请你`) || strings.Contains(body, "王小明") {
		t.Fatalf("a visitor through 王小明's link:\n%s", body)
	}
	if !strings.Contains(body, escrow) {
		t.Fatalf("the page does not show the escrow %q:\n%s", escrow, body)
	}
	b2, _ := user("赵小刚")
	if body := open(b2, link); !strings.Contains(body, `你的好友 <b>王**</b> 邀请你`) {
		t.Fatalf("a second visitor through the same link:\n%s", body)
	}
	b3, _ := user("钱小花")
	if body := open(b3, page); strings.Contains(body, "你的好友") || !strings.Contains(body, escrow) {
		t.Fatalf("a visitor without a link:\n%s", body)
	}
	if body := open(sa, link); strings.Contains(body, "你的好友") {
		t.Fatalf("the sharer on their own link:\n%s", body)
	}
	if got := st.srv.h5.Counters().LandingRenders - rendersBefore; got != 1 {
		t.Fatalf("4 visitors, with and without an inviter, rendered the landing page %d times, want once", got)
	}
	if got := st.srv.Campaign.InviterReads() - readsBefore; got != 1 {
		t.Fatalf("two visitors through one link read the inviter's nickname %d times, want once", got)
	}
	// A nickname is the sharer's own text: escaped in the line spliced into the page.
	_, hostile := user("<img src=x onerror=alert(1)>")
	b4, _ := user("孙小美")
	body = open(b4, page+"?s="+st.srv.Campaign.ShareToken(c.ID, hostile.ID))
	if !strings.Contains(body, `你的好友 <b>&lt;**</b> 邀请你`) || strings.Contains(body, "<img src=x") {
		t.Fatalf("a hostile nickname in the invite line:\n%s", body)
	}
}

// A campaign's detail pictures (up to 9, uploads of the merchant's own) show below the
// description, loaded lazily; a tenth is refused, and so is another merchant's upload.
func TestH5LandingDetailImages(t *testing.T) {
	st := newH5Stack(t)
	m := st.merchant("详情图店")
	other := st.merchant("别家店")
	ctx := context.Background()
	upload := func(merchant int64, seed int64) string {
		t.Helper()
		png, err := poster.Cover(seed, fmt.Sprintf("详情 %d", seed))
		if err != nil {
			t.Fatal(err)
		}
		u, err := st.srv.Merchants.SaveUpload(ctx, merchant, png)
		if err != nil {
			t.Fatal(err)
		}
		return u.URL()
	}
	var imgs campaign.StringList
	for i := range 10 {
		imgs = append(imgs, upload(m.id, int64(100+i)))
	}
	set := func(detail campaign.StringList) campaign.Settings {
		now := time.Now()
		return campaign.Settings{Title: "详情", StartsAt: now.Add(-time.Hour), EndsAt: now.Add(48 * time.Hour),
			Commission: st.campaign(m, 1).Commission, ProductName: "龙井", Price: st.campaign(m, 1).Price,
			Description: "头采。", MaxPerOrder: 5, DetailImages: detail}
	}
	if _, err := st.srv.Campaign.Create(ctx, m.id, set(imgs), 5); err == nil || !strings.Contains(err.Error(), "详情图片最多 9 张") {
		t.Fatalf("10 detail pictures: %v", err)
	}
	if _, err := st.srv.Campaign.Create(ctx, m.id, set(campaign.StringList{upload(other.id, 7)}), 5); err == nil || !strings.Contains(err.Error(), "图片不存在") {
		t.Fatalf("another merchant's upload as a detail picture: %v", err)
	}
	c := st.campaign(m, 10, func(s *campaign.Settings) { s.DetailImages = imgs[:9] })
	su, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: "看详情", Subscribed: true})
	if err != nil {
		t.Fatal(err)
	}
	f := newFollower()
	page := fmt.Sprintf("%s/c/%d", st.base, c.ID)
	f.signIn(t, st, m, page, su.OpenID)
	_, body := f.get(t, page)
	desc := strings.Index(body, `<p class="desc">`)
	if desc < 0 {
		t.Fatalf("no description:\n%s", body)
	}
	for i, img := range imgs[:9] {
		at := strings.Index(body, fmt.Sprintf(`<img src="%s" alt="商品详情" loading="lazy"`, img))
		if at < desc {
			t.Fatalf("detail picture %d is not below the description:\n%s", i+1, body)
		}
	}
}

// The campaign form takes up to 9 detail pictures, saved in order and shown again on the
// edit form; a tenth is refused on the field with the limit.
func TestConsoleDetailImages(t *testing.T) {
	srv, base := startStack(t, nil)
	b, m := signUp(t, srv, base, "详情图表单")
	var imgs []string
	for i := range 10 {
		png, err := poster.Cover(int64(200+i), "详情")
		if err != nil {
			t.Fatal(err)
		}
		u, err := srv.Merchants.SaveUpload(context.Background(), m, png)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, u.URL())
	}
	now := time.Now().UTC()
	form := func(details []string) url.Values {
		return url.Values{"title": {"春茶"}, "starts_at": {now.Add(time.Hour).Format(formTime)}, "ends_at": {now.Add(48 * time.Hour).Format(formTime)},
			"commission": {"2.00"}, "product_name": {"龙井"}, "price": {"68"}, "stock": {"10"}, "max_per_order": {"5"},
			"detail_images": details}
	}
	if resp, page := b.post("/console/campaigns", form(imgs)); resp.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(fieldError(page, "detail_images"), "详情图片最多 9 张") {
		t.Fatalf("10 detail pictures: %d %q", resp.StatusCode, fieldError(page, "detail_images"))
	}
	if resp, page := b.post("/console/campaigns", form([]string{imgs[2], imgs[0]})); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("2 detail pictures: %d\n%s", resp.StatusCode, page)
	}
	cs, err := srv.Campaign.List(context.Background(), m)
	if err != nil || len(cs) != 1 {
		t.Fatalf("campaigns %v %v", cs, err)
	}
	if got := cs[0].DetailImages; len(got) != 2 || got[0] != imgs[2] || got[1] != imgs[0] {
		t.Fatalf("saved detail pictures %v, want %v", got, []string{imgs[2], imgs[0]})
	}
	_, page := b.get(fmt.Sprintf("/console/campaigns/%d/edit", cs[0].ID))
	if !strings.Contains(page, `<input type="hidden" name="detail_images" value="`+imgs[2]+`">`) {
		t.Fatal("the edit form does not show the detail pictures")
	}
}
