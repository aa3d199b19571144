package sim

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func page(t *testing.T, s *Server, r *http.Request) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, r)
	return rec.Code, rec.Body.String()
}

func form(path string, v url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// The merchant page takes the 服务器地址(URL) and Token as WeChat's backend does: saved only
// when the URL answers WeChat's signed echostr check with that token. The follow page says
// plainly when no URL is configured, instead of claiming it pushed the event.
func TestMerchantServerConfigAndFollowPage(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	creds, _ := s.AddMerchant(MerchantConfig{Name: "配置店"})
	s.qrs["T1"] = &qrTicket{appID: creds.AppID, scene: "fx1_2_abc", expires: time.Now().Add(time.Hour)}

	_, body := page(t, s, httptest.NewRequest(http.MethodGet, "/sim/follow?ticket=T1", nil))
	if !strings.Contains(body, "没有配置服务器地址") {
		t.Fatalf("follow page without a callback URL does not say so:\n%s", body)
	}

	const token = "pastedToken123"
	fenxiao := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if sha1Sign(token, q.Get("timestamp"), q.Get("nonce")) != q.Get("signature") {
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		w.Write([]byte(q.Get("echostr"))) //nolint:errcheck
	}))
	defer fenxiao.Close()
	submit := func(tok string) (int, string) {
		return page(t, s, form("/sim/merchant", url.Values{"appid": {creds.AppID}, "url": {fenxiao.URL + "/wechat/oa/1"},
			"token": {tok}, "aes_key": {creds.EncodingAESKey}, "mode": {ModeSafe}}))
	}
	if code, body := submit("wrongToken"); code != http.StatusBadRequest || !strings.Contains(body, "Token 验证失败") {
		t.Fatalf("a token the server does not know: %d\n%s", code, body)
	}
	if s.Merchants()[0].CallbackURL != "" {
		t.Fatal("saved although the check failed")
	}
	if code, body := submit(token); code != http.StatusSeeOther {
		t.Fatalf("the right token: %d\n%s", code, body)
	}
	if got := s.Merchants()[0].CallbackURL; got != fenxiao.URL+"/wechat/oa/1" {
		t.Fatalf("callback URL %q", got)
	}
	if c, _ := s.Credentials(creds.AppID); c.Token != token {
		t.Fatalf("token %q", c.Token)
	}
	_, body = page(t, s, httptest.NewRequest(http.MethodGet, "/sim/merchant?appid="+creds.AppID, nil))
	if !strings.Contains(body, "服务器地址(URL)") || !strings.Contains(body, fenxiao.URL+"/wechat/oa/1") {
		t.Fatalf("merchant page:\n%s", body)
	}
	_, body = page(t, s, httptest.NewRequest(http.MethodGet, "/sim/follow?ticket=T1", nil))
	if strings.Contains(body, "没有配置服务器地址") {
		t.Fatal("follow page still warns after the URL was set")
	}
}

// The authorize and follow pages preselect the user signed in on this browser (the one last
// chosen), not the first user.
func TestPagesPreselectTheSignedInUser(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	creds, _ := s.AddMerchant(MerchantConfig{})
	first, _ := s.AddUser(User{AppID: creds.AppID, Nickname: "甲"})
	second, _ := s.AddUser(User{AppID: creds.AppID, Nickname: "乙"})
	s.qrs["T2"] = &qrTicket{appID: creds.AppID, scene: "x", expires: time.Now().Add(time.Hour)}

	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, form("/connect/oauth2/authorize", url.Values{"appid": {creds.AppID}, "redirect_uri": {"http://127.0.0.1/back"},
		"scope": {"snsapi_base"}, "user": {second.OpenID}, "action": {"allow"}}))
	cookies := rec.Result().Cookies()
	if rec.Code != http.StatusFound || len(cookies) == 0 {
		t.Fatalf("authorize: %d, cookies %v", rec.Code, cookies)
	}
	checked := func(body, openID string) bool {
		return strings.Contains(body, `value="`+openID+`" checked`)
	}
	for _, path := range []string{
		"/connect/oauth2/authorize?appid=" + creds.AppID + "&redirect_uri=http%3A%2F%2F127.0.0.1%2Fback&response_type=code&scope=snsapi_userinfo",
		"/sim/follow?ticket=T2",
	} {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		for _, c := range cookies {
			r.AddCookie(c)
		}
		_, body := page(t, s, r)
		if !checked(body, second.OpenID) || checked(body, first.OpenID) {
			t.Fatalf("%s does not preselect 乙, the signed-in user:\n%s", path, body)
		}
		_, body = page(t, s, httptest.NewRequest(http.MethodGet, path, nil))
		if !checked(body, first.OpenID) {
			t.Fatalf("%s without a signed-in user does not preselect the first", path)
		}
	}
}
