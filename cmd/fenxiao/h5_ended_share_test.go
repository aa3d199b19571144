package main

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"fenxiao/wechat/sim"
)

// Issue 17 point 7: the share page of an ended campaign (ended early here; the end time
// passing is the same phase) says it ended, promises no commission and shows no poster; the
// poster's addresses, fingerprinted or not, answer 410 with a clear text instead of a
// "限时抢购" picture.
func TestShareAfterTheEndShowsEnded(t *testing.T) {
	st := newH5Stack(t)
	m := st.merchant("结束后分享")
	camp := st.campaign(m, 10)
	su, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: "甲", Subscribed: true})
	if err != nil {
		t.Fatal(err)
	}
	share := fmt.Sprintf("%s/c/%d/share", st.base, camp.ID)
	f := newFollower()
	f.signIn(t, st, m, share, su.OpenID)
	// As the userinfo sign-in the share page asks for would.
	if _, err := st.srv.DB.Exec(`UPDATE wechat_users SET nickname = '甲' WHERE merchant_id = $1 AND openid = $2`, m.id, su.OpenID); err != nil {
		t.Fatal(err)
	}
	resp, page := f.get(t, share)
	poster := regexp.MustCompile(`src="(/c/\d+/poster/[0-9a-f]{24}\.png)"`).FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || poster == nil || !strings.Contains(page, "每件你赚") {
		t.Fatalf("running campaign's share page: %d, poster %v", resp.StatusCode, poster)
	}
	if _, err := st.srv.Campaign.EndNow(context.Background(), m.id, camp.ID); err != nil {
		t.Fatal(err)
	}
	resp, page = f.get(t, share)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "活动已结束") {
		t.Fatalf("ended campaign's share page: %d\n%.1500s", resp.StatusCode, page)
	}
	for _, stale := range []string{"每件你赚", "/poster", "分享给好友"} {
		if strings.Contains(page, stale) {
			t.Errorf("ended campaign's share page still has %q", stale)
		}
	}
	for _, addr := range []string{poster[1], fmt.Sprintf("/c/%d/poster.png", camp.ID)} {
		resp, body := f.get(t, st.base+addr)
		if resp.StatusCode != http.StatusGone || !strings.Contains(body, "活动已结束") || resp.Header.Get("Content-Type") == "image/png" {
			t.Errorf("poster %s after the end: %d %s %q", addr, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}
