package sim

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"
	"time"
)

// User is a WeChat user of one official account (openids are per appid).
type User struct {
	AppID      string `json:"appid"`
	OpenID     string `json:"openid"`
	Nickname   string `json:"nickname"`
	AvatarURL  string `json:"avatar_url"`
	Subscribed bool   `json:"subscribed"`
	// ClientIP stands in for the address the user's phone connects from, for region gates.
	ClientIP string `json:"client_ip"`
	SceneStr string `json:"scene_str,omitempty"` // the QR scene they followed through
	// Address is what they saved in WeChat's address book (wx.openAddress); a sample one
	// under their name when none is given.
	Address *Address `json:"address,omitempty"`
}

type user struct {
	User
	seq          int64 // creation order, for stable lists
	subscribedAt time.Time
}

func sortUsers(us []*user) { sort.Slice(us, func(i, j int) bool { return us[i].seq < us[j].seq }) }

// defaultIP is the client IP of users created without one: a Guangdong (Shenzhen) address.
const defaultIP = "113.108.81.189"

var sampleNames = []string{"张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "赵磊", "黄敏", "周杰", "吴婷", "徐晨", "孙悦"}

// AddUser creates a user of u.AppID; OpenID is generated, Nickname and ClientIP default.
// A user added as Subscribed follows without an event being pushed.
func (s *Server) AddUser(u User) (User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addUser(u)
}

func (s *Server) addUser(u User) (User, error) {
	if s.merchants[u.AppID] == nil {
		return User{}, ErrUnknownMerchant
	}
	if u.ClientIP == "" {
		u.ClientIP = defaultIP
	}
	if net.ParseIP(u.ClientIP) == nil {
		return User{}, fmt.Errorf("sim: client IP %q is not an IP address", u.ClientIP)
	}
	u.OpenID = "o" + randomString(27)
	if u.Nickname = strings.TrimSpace(u.Nickname); u.Nickname == "" {
		u.Nickname = sampleNames[int(s.id())%len(sampleNames)]
	}
	u.AvatarURL = "/sim/avatar?name=" + url.QueryEscape(u.Nickname) + "&id=" + u.OpenID
	nu := &user{User: u, seq: s.id()}
	if nu.Address == nil {
		nu.Address = defaultAddress(u.Nickname, nu.seq)
	}
	if u.Subscribed {
		nu.subscribedAt = s.now()
	}
	s.users[u.OpenID] = nu
	return s.publicUser(nu), nil
}

// publicUser copies a user out, with an absolute avatar URL when the base URL is known.
func (s *Server) publicUser(u *user) User {
	p := u.User
	p.AvatarURL = s.cfg.BaseURL + p.AvatarURL
	return p
}

// Users lists the users of appID, oldest first.
func (s *Server) Users(appID string) []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []User
	for _, u := range s.usersOf(appID) {
		out = append(out, s.publicUser(u))
	}
	return out
}

func (s *Server) usersOf(appID string) []*user {
	var out []*user
	for _, u := range s.users {
		if u.AppID == appID {
			out = append(out, u)
		}
	}
	sortUsers(out)
	return out
}

// ClientIP returns the IP chosen for the user on the authorize page: what Fenxiao's dev
// mode uses as the client address of that user's requests (see the package doc).
func (s *Server) ClientIP(appID, openID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[openID]
	if u == nil || u.AppID != appID {
		return "", false
	}
	return u.ClientIP, true
}

// SetClientIP changes the address a user "connects from".
func (s *Server) SetClientIP(appID, openID, ip string) error {
	if net.ParseIP(ip) == nil {
		return fmt.Errorf("sim: client IP %q is not an IP address", ip)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[openID]
	if u == nil || u.AppID != appID {
		return ErrUnknownUser
	}
	u.ClientIP = ip
	return nil
}

// Follow makes the user follow the official account as if through a QR code with scene
// ("" for none) and pushes the event to the merchant's callback: subscribe (EventKey
// qrscene_<scene>) for a new follower, SCAN (EventKey <scene>) for one who already follows.
// It returns the text the merchant replied, if any.
func (s *Server) Follow(appID, openID, scene string) (string, error) {
	s.mu.Lock()
	m, u := s.merchants[appID], s.users[openID]
	if m == nil || u == nil || u.AppID != appID {
		s.mu.Unlock()
		return "", ErrUnknownUser
	}
	event, key := "subscribe", ""
	if u.Subscribed {
		event, key = "SCAN", scene
	} else {
		u.Subscribed, u.subscribedAt, u.SceneStr = true, s.now(), scene
		if scene != "" {
			key = "qrscene_" + scene
		}
	}
	ev := m.event(openID, event, key, s.cfg.Clock()) // wall clock: see callbackEvent
	s.mu.Unlock()
	return s.push(ev)
}

// Unfollow makes the user stop following and pushes the unsubscribe event.
func (s *Server) Unfollow(appID, openID string) error {
	s.mu.Lock()
	m, u := s.merchants[appID], s.users[openID]
	if m == nil || u == nil || u.AppID != appID {
		s.mu.Unlock()
		return ErrUnknownUser
	}
	u.Subscribed, u.SceneStr = false, ""
	ev := m.event(openID, "unsubscribe", "", s.cfg.Clock())
	s.mu.Unlock()
	_, err := s.push(ev)
	return err
}

// originalID is the official account's "gh_" id, derived from its appid.
func originalID(appID string) string {
	sum := sha1.Sum([]byte(appID))
	return "gh_" + hex.EncodeToString(sum[:6])
}

// snapshotOpenID is the virtual openid WeChat gives a user in snapshot mode: stable per
// user, but not their real openid, and unknown to cgi-bin/user/info.
func snapshotOpenID(openID string) string {
	sum := sha1.Sum([]byte("snapshot:" + openID))
	return "o" + hex.EncodeToString(sum[:])[:27]
}
