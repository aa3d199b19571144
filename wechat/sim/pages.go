package sim

import (
	"embed"
	"fmt"
	"hash/fnv"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

//go:embed pages/*.html
var pageFiles embed.FS

type pageSet = *template.Template

func parsePages() pageSet {
	return template.Must(template.New("").Funcs(template.FuncMap{"fen": fen}).ParseFS(pageFiles, "pages/*.html"))
}

// render writes page name; data is any struct with the fields the page uses.
func (s *Server) render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := s.pages.ExecuteTemplate(w, name, data); err != nil {
		s.cfg.Log.Error("sim: render", "page", name, "err", err)
	}
}

// errorPage is WeChat's grey "something is wrong" page.
func (s *Server) errorPage(w http.ResponseWriter, status int, msg string) {
	w.WriteHeader(status)
	s.render(w, "error", map[string]any{"Title": "出错了", "Message": msg})
}

// AuthRequest is an OAuth authorization a user grants: what the authorize page submits.
type AuthRequest struct {
	AppID    string `json:"appid"`
	OpenID   string `json:"openid"`
	Scope    string `json:"scope"`    // snsapi_base or snsapi_userinfo
	Snapshot bool   `json:"snapshot"` // snapshot mode: the code yields a virtual openid
}

// Authorize issues the OAuth code the authorize page would put on the redirect: valid for
// 5 minutes, once.
func (s *Server) Authorize(a AuthRequest) (string, error) {
	if a.Scope != "snsapi_base" && a.Scope != "snsapi_userinfo" {
		return "", fmt.Errorf("sim: scope %q is neither snsapi_base nor snsapi_userinfo", a.Scope)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[a.OpenID]; u == nil || u.AppID != a.AppID {
		return "", ErrUnknownUser
	}
	code := randomString(32)
	s.codes[code] = &authCode{appID: a.AppID, openID: a.OpenID, scope: a.Scope, snapshot: a.Snapshot, expires: s.now().Add(5 * time.Minute)}
	return code, nil
}

// regions are client IPs offered on the pages; each label is what ip2region says of it.
var regions = []struct{ Label, IP string }{
	{"广东 深圳", "113.108.81.189"},
	{"北京", "123.125.71.38"},
	{"广东 广州", "202.96.128.86"},
	{"上海", "101.227.131.220"},
	{"江苏 南京", "180.101.49.11"},
	{"浙江 杭州", "115.236.112.52"},
	{"四川 成都", "171.221.131.6"},
	{"美国（境外）", "8.8.8.8"},
}

type authorizePage struct {
	Title, Name, AppID, RedirectURI, Scope, State, Error string
	Current                                              string // the openid signed in on this browser, preselected
	Users                                                []User
	Regions                                              any
	Base                                                 string
}

func (s *Server) pageAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	m := s.merchants[q.Get("appid")]
	var users []User
	if m != nil {
		for _, u := range s.usersOf(m.appID) {
			users = append(users, u.User)
		}
	}
	s.mu.Unlock()
	switch {
	case m == nil:
		s.errorPage(w, http.StatusBadRequest, "appid 参数错误（10003）")
		return
	case q.Get("redirect_uri") == "":
		s.errorPage(w, http.StatusBadRequest, "redirect_uri 参数错误（10003）")
		return
	case q.Get("response_type") != "code" || (q.Get("scope") != "snsapi_base" && q.Get("scope") != "snsapi_userinfo"):
		s.errorPage(w, http.StatusBadRequest, "scope 或 response_type 参数错误（10005）")
		return
	}
	s.render(w, "authorize", authorizePage{Title: "微信授权", Name: m.name, AppID: m.appID, RedirectURI: q.Get("redirect_uri"),
		Scope: q.Get("scope"), State: q.Get("state"), Users: users, Regions: regions, Base: s.base(r), Current: currentUser(r, users)})
}

func (s *Server) postAuthorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, http.StatusBadRequest, "表单错误")
		return
	}
	f := r.PostForm
	back, err := url.Parse(f.Get("redirect_uri"))
	if err != nil || (back.Scheme != "http" && back.Scheme != "https") {
		s.errorPage(w, http.StatusBadRequest, "redirect_uri 参数错误（10003）")
		return
	}
	q := back.Query()
	q.Set("state", f.Get("state"))
	if f.Get("action") == "deny" {
		back.RawQuery = q.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
		return
	}
	openID := f.Get("user")
	if openID == "" || openID == "new" {
		u, err := s.AddUser(User{AppID: f.Get("appid"), Nickname: f.Get("nickname"), Subscribed: f.Get("subscribed") != "", ClientIP: formIP(f)})
		if err != nil {
			s.errorPage(w, http.StatusBadRequest, err.Error())
			return
		}
		openID = u.OpenID
	}
	code, err := s.Authorize(AuthRequest{AppID: f.Get("appid"), OpenID: openID, Scope: f.Get("scope"), Snapshot: f.Get("snapshot") != ""})
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, err.Error())
		return
	}
	setCurrentUser(w, openID)
	q.Set("code", code)
	back.RawQuery = q.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// formIP is the client IP chosen in the "region" block of a page's form.
func formIP(f url.Values) string {
	if ip := f.Get("client_ip"); ip != "custom" {
		return ip
	}
	return strings.TrimSpace(f.Get("custom_ip"))
}

// handleAvatar draws a user's avatar: their first character on a colour of their own.
func (s *Server) handleAvatar(w http.ResponseWriter, r *http.Request) {
	name, id := r.URL.Query().Get("name"), r.URL.Query().Get("id")
	first, _ := utf8.DecodeRuneInString(name)
	if first == utf8.RuneError {
		first = '微'
	}
	h := fnv.New32a()
	h.Write([]byte(id + name))
	colors := []string{"#07c160", "#10aeff", "#fa9d3b", "#fa5151", "#6467f0", "#1485ee", "#91d300"}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "max-age=86400")
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">`+
		`<rect width="96" height="96" rx="12" fill="%s"/><text x="48" y="62" font-size="44" text-anchor="middle" `+
		`fill="#fff" font-family="PingFang SC, Microsoft YaHei, WenQuanYi Micro Hei, sans-serif">%s</text></svg>`,
		colors[h.Sum32()%uint32(len(colors))], template.HTMLEscapeString(string(first)))
}

// The user signed in on this browser: in WeChat whoever holds the phone is the user on every
// page; here the last one chosen on the authorize or follow page, kept in a cookie of the
// simulator's origin, is preselected on the next.
const currentCookie = "wxsim_user"

func setCurrentUser(w http.ResponseWriter, openID string) {
	http.SetCookie(w, &http.Cookie{Name: currentCookie, Value: openID, Path: "/", MaxAge: 30 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// currentUser is the openid to preselect among users: the signed-in one, else the first.
func currentUser(r *http.Request, users []User) string {
	if c, err := r.Cookie(currentCookie); err == nil {
		for _, u := range users {
			if u.OpenID == c.Value {
				return u.OpenID
			}
		}
	}
	if len(users) > 0 {
		return users[0].OpenID
	}
	return ""
}
