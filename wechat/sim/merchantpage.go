package sim

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The official account's 服务器配置, as in WeChat's backend (基本配置): the merchant pastes the
// 服务器地址(URL) and Token that Fenxiao's console shows, picks the message mode, and WeChat
// checks the URL with a signed echostr request before saving.

type merchantPage struct {
	Title, Error, Saved           string
	Name, AppID, AppSecret, MchID string
	URL, Token, AESKey, Mode      string
}

var (
	tokenRE  = regexp.MustCompile(`^[A-Za-z0-9]{3,32}$`)
	aesKeyRE = regexp.MustCompile(`^[A-Za-z0-9]{43}$`)
)

func (s *Server) pageMerchant(w http.ResponseWriter, r *http.Request) {
	page, ok := s.merchantPageOf(r.URL.Query().Get("appid"))
	if !ok {
		s.errorPage(w, http.StatusNotFound, "appid 不存在")
		return
	}
	if r.URL.Query().Get("saved") != "" {
		page.Saved = "已保存，服务器地址验证通过"
	}
	s.render(w, "merchant", page)
}

func (s *Server) merchantPageOf(appID string) (merchantPage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.merchants[appID]
	if m == nil {
		return merchantPage{}, false
	}
	return merchantPage{Title: "公众号 · 服务器配置", Name: m.name, AppID: m.appID, AppSecret: m.secret, MchID: m.mchID,
		URL: m.callbackURL, Token: m.token, AESKey: m.aesKey, Mode: m.mode}, true
}

func (s *Server) postMerchant(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, http.StatusBadRequest, "表单错误")
		return
	}
	f := r.PostForm
	page, ok := s.merchantPageOf(f.Get("appid"))
	if !ok {
		s.errorPage(w, http.StatusNotFound, "appid 不存在")
		return
	}
	page.URL, page.Token, page.AESKey, page.Mode = strings.TrimSpace(f.Get("url")), strings.TrimSpace(f.Get("token")),
		strings.TrimSpace(f.Get("aes_key")), f.Get("mode")
	if page.Error = checkServerConfig(page); page.Error == "" && page.URL != "" {
		page.Error = s.verifyURL(r.Context(), page.URL, page.Token)
	}
	if page.Error != "" {
		w.WriteHeader(http.StatusBadRequest)
		s.render(w, "merchant", page)
		return
	}
	s.mu.Lock()
	if m := s.merchants[page.AppID]; m != nil {
		m.callbackURL, m.token, m.aesKey, m.mode = page.URL, page.Token, page.AESKey, page.Mode
	}
	s.mu.Unlock()
	http.Redirect(w, r, "/sim/merchant?saved=1&appid="+url.QueryEscape(page.AppID), http.StatusSeeOther)
}

// checkServerConfig answers as WeChat's form does, or "" when the fields are well formed.
func checkServerConfig(p merchantPage) string {
	if p.URL != "" {
		u, err := url.Parse(p.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "服务器地址（URL）必须以 http:// 或 https:// 开头"
		}
	}
	switch {
	case !tokenRE.MatchString(p.Token):
		return "令牌（Token）必须为 3 到 32 位英文或数字"
	case !aesKeyRE.MatchString(p.AESKey):
		return "消息加解密密钥（EncodingAESKey）必须为 43 位英文或数字"
	case p.Mode != ModeSafe && p.Mode != ModeCompat && p.Mode != ModePlain:
		return "请选择消息加解密方式"
	}
	return ""
}

// verifyURL is WeChat's check of a new server address: a GET with signature, timestamp,
// nonce and echostr that must answer the echostr.
func (s *Server) verifyURL(ctx context.Context, target, token string) string {
	ts, nonce, echo := strconv.FormatInt(time.Now().Unix(), 10), randomDigits(10), randomDigits(19)
	q := url.Values{"signature": {sha1Sign(token, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce}, "echostr": {echo}}
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target+sep+q.Encode(), nil)
	if err != nil {
		return "服务器地址（URL）无效"
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return "请求 URL 超时或无法连接，请检查服务器地址"
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != echo {
		return "Token 验证失败：服务器没有原样返回 echostr，请检查 URL 和 Token 是否与商家后台一致"
	}
	return ""
}
