package sim

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

type followPage struct {
	Title, Merchant, AppID, Ticket, Scene, Error, Reply string
	NoCallback                                          bool   // the OA has no 服务器地址: nothing is pushed
	Current                                             string // the openid signed in on this browser, preselected
	Users                                               []User
	Regions                                             any
	Followed                                            *User
	Event                                               string
}

// pageFollow is what scanning a parametric QR code opens: pick who scans, then follow.
func (s *Server) pageFollow(w http.ResponseWriter, r *http.Request) {
	t := r.URL.Query().Get("ticket")
	s.mu.Lock()
	q := s.qrs[t]
	var page followPage
	if q != nil {
		m := s.merchants[q.appID]
		page = followPage{Title: "关注公众号", Merchant: m.name, AppID: q.appID, Ticket: t, Scene: q.scene, Regions: regions,
			NoCallback: m.callbackURL == ""}
		for _, u := range s.usersOf(q.appID) {
			page.Users = append(page.Users, u.User)
		}
		page.Current = currentUser(r, page.Users)
		if !s.now().Before(q.expires) {
			page.Error = "二维码已过期"
		}
	}
	s.mu.Unlock()
	if q == nil {
		s.errorPage(w, http.StatusNotFound, "二维码无效")
		return
	}
	s.render(w, "follow", page)
}

func (s *Server) postFollow(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, http.StatusBadRequest, "表单错误")
		return
	}
	f := r.PostForm
	openID := f.Get("user")
	s.mu.Lock()
	q := s.qrs[f.Get("ticket")]
	s.mu.Unlock()
	if q == nil {
		s.errorPage(w, http.StatusNotFound, "二维码无效")
		return
	}
	if openID == "" || openID == "new" {
		u, err := s.AddUser(User{AppID: q.appID, Nickname: f.Get("nickname"), ClientIP: formIP(f)})
		if err != nil {
			s.errorPage(w, http.StatusBadRequest, err.Error())
			return
		}
		openID = u.OpenID
	}
	setCurrentUser(w, openID)
	reply, err := s.Scan(f.Get("ticket"), openID)
	page := followPage{Title: "公众号", Reply: reply}
	if err != nil {
		page.Error = err.Error()
	}
	s.mu.Lock()
	page.Merchant, page.AppID, page.Scene = s.merchants[q.appID].name, q.appID, q.scene
	page.NoCallback = s.merchants[q.appID].callbackURL == ""
	if u := s.users[openID]; u != nil {
		pu := u.User
		page.Followed = &pu
	}
	s.mu.Unlock()
	s.render(w, "followed", page)
}

// Scan is a user scanning a parametric QR code: Follow with the ticket's scene.
func (s *Server) Scan(ticket, openID string) (string, error) {
	s.mu.Lock()
	q := s.qrs[ticket]
	expired := q != nil && !s.now().Before(q.expires)
	s.mu.Unlock()
	if q == nil || expired {
		return "", ErrNotFound
	}
	return s.Follow(q.appID, openID, q.scene)
}

type inboxPage struct {
	Title, Merchant, AppID, OpenID, Opened string
	User                                   *User
	Users                                  []User
	Packets                                []Packet
	Messages                               []inboxMessage
}

// inboxMessage is a template message as the user's chat with the OA shows it: the keywords
// in their numbered order (thing1, amount2, time3 …; first and remark around them).
type inboxMessage struct {
	TemplateMessage
	Fields []inboxField
}

type inboxField struct{ Key, Value string }

func newInboxMessage(t TemplateMessage) inboxMessage {
	m := inboxMessage{TemplateMessage: t}
	for k, v := range t.Data {
		m.Fields = append(m.Fields, inboxField{k, v})
	}
	rank := func(k string) int {
		switch k {
		case "first":
			return -1
		case "remark":
			return 1 << 30
		}
		n, _ := strconv.Atoi(strings.TrimLeft(k, "abcdefghijklmnopqrstuvwxyz_"))
		return n
	}
	sort.Slice(m.Fields, func(i, j int) bool {
		ri, rj := rank(m.Fields[i].Key), rank(m.Fields[j].Key)
		return ri < rj || ri == rj && m.Fields[i].Key < m.Fields[j].Key
	})
	return m
}

// pageInbox lists a user's template messages and red packets (or, without openid, the users to pick from).
func (s *Server) pageInbox(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	m := s.merchants[q.Get("appid")]
	page := inboxPage{Title: "微信红包", AppID: q.Get("appid"), OpenID: q.Get("openid"), Opened: q.Get("opened")}
	if m != nil {
		page.Merchant = m.name
		if u := s.users[page.OpenID]; u != nil && u.AppID == m.appID {
			pu := u.User
			page.User = &pu
			for _, p := range s.packets {
				if p.OpenID == u.OpenID {
					s.settle(p)
					page.Packets = append(page.Packets, p.Packet)
				}
			}
			sort.Slice(page.Packets, func(i, j int) bool { return page.Packets[i].SendListID > page.Packets[j].SendListID })
			for i := len(s.templates) - 1; i >= 0; i-- { // newest first
				if t := s.templates[i]; t.AppID == m.appID && t.ToUser == u.OpenID {
					page.Messages = append(page.Messages, newInboxMessage(t))
				}
			}
		} else {
			for _, u := range s.usersOf(m.appID) {
				page.Users = append(page.Users, u.User)
			}
		}
	}
	s.mu.Unlock()
	if m == nil {
		s.errorPage(w, http.StatusNotFound, "公众号不存在")
		return
	}
	s.render(w, "inbox", page)
}

// postOpen opens a packet from the inbox, then shows the inbox again (POST-redirect-GET).
func (s *Server) postOpen(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, http.StatusBadRequest, "表单错误")
		return
	}
	f := r.PostForm
	if err := s.OpenPacket(f.Get("mch_id"), f.Get("mch_billno")); err != nil {
		s.errorPage(w, http.StatusConflict, "红包无法领取："+err.Error())
		return
	}
	back := url.Values{"appid": {f.Get("appid")}, "openid": {f.Get("openid")}, "opened": {f.Get("mch_billno")}}
	http.Redirect(w, r, "/sim/inbox?"+back.Encode(), http.StatusSeeOther)
}

type indexPage struct {
	Title     string
	Merchants []indexMerchant
	Ledger    Ledger
}

type indexMerchant struct {
	MerchantInfo
	Users []User
}

// pageIndex is the simulator's home: merchants, users with their inboxes, recent money.
func (s *Server) pageIndex(w http.ResponseWriter, r *http.Request) {
	page := indexPage{Title: "微信模拟器", Ledger: s.Ledger()}
	for _, m := range s.merchantList() {
		page.Merchants = append(page.Merchants, indexMerchant{MerchantInfo: m, Users: s.Users(m.AppID)})
	}
	s.render(w, "index", page)
}
