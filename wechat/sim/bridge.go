package sim

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// BridgeJS gives an ordinary browser what WeChat gives a page, backed by the simulator:
// WeixinJSBridge.invoke('getBrandWCPayRequest', …) opens the simulator's cashier in an overlay
// and calls back with {err_msg: "get_brand_wcpay_request:ok" | ":cancel" | ":fail"}; wx has
// the API of WeChat's JS-SDK (jweixin-1.6.0.js) a page uses — config (its signature checked
// against the simulator's jsapi_ticket), ready, error, updateAppMessageShareData,
// updateTimelineShareData, the legacy onMenuShareAppMessage / onMenuShareTimeline, openAddress
// (the simulator's address book), chooseWXPay — and, like the JS-SDK, refuses an API the
// config did not list ("…:permission denied") and a share link off the page's domain. A small
// ··· button shares the card as WeChat's menu does, and shares are recorded. Serve it from the
// page's own origin (Fenxiao's dev mode does) after setting window.WXSIM_BASE to the
// simulator's URL, or load it from the simulator at /sim/bridge.js. It defines nothing when
// the real bridge exists.
//
//go:embed bridge.js
var BridgeJS []byte

func (s *Server) handleBridge(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	b, _ := json.Marshal(s.base(r))
	w.Write([]byte("window.WXSIM_BASE = window.WXSIM_BASE || " + string(b) + ";\n")) //nolint:errcheck
	w.Write(BridgeJS)                                                                //nolint:errcheck
}

// handleJSVerify checks a wx.config signature: sha1 of jsapi_ticket, noncestr, timestamp and
// url (without #fragment) for any live ticket of the appid.
func (s *Server) handleJSVerify(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, _, _ := strings.Cut(q.Get("url"), "#")
	ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
	ok := false
	s.mu.Lock()
	if err == nil {
		for t, jt := range s.tickets {
			if jt.appID != q.Get("appid") || !s.now().Before(jt.expires) {
				continue
			}
			sum := sha1Hex("jsapi_ticket=" + t + "&noncestr=" + q.Get("nonceStr") + "&timestamp=" + strconv.FormatInt(ts, 10) + "&url=" + page)
			if sum == strings.ToLower(q.Get("signature")) {
				ok = true
				break
			}
		}
	}
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "errMsg": "config:invalid signature"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "errMsg": "config:ok"})
}

// Share is a share a tester triggered through the bridge.
type Share struct {
	Kind  string    `json:"kind"` // appmessage (to a friend) or timeline (Moments)
	Title string    `json:"title"`
	Desc  string    `json:"desc,omitempty"`
	Link  string    `json:"link"`
	Image string    `json:"imgUrl,omitempty"`
	Page  string    `json:"page"`
	At    time.Time `json:"at"`
}

func (s *Server) handleShare(w http.ResponseWriter, r *http.Request) {
	var sh Share
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10)).Decode(&sh); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	s.mu.Lock()
	sh.At = s.now()
	s.shares = append(s.shares, sh)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// Shares returns the shares triggered through the bridge, oldest first.
func (s *Server) Shares() []Share {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Share(nil), s.shares...)
}
