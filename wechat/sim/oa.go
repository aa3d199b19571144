package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	qr "github.com/piglig/go-qr"
)

// tokenTTL is WeChat's access_token and jsapi_ticket lifetime; the SDK caches for
// expires_in - 1500 s, so anything shorter than 1500 s would break it.
const tokenTTL = 7200 * time.Second

type accessToken struct {
	appID    string
	openID   string // sns tokens only
	scope    string // sns tokens only
	snapshot bool
	expires  time.Time
}

type authCode struct {
	appID, openID, scope string
	snapshot             bool
	used                 bool
	expires              time.Time
}

type jsTicket struct {
	appID   string
	expires time.Time
}

type qrTicket struct {
	appID, scene string
	expires      time.Time
}

// TemplateMessage is a template message the simulator accepted.
type TemplateMessage struct {
	AppID       string            `json:"appid"`
	MsgID       int64             `json:"msgid"`
	ToUser      string            `json:"touser"`
	TemplateID  string            `json:"template_id"`
	URL         string            `json:"url,omitempty"`
	Data        map[string]string `json:"data"`
	ClientMsgID string            `json:"client_msg_id,omitempty"`
	SentAt      time.Time         `json:"sent_at"`
}

// ExpireTokens invalidates every access_token of appID, as when another server refreshed
// it: the next call answers 40001 and a client must fetch a new token.
func (s *Server) ExpireTokens(appID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, t := range s.tokens {
		if t.appID == appID && t.openID == "" {
			delete(s.tokens, k)
		}
	}
}

// Templates returns the template messages accepted for appID.
func (s *Server) Templates(appID string) []TemplateMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []TemplateMessage
	for _, t := range s.templates {
		if t.AppID == appID {
			out = append(out, t)
		}
	}
	return out
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if s.oaFault(w, r, "token") {
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.merchants[q.Get("appid")]
	switch {
	case q.Get("grant_type") != "client_credential":
		oaError(w, 40002, "invalid grant_type")
	case m == nil:
		oaError(w, 40013, "invalid appid")
	case m.secret != q.Get("secret"):
		oaError(w, 40001, "invalid credential, access_token is invalid or not latest")
	default:
		tok := randomString(64)
		s.tokens[tok] = &accessToken{appID: m.appID, expires: s.now().Add(tokenTTL)}
		writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "expires_in": int(tokenTTL.Seconds())})
	}
}

// appToken checks the access_token of an official-account call and returns its merchant,
// having answered the error itself when it returns nil. The caller holds s.mu.
func (s *Server) appToken(w http.ResponseWriter, r *http.Request) *merchant {
	t := s.tokens[r.URL.Query().Get("access_token")]
	switch {
	case t == nil || t.openID != "":
		oaError(w, 40001, "invalid credential, access_token is invalid or not latest")
	case !s.now().Before(t.expires):
		oaError(w, 42001, "access_token expired")
	default:
		return s.merchants[t.appID]
	}
	return nil
}

func (s *Server) handleUserInfo(w http.ResponseWriter, r *http.Request) {
	if s.oaFault(w, r, "userinfo") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.appToken(w, r)
	if m == nil {
		return
	}
	u := s.users[r.URL.Query().Get("openid")]
	if u == nil || u.AppID != m.appID {
		oaError(w, 40003, "invalid openid")
		return
	}
	if !u.Subscribed {
		writeJSON(w, http.StatusOK, map[string]any{"subscribe": 0, "openid": u.OpenID})
		return
	}
	scene := "ADD_SCENE_SEARCH"
	if u.SceneStr != "" {
		scene = "ADD_SCENE_QR_CODE"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"subscribe": 1, "openid": u.OpenID, "nickname": u.Nickname, "headimgurl": s.base(r) + u.AvatarURL,
		"language": "zh_CN", "subscribe_time": u.subscribedAt.Unix(), "subscribe_scene": scene,
		"qr_scene": 0, "qr_scene_str": u.SceneStr, "remark": "", "groupid": 0, "tagid_list": []int{},
	})
}

func (s *Server) handleTicket(w http.ResponseWriter, r *http.Request) {
	if s.oaFault(w, r, "getticket") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.appToken(w, r)
	if m == nil {
		return
	}
	if r.URL.Query().Get("type") != "jsapi" {
		oaError(w, 40097, "invalid args")
		return
	}
	t := randomString(86)
	s.tickets[t] = &jsTicket{appID: m.appID, expires: s.now().Add(tokenTTL)}
	writeJSON(w, http.StatusOK, map[string]any{"errcode": 0, "errmsg": "ok", "ticket": t, "expires_in": int(tokenTTL.Seconds())})
}

