package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"fenxiao/campaign"
	"fenxiao/wechat/sim"
)

// Gate pages offer sharing only where a share can earn (issue 17 point 13): a visitor outside
// the campaign's regions is offered no 分享海报, on the gate page or at the share page's own
// address; before the start the countdown page shows the product and lets the visitor share
// ahead of the rush, saying that commissions count from the start, and so does the share page.
func TestH5GatePagesShareWhereItEarns(t *testing.T) {
	st := newH5Stack(t)
	m := st.merchant("地区与预热")
	signIn := func(c *campaign.Campaign, nick, ip string) (*follower, string) {
		t.Helper()
		su, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: nick, Subscribed: true, ClientIP: ip})
		if err != nil {
			t.Fatal(err)
		}
		f := newFollower()
		f.signIn(t, st, m, fmt.Sprintf("%s/c/%d", st.base, c.ID), su.OpenID)
		return f, su.OpenID
	}

	t.Run("region", func(t *testing.T) {
		c := st.campaign(m, 10, func(s *campaign.Settings) { s.Regions = campaign.StringList{"广东省"} })
		f, _ := signIn(c, "北京用户", "123.125.71.38")
		share := fmt.Sprintf("/c/%d/share", c.ID)
		_, body := f.get(t, fmt.Sprintf("%s/c/%d", st.base, c.ID))
		if !strings.Contains(body, "地区暂不能参与") || strings.Contains(body, share) || strings.Contains(body, "分享海报") {
			t.Fatalf("the region gate offers sharing:\n%s", body)
		}
		resp, body := f.get(t, st.base+share)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "地区暂不能参与") || strings.Contains(body, "share-link") {
			t.Fatalf("the share page of a region-blocked visitor: %d\n%s", resp.StatusCode, body)
		}
	})

	t.Run("not started", func(t *testing.T) {
		c := st.campaign(m, 10, func(s *campaign.Settings) {
			s.StartsAt, s.EndsAt = time.Now().Add(26*time.Hour), time.Now().Add(72*time.Hour)
		})
		f, openid := signIn(c, "早到者", "")
		_, body := f.get(t, fmt.Sprintf("%s/c/%d", st.base, c.ID))
		for _, want := range []string{"即将开始", c.ProductName, c.Description, fmt.Sprintf(`href="/c/%d/share"`, c.ID),
			"68.00", "佣金从活动开始时计算", `data-share="1"`} {
			if !strings.Contains(body, want) {
				t.Fatalf("the not-started page lacks %q:\n%s", want, body)
			}
		}
		share := fmt.Sprintf("%s/c/%d/share", st.base, c.ID)
		f.signIn(t, st, m, share, openid) // the poster asks for the profile
		resp, body := f.get(t, share)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "share-link") || !strings.Contains(body, "佣金从活动开始时计算") ||
			!strings.Contains(body, `id="poster"`) {
			t.Fatalf("the share page before the start: %d\n%s", resp.StatusCode, body)
		}
	})
}
