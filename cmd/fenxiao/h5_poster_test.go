package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

// Past the drawing slots a poster request waits briefly and is then answered 503 with
// Retry-After and 海报生成中 (the share page shows it and asks again); the retry, once a slot is
// free, gets the poster. The first request holds the only slot while its sharer's avatar is
// being fetched from an avatar host that answers only when the test lets it.
func TestPosterBusyAnswers503ThenDraws(t *testing.T) {
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	var face bytes.Buffer
	jpeg.Encode(&face, image.NewRGBA(image.Rect(0, 0, 132, 132)), nil) //nolint:errcheck
	avatars := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
		w.Write(face.Bytes()) //nolint:errcheck
	}))
	defer avatars.Close()
	st := newH5StackWith(t, func(c *Config) {
		c.PosterDraws, c.posterWait = 1, 200*time.Millisecond
		c.avatarOrigins = []string{avatars.URL}
	})
	m := st.merchant("海报商家")
	camp := st.campaign(m, 10)
	share := fmt.Sprintf("%s/c/%d/share", st.base, camp.ID)
	poster := fmt.Sprintf("%s/c/%d/poster.png?v=%d", st.base, camp.ID, camp.Version)
	sharer := func(name, avatar string) *follower {
		su, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: name, Subscribed: true})
		if err != nil {
			t.Fatal(err)
		}
		f := newFollower()
		f.signIn(t, st, m, share, su.OpenID)
		// The profile as WeChat's user-info answer would give it (snsapi_userinfo).
		if _, err := st.srv.DB.Exec(`UPDATE wechat_users SET nickname = $3, avatar_url = $4 WHERE merchant_id = $1 AND openid = $2`, m.id, su.OpenID, name, avatar); err != nil {
			t.Fatal(err)
		}
		return f
	}
	a, b := sharer("甲", avatars.URL+"/a.jpg"), sharer("乙", "")

	first := make(chan *http.Response, 1)
	go func() {
		resp, err := a.Get(poster)
		if err != nil {
			t.Error(err)
		}
		first <- resp
	}()
	select {
	case <-arrived:
	case r := <-first:
		t.Fatalf("the first poster was answered %d without asking for its avatar", r.StatusCode)
	case <-time.After(10 * time.Second):
		t.Fatal("the first poster never asked for its avatar within 10 s")
	}

	resp, body := b.get(t, poster)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "2" || !strings.Contains(body, "海报生成中，请稍后再试") {
		t.Fatalf("busy poster: %d, Retry-After %q, %q", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}

	close(release)
	var r1 *http.Response
	select {
	case r1 = <-first:
	case <-time.After(20 * time.Second):
		t.Fatal("the first poster was not answered within 20 s of its avatar")
	}
	if r1 == nil {
		t.FailNow()
	}
	img, _ := io.ReadAll(r1.Body)
	r1.Body.Close()
	if r1.StatusCode != http.StatusOK || r1.Header.Get("Content-Type") != "image/png" || len(img) < 1000 {
		t.Fatalf("first poster: %d %s, %d bytes", r1.StatusCode, r1.Header.Get("Content-Type"), len(img))
	}
	resp, body = b.get(t, poster+"&try=1")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("retried poster: %d %q", resp.StatusCode, body[:min(len(body), 80)])
	}
	// The share page's script knows the answer and retries.
	resp, page := b.get(t, share)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="poster"`) {
		t.Fatalf("share page: %d", resp.StatusCode)
	}
}

// The share page when the server answers 海报生成中: the first two poster requests are
// answered 503 (as h5Poster does past its slots; the browser's own requests are intercepted,
// so the timing is the test's), the page says 海报生成中 under the poster, asks again by itself
// and shows the poster with its usual caption.
func TestBrowserPosterRetry(t *testing.T) {
	st := newH5Stack(t)
	m := st.merchant("海报重试")
	camp := st.campaign(m, 10)
	su, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: "丙", Subscribed: true})
	if err != nil {
		t.Fatal(err)
	}
	a := phone(t)
	paused := make(chan *fetch.EventRequestPaused, 16)
	if err := chromedp.Listen(a, func(ev any) {
		if e, ok := ev.(*fetch.EventRequestPaused); ok {
			paused <- e
		}
	}); err != nil {
		t.Fatal(err)
	}
	var busy atomic.Int32
	busy.Store(2)
	do(t, a, "intercept poster requests", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/poster*"}}})
		if err != nil {
			return err
		}
		go func() {
			for {
				select {
				case e := <-paused:
					if busy.Add(-1) >= 0 {
						cdp.Call(a, tg, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: e.RequestID, ResponseCode: 503, //nolint:errcheck
							ResponseHeaders: []*fetch.HeaderEntry{{Name: "Retry-After", Value: "2"}, {Name: "Content-Type", Value: "text/plain; charset=utf-8"}},
							Body:            []byte("海报生成中，请稍后再试")}) // the server's own words when busy
					} else {
						cdp.Call(a, tg, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: e.RequestID}) //nolint:errcheck
					}
				case <-a.Done(): // the step's ctx ends with the step; the tab's with the test
					return
				}
			}
		}()
		return nil
	}))
	do(t, a, "open the share page", chromedp.Navigate(fmt.Sprintf("%s/c/%d/share", st.base, camp.ID)))
	authorizeAs(t, a, su.OpenID)
	waitFor(t, a, "the userinfo authorize page", `document.body.innerText.includes('申请获得你的公开信息')`)
	authorizeAs(t, a, su.OpenID)
	waitFor(t, a, "the busy caption", `document.querySelector('.poster figcaption').textContent.includes('海报生成中')`)
	shot(t, a, "01-poster-busy")
	waitFor(t, a, "the poster after the retries", `document.getElementById('poster').complete && document.getElementById('poster').naturalWidth === 750`)
	waitFor(t, a, "the usual caption", `document.querySelector('.poster figcaption').textContent === '长按图片保存或发送给朋友'`)
	shot(t, a, "02-poster")
	if n := busy.Load(); n > -1 {
		t.Fatalf("the page asked for the poster %d times, want 3 (two busy answers, then the poster)", 2-n)
	}
}

// The share page links the poster by its fingerprint, answered with a year's immutable
// caching and its fingerprint as ETag, so WeChat's browser never asks again. When the sharer's
// nickname changes, the old fingerprint is redirected (not cached) to the new poster and
// never answered with bytes it does not name; the address before fingerprints still works.
func TestPosterFingerprintedURL(t *testing.T) {
	st := newH5Stack(t)
	m := st.merchant("海报缓存")
	camp := st.campaign(m, 10)
	su, err := st.sim.AddUser(sim.User{AppID: m.creds.AppID, Nickname: "甲", Subscribed: true})
	if err != nil {
		t.Fatal(err)
	}
	share := fmt.Sprintf("%s/c/%d/share", st.base, camp.ID)
	f := newFollower()
	f.signIn(t, st, m, share, su.OpenID)
	rename := func(name string) {
		t.Helper()
		if _, err := st.srv.Campaign.SignIn(context.Background(), m.id, wechat.OAuthToken{OpenID: su.OpenID}, &wechat.User{Nickname: name}); err != nil {
			t.Fatal(err)
		}
	}
	rename("甲") // the userinfo sign-in the share page asks for
	posterOf := func() string {
		t.Helper()
		resp, page := f.get(t, share)
		m := regexp.MustCompile(`src="(/c/\d+/poster/[0-9a-f]{24}\.png)"`).FindStringSubmatch(page)
		if resp.StatusCode != http.StatusOK || m == nil {
			t.Fatalf("share page: %d, no fingerprinted poster in it", resp.StatusCode)
		}
		return m[1]
	}
	first := posterOf()
	resp, img := f.get(t, st.base+first)
	fp := strings.TrimSuffix(path.Base(first), ".png")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" || len(img) < 1000 {
		t.Fatalf("poster: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(img))
	}
	if got := resp.Header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
		t.Fatalf("poster Cache-Control %q", got)
	}
	if got := resp.Header.Get("ETag"); got != `"`+fp+`"` {
		t.Fatalf("poster ETag %q, want the fingerprint %q", got, fp)
	}
	if again := posterOf(); again != first {
		t.Fatalf("nothing changed, yet the poster moved from %s to %s", first, again)
	}

	rename("乙")
	second := posterOf()
	if second == first {
		t.Fatal("the nickname changed but the poster's address did not")
	}
	resp, body := f.get(t, st.base+first)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != second || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("stale poster address: %d to %q (Cache-Control %q), want an uncached redirect to %s; %d bytes",
			resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("Cache-Control"), second, len(body))
	}
	resp, img2 := f.get(t, st.base+second)
	if resp.StatusCode != http.StatusOK || img2 == img {
		t.Fatalf("new poster: %d, same bytes as the old one: %v", resp.StatusCode, img2 == img)
	}
	resp, old := f.get(t, fmt.Sprintf("%s/c/%d/poster.png?v=%d", st.base, camp.ID, camp.Version))
	if resp.StatusCode != http.StatusOK || old != img2 || resp.Header.Get("Cache-Control") != "private, no-cache" {
		t.Fatalf("address before fingerprints: %d (Cache-Control %q), current poster %v", resp.StatusCode, resp.Header.Get("Cache-Control"), old == img2)
	}
}