func (s *Server) handleQRCreate(w http.ResponseWriter, r *http.Request) {
	if s.oaFault(w, r, "qrcode") {
		return
	}
	var req struct {
		ExpireSeconds int64  `json:"expire_seconds"`
		ActionName    string `json:"action_name"`
		ActionInfo    struct {
			Scene struct {
				SceneStr string `json:"scene_str"`
				SceneID  int64  `json:"scene_id"`
			} `json:"scene"`
		} `json:"action_info"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		oaError(w, 47001, "data format error")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.appToken(w, r)
	if m == nil {
		return
	}
	scene := req.ActionInfo.Scene.SceneStr
	switch req.ActionName {
	case "QR_SCENE", "QR_LIMIT_SCENE":
		scene = fmt.Sprint(req.ActionInfo.Scene.SceneID)
	case "QR_STR_SCENE", "QR_LIMIT_STR_SCENE":
		if scene == "" || len(scene) > 64 {
			oaError(w, 40097, "invalid args: scene_str must be 1 to 64 characters")
			return
		}
	default:
		oaError(w, 40097, "invalid action_name")
		return
	}
	ttl := time.Duration(req.ExpireSeconds) * time.Second
	if ttl <= 0 {
		ttl = 60 * time.Second
	}
	if ttl > 30*24*time.Hour {
		ttl = 30 * 24 * time.Hour
	}
	t := "gQ" + randomString(94)
	s.qrs[t] = &qrTicket{appID: m.appID, scene: scene, expires: s.now().Add(ttl)}
	writeJSON(w, http.StatusOK, map[string]any{
		"ticket": t, "expire_seconds": int64(ttl.Seconds()), "url": s.base(r) + "/sim/follow?ticket=" + url.QueryEscape(t),
	})
}

// handleShowQR draws the QR code of a ticket: its content is the simulator's follow page.
func (s *Server) handleShowQR(w http.ResponseWriter, r *http.Request) {
	t := r.URL.Query().Get("ticket")
	s.mu.Lock()
	q := s.qrs[t]
	s.mu.Unlock()
	if q == nil {
		http.Error(w, "invalid ticket", http.StatusNotFound)
		return
	}
	writePNG(w, s.base(r)+"/sim/follow?ticket="+url.QueryEscape(t))
}

// writePNG answers with a QR code of content.
func writePNG(w http.ResponseWriter, content string) {
	code, err := qr.EncodeText(content, qr.Medium)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	png, err := code.ToPNGBytes(qr.NewQrCodeImgConfig(8, 4))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(png) //nolint:errcheck
}

func (s *Server) handleTemplate(w http.ResponseWriter, r *http.Request) {
	if s.oaFault(w, r, "template") {
		return
	}
	var req struct {
		ToUser      string `json:"touser"`
		TemplateID  string `json:"template_id"`
		URL         string `json:"url"`
		ClientMsgID string `json:"client_msg_id"`
		Data        map[string]struct {
			Value string `json:"value"`
		} `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		oaError(w, 47001, "data format error")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.appToken(w, r)
	if m == nil {
		return
	}
	u := s.users[req.ToUser]
	switch {
	case u == nil || u.AppID != m.appID:
		oaError(w, 40003, "invalid openid")
		return
	case !u.Subscribed:
		oaError(w, 43004, "require subscribe")
		return
	case req.TemplateID == "":
		oaError(w, 40037, "invalid template_id")
		return
	}
	if req.ClientMsgID != "" {
		for _, t := range s.templates {
			if t.AppID == m.appID && t.ClientMsgID == req.ClientMsgID {
				writeJSON(w, http.StatusOK, map[string]any{"errcode": 0, "errmsg": "ok", "msgid": t.MsgID})
				return
			}
		}
	}
	data := map[string]string{}
	for k, v := range req.Data {
		data[k] = v.Value
	}
	t := TemplateMessage{AppID: m.appID, MsgID: 200000000 + s.id(), ToUser: req.ToUser, TemplateID: req.TemplateID,
		URL: req.URL, Data: data, ClientMsgID: req.ClientMsgID, SentAt: s.now()}
	s.templates = append(s.templates, t)
	writeJSON(w, http.StatusOK, map[string]any{"errcode": 0, "errmsg": "ok", "msgid": t.MsgID})
}

// handleSNSToken exchanges an OAuth code: once, within 5 minutes, with the right secret.
func (s *Server) handleSNSToken(w http.ResponseWriter, r *http.Request) {
	if s.oaFault(w, r, "oauth") {
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.merchants[q.Get("appid")]
	c := s.codes[q.Get("code")]
	switch {
	case m == nil:
		oaError(w, 40013, "invalid appid")
	case m.secret != q.Get("secret"):
		oaError(w, 40125, "invalid appsecret")
	case q.Get("grant_type") != "authorization_code":
		oaError(w, 40002, "invalid grant_type")
	case c == nil || c.appID != m.appID || !s.now().Before(c.expires):
		oaError(w, 40029, "invalid code")
	case c.used:
		oaError(w, 40163, "code been used")
	default:
		c.used = true
		openID := c.openID
		if c.snapshot {
			openID = snapshotOpenID(c.openID)
		}
		tok := randomString(64)
		s.tokens[tok] = &accessToken{appID: m.appID, openID: openID, scope: c.scope, snapshot: c.snapshot, expires: s.now().Add(tokenTTL)}
		ans := map[string]any{"access_token": tok, "expires_in": int(tokenTTL.Seconds()), "refresh_token": randomString(64),
			"openid": openID, "scope": c.scope}
		if c.snapshot {
			ans["is_snapshotuser"] = 1
		}
		writeJSON(w, http.StatusOK, ans)
	}
}

// handleSNSUserInfo answers snsapi_userinfo tokens with the user's profile.
func (s *Server) handleSNSUserInfo(w http.ResponseWriter, r *http.Request) {
	if s.oaFault(w, r, "snsuserinfo") {
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens[q.Get("access_token")]
	switch {
	case t == nil || t.openID == "" || t.openID != q.Get("openid"):
		oaError(w, 40001, "invalid credential, access_token is invalid or not latest")
		return
	case !s.now().Before(t.expires):
		oaError(w, 42001, "access_token expired")
		return
	case t.scope != "snsapi_userinfo" || t.snapshot:
		oaError(w, 48001, "api unauthorized")
		return
	}
	u := s.users[t.openID]
	if u == nil {
		oaError(w, 40003, "invalid openid")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"openid": u.OpenID, "nickname": u.Nickname, "sex": 0, "province": "",
		"city": "", "country": "", "headimgurl": s.base(r) + u.AvatarURL, "privilege": []string{}})
}
