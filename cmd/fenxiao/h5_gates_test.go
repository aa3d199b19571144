package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"fenxiao/campaign"
	"fenxiao/campaign/poster"
	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// Every gate page in a browser, each reached the way a follower would reach it and each with
// the action it offers: fans only (follow through the QR code, then in), region (by the IP
// chosen on the simulator's authorize page), password (wrong, then right), sold out, not
// started, ended, buyer limit, and WeChat's snapshot mode.
func TestBrowserH5Gates(t *testing.T) {
	st := newH5Stack(t)
	ctx0 := context.Background()
	p := phone(t)
	// Each gate has its own merchant, so each visit signs in afresh as a new user.
	open := func(name string, u newUser, opts ...func(*campaign.Settings)) (*h5Merchant, *campaign.Campaign) {
		t.Helper()
		m := st.merchant(name)
		c := st.campaign(m, 10, opts...)
		do(t, p, "open "+name, chromedp.Navigate(fmt.Sprintf("%s/c/%d", st.base, c.ID)))
		authorizeNew(t, p, u)
		return m, c
	}
	see := func(what, text string) {
		t.Helper()
		waitFor(t, p, what, fmt.Sprintf(`document.querySelector('.state-title') && document.querySelector('.state-title').textContent.includes(%q)`, text))
	}

	t.Run("fans only", func(t *testing.T) {
		m, c := open("粉丝专享", newUser{nickname: "路人甲", subscribed: false}, func(s *campaign.Settings) { s.FansOnly = true })
		see("the follow gate", "关注公众号后参与")
		waitFor(t, p, "the follow QR", `document.getElementById('follow-qr').naturalWidth > 0`)
		shot(t, p, "gate-fan")
		// The QR code is drawn on this server; its content is the official account's follow page.
		qr := eval[string](t, p, `document.getElementById('follow-qr').dataset.content`)
		if !strings.Contains(qr, "/sim/follow?ticket=") {
			t.Fatalf("follow QR content %q", qr)
		}
		// "Scan" it: the simulator's follow page follows and pushes the event to our callback.
		do(t, p, "scan the follow QR", chromedp.Navigate(qr))
		tap(t, p, "pick the user", fmt.Sprintf(`input[name=user][value=%q]`, st.user(m, "路人甲").OpenID))
		tap(t, p, "follow", `form[action="/sim/follow"] button`)
		waitFor(t, p, "the follow confirmation", `document.body.innerText.includes('已关注')`)
		do(t, p, "back to the campaign", chromedp.Navigate(fmt.Sprintf("%s/c/%d", st.base, c.ID)))
		waitFor(t, p, "the landing page", `document.getElementById('buy')`)
	})

	t.Run("region", func(t *testing.T) {
		open("广东专享", newUser{nickname: "北京用户", subscribed: true, ip: "123.125.71.38"}, func(s *campaign.Settings) {
			s.Regions = campaign.StringList{"广东省"}
		})
		see("the region gate", "地区暂不能参与")
		if where := eval[string](t, p, `document.getElementById('region').textContent`); !strings.Contains(where, "北京") {
			t.Fatalf("detected region %q, want 北京", where)
		}
		if eval[bool](t, p, `!!document.querySelector('a[href$="/share"]')`) {
			t.Fatal("the region gate offers 分享海报")
		}
		shot(t, p, "gate-region")
	})

	t.Run("password", func(t *testing.T) {
		_, c := open("口令活动", newUser{nickname: "口令用户", subscribed: true}, func(s *campaign.Settings) { s.Password = "8888" })
		see("the password gate", "需要密码")
		do(t, p, "a wrong password", chromedp.SetValue(chromedp.CSS(`input[name=password]`), "1234"), chromedp.Submit(chromedp.CSS(`.pw-form`)))
		waitFor(t, p, "the error", `document.querySelector('.form-error') && document.querySelector('.form-error').textContent.includes('密码不正确')`)
		shot(t, p, "gate-password")
		do(t, p, "the right password", chromedp.SetValue(chromedp.CSS(`input[name=password]`), "8888"), chromedp.Submit(chromedp.CSS(`.pw-form`)))
		waitFor(t, p, "the landing page", `document.getElementById('buy')`)
		if loc := get(t, p, "the location", chromedp.Location()); !strings.HasSuffix(loc, fmt.Sprintf("/c/%d", c.ID)) {
			t.Fatalf("after the password: %s", loc)
		}
	})

	t.Run("sold out", func(t *testing.T) {
		m := st.merchant("售罄活动")
		c := st.campaign(m, 1)
		buyOut(t, st, m, c, 1)
		do(t, p, "open", chromedp.Navigate(fmt.Sprintf("%s/c/%d", st.base, c.ID)))
		authorizeNew(t, p, newUser{nickname: "晚来者", subscribed: true})
		see("the sold-out gate", "已售罄")
		shot(t, p, "gate-sold_out")
	})

	t.Run("buyer limit", func(t *testing.T) {
		m := st.merchant("限额活动")
		c := st.campaign(m, 10, func(s *campaign.Settings) { s.BuyerLimit = 1 })
		buyOut(t, st, m, c, 1)
		do(t, p, "open", chromedp.Navigate(fmt.Sprintf("%s/c/%d", st.base, c.ID)))
		authorizeNew(t, p, newUser{nickname: "第二人", subscribed: true})
		see("the buyer-limit gate", "名额已满")
		shot(t, p, "gate-buyer_limit")
	})

	t.Run("not started", func(t *testing.T) {
		m, c := open("预热活动", newUser{nickname: "早到者", subscribed: true}, func(s *campaign.Settings) {
			s.StartsAt, s.EndsAt = time.Now().Add(26*time.Hour), time.Now().Add(72*time.Hour)
		})
		// Two detail pictures below the description, then the page again.
		set := c.Settings
		for _, name := range []string{"产地茶园", "冲泡方法"} {
			png, err := poster.Cover(c.ID+int64(len(set.DetailImages))+1, name)
			if err != nil {
				t.Fatal(err)
			}
			u, err := st.srv.Merchants.SaveUpload(ctx0, m.id, png)
			if err != nil {
				t.Fatal(err)
			}
			set.DetailImages = append(set.DetailImages, u.URL())
		}
		if c, err := st.srv.Campaign.Update(ctx0, m.id, c.ID, set); err != nil || len(c.DetailImages) != 2 {
			t.Fatalf("detail pictures %v: %v", c, err)
		}
		// The page comes from the campaign's snapshot, read again after at most a second.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if sn, err := st.srv.Campaign.Snapshot(ctx0, c.ID); err == nil && len(sn.Campaign.DetailImages) == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the campaign's snapshot lacks the detail pictures 5 s after they were saved")
			}
		}
		do(t, p, "open again", chromedp.Navigate(fmt.Sprintf("%s/c/%d", st.base, c.ID)))
		waitFor(t, p, "the detail pictures", `document.querySelectorAll('#details img').length === 2`)
		see("the not-started gate", "即将开始")
		waitFor(t, p, "the countdown", `document.querySelector('.cd-time').textContent.startsWith('1天')`)
		// The product and a way to share ahead of the start, saying when commissions count.
		if got := eval[string](t, p, `document.querySelector('.desc').textContent + '|' + document.getElementById('early-share').textContent`); !strings.Contains(got, "豆香清雅") || !strings.Contains(got, "佣金从活动开始时计算") {
			t.Fatalf("the not-started page shows %q", got)
		}
		shot(t, p, "gate-not_started")
		eval[bool](t, p, `(() => { document.querySelector('#details img:last-child').scrollIntoView(); return true })()`)
		waitFor(t, p, "the detail pictures", `[...document.querySelectorAll('#details img')].every(i => i.complete && i.naturalWidth > 0)`)
		viewShot(t, p, "gate-not_started-details")
		tap(t, p, "share early", `#share-early`)
		waitFor(t, p, "the userinfo authorize page", `document.body.innerText.includes('申请获得你的公开信息')`)
		tap(t, p, "allow", `button[value=allow]`)
		waitFor(t, p, "the early share page", `document.getElementById('early-share') && document.getElementById('share-link')`)
		shot(t, p, "share-not_started")
	})

	t.Run("ended", func(t *testing.T) {
		m := st.merchant("已结束活动")
		c := st.campaign(m, 10)
		if _, err := st.srv.Campaign.EndNow(ctx0, m.id, c.ID); err != nil {
			t.Fatal(err)
		}
		do(t, p, "open", chromedp.Navigate(fmt.Sprintf("%s/c/%d", st.base, c.ID)))
		authorizeNew(t, p, newUser{nickname: "迟到者", subscribed: true})
		see("the ended gate", "活动已结束")
		shot(t, p, "gate-ended")
	})

	t.Run("snapshot", func(t *testing.T) {
		open("朋友圈预览", newUser{nickname: "快照用户", subscribed: true, snapshot: true})
		see("the snapshot guidance", "预览模式")
		// The page asks to tap 「使用完整服务」 at the bottom: WeChat's bar is there to tap.
		waitFor(t, p, "the 使用完整服务 bar", `(function(){var b=[...document.querySelectorAll('[data-wxsim=snapshot] button')].find(x=>x.textContent==='使用完整服务');`+
			`if(!b)return false;var r=b.getBoundingClientRect();return r.bottom<=innerHeight&&r.top>innerHeight-80})()`)
		viewShot(t, p, "gate-snapshot-bar")
		shot(t, p, "gate-snapshot")
		// Tapping it signs in again, with the same user preselected; without snapshot mode the
		// campaign opens.
		tap(t, p, "使用完整服务", `[data-wxsim=snapshot] button`)
		waitFor(t, p, "the authorize page with 快照用户 preselected",
			`[...document.querySelectorAll('input[name=user]')].some(i => i.checked && i.closest('label').textContent.includes('快照用户'))`)
		tap(t, p, "allow", `button[value=allow]`)
		waitFor(t, p, "the landing page", `document.getElementById('buy')`)
	})
}

// buyOut has another buyer (signed in through the service, paying in the simulator) buy qty
// units of c: the last of its stock, or its only buyer slot.
func buyOut(t *testing.T, st *h5Stack, m *h5Merchant, c *campaign.Campaign, qty int) {
	t.Helper()
	ctx := context.Background()
	su, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: "抢先者", Subscribed: true})
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.srv.Campaign.SignIn(ctx, m.id, wechat.OAuthToken{OpenID: su.OpenID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	co, err := st.srv.Campaign.CreateOrder(ctx, c.ID, u, qty, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.sim.Pay(strings.TrimPrefix(co.Pay.Package, "prepay_id="), su.OpenID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		o, err := st.srv.Campaign.Order(ctx, m.id, co.Order.ID)
		if err != nil {
			t.Fatal(err)
		}
		if o.Status == campaign.Paid {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %d still %s", o.ID, o.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
