// Package sim is a simulator of the WeChat servers Fenxiao talks to, so that Fenxiao runs and
// is tested without the internet and without a merchant account, through the real SDK code
// paths: the SDK's base URLs are pointed at it (wechat.Options.APIBase).
//
// It speaks WeChat's wire formats — JSON for the official account (access_token, user info,
// JS-SDK ticket, parametric QR codes, template messages, web OAuth), XML for WeChat Pay v2
// (unifiedorder, orderquery, closeorder, refund, refundquery, sendredpack, gethbinfo) —
// verifies the caller's signatures with the merchant's key, and signs its own answers and
// notifications. Several merchants (appid + mch_id) live side by side. It enforces WeChat's
// red-packet rules: 1 to 200 yuan unless scene_id, 10 packets and 1000 yuan per user per day
// (China time), a per-merchant call rate (30/s), one packet per mch_billno however often it
// is sent (an identical replay answers as the first call did; a replay with other fields is
// FATAL_ERROR), mch_billno ≤ 28 characters.
//
// Browser pages (in Chinese, styled like WeChat) stand in for what a person does inside
// WeChat: the OAuth authorize page picks or creates a user; the cashier confirms or cancels a
// payment (and /pay/native "scans" a Native code_url); scanning a follow QR subscribes and
// pushes the event to the merchant's callback; the red-packet inbox opens packets. BridgeJS
// gives an ordinary browser WeixinJSBridge and a small wx object backed by these pages.
// Two things WeChat does that no page can start are Go methods (and admin calls): PayLate, a
// payment that completes after the merchant closed the order, and RefundInPlatform, a refund
// a person makes in the merchant platform rather than through the API.
//
// The client IP. A phone's IP reaches a real server as the TCP peer (or X-Forwarded-For from
// a load balancer); in the simulator everyone is 127.0.0.1. So the user carries the IP chosen
// on the authorize page (User.ClientIP). Fenxiao's dev mode asks the simulator for it —
// Server.ClientIP(appid, openid) in process, GET /sim/admin/users over HTTP — for the user of
// the session and uses it where production would use the request's address. Tests of region
// gates set the request's client IP directly.
//
// What it cannot check: the client certificate. The SDK replaces the TLS configuration of
// cert calls wholesale, so the simulator is served over plain HTTP and only the adapter's
// start-up validation of the .p12 stands in for WeChat's CA_ERROR.
//
// Everything lives in memory behind one mutex; a simulator made with Open also keeps it in a
// state file and starts from it again (state.go), as make dev does. Faults are injected through Go methods or the
// JSON admin API under /sim/admin (see admin.go); the same API reports every packet paid and
// every payment collected, so tests can prove exactly-once.
package sim

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Config tunes the simulator. The zero value behaves like WeChat at real speed.
type Config struct {
	// Clock is the simulator's time for day boundaries, code and token expiry and the
	// refund of unopened packets; nil means time.Now. Advance moves it forward.
	Clock func() time.Time
	// NotifyFactor divides WeChat's payment-notification retry schedule (15s, 15s, 30s, 3m,
	// … 6h); 0 means 1. make dev uses 60.
	NotifyFactor float64
	// RefundAfter is how long a packet may stay unopened before it is refunded; 0 means 24h.
	RefundAfter time.Duration
	// RateLimit is sendredpack calls per second per merchant; 0 means 30, negative no limit.
	RateLimit int
	// Hang bounds how long a "timeout" fault holds a request whose client does not give up;
	// 0 means 2 minutes.
	Hang time.Duration
	// BaseURL is the simulator's public URL, used in QR contents and page links; empty means
	// http:// plus the Host of the request.
	BaseURL string
	// Log receives one line per notification attempt and callback; nil discards.
	Log *slog.Logger
	// StateFile, with Open, is where the state survives a restart (see state.go). New
	// ignores it.
	StateFile string
}

// Server is the simulator: an http.Handler. Create it with New, stop it with Close.
type Server struct {
	cfg   Config
	mux   *http.ServeMux
	pages pageSet
	http  *http.Client // notifications and callbacks

	ctx  context.Context // ends at Close: stops notification retries and held requests
	stop context.CancelFunc
	wg   sync.WaitGroup // notification goroutines

	mu        sync.Mutex
	offset    time.Duration        // added to the clock by Advance
	seq       int64                // ids
	merchants map[string]*merchant // by appid
	byMch     map[string]*merchant // by mch_id
	users     map[string]*user     // by openid (openids are unique across appids)
	codes     map[string]*authCode
	tokens    map[string]*accessToken // cgi-bin and sns tokens
	tickets   map[string]*jsTicket
	qrs       map[string]*qrTicket
	orders    map[string]*order  // by mch_id + "/" + out_trade_no
	prepays   map[string]*order  // by prepay_id
	codeURLs  map[string]*order  // by the pr of a Native code_url
	packets   map[string]*packet // by mch_id + "/" + mch_billno
	templates []TemplateMessage
	shares    []Share
	faults    faultTable
	held      map[string][]*heldNotice // by mch_id, for merchants whose notifications are held

	// The state file (Open): nil nudge for a simulator in memory only.
	restored  bool
	nudge     chan struct{} // a request came: write the state soon
	saverDone chan struct{}
	saveMu    sync.Mutex // one write at a time
	saved     []byte     // what the file holds
}

// New returns a simulator with no merchants.
func New(cfg Config) *Server {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.NotifyFactor <= 0 {
		cfg.NotifyFactor = 1
	}
	if cfg.RefundAfter <= 0 {
		cfg.RefundAfter = 24 * time.Hour
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = 30
	}
	if cfg.Hang <= 0 {
		cfg.Hang = 2 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	s := &Server{
		cfg:       cfg,
		http:      &http.Client{Timeout: 5 * time.Second}, // WeChat gives up on a merchant after ~5 s
		merchants: map[string]*merchant{},
		byMch:     map[string]*merchant{},
		users:     map[string]*user{},
		codes:     map[string]*authCode{},
		tokens:    map[string]*accessToken{},
		tickets:   map[string]*jsTicket{},
		qrs:       map[string]*qrTicket{},
		orders:    map[string]*order{},
		prepays:   map[string]*order{},
		codeURLs:  map[string]*order{},
		packets:   map[string]*packet{},
		held:      map[string][]*heldNotice{},
	}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.faults.init()
	s.pages = parsePages()
	s.routes()
	return s
}

// ServeHTTP serves WeChat's APIs, the browser pages and the admin API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*") // the bridge script runs on Fenxiao's origin
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.mux.ServeHTTP(w, r)
	s.changed()
}

// Close stops notification retries and releases requests held by "timeout" faults. It
// waits for notifications in flight.
func (s *Server) Close() {
	s.stop()
	s.wg.Wait()
	if s.nudge != nil {
		<-s.saverDone
		if err := s.saveState(); err != nil {
			s.cfg.Log.Error("sim: save state", "file", s.cfg.StateFile, "err", err)
		}
	}
}

// Now is the simulator's current time.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

func (s *Server) now() time.Time { return s.cfg.Clock().Add(s.offset) }

// Advance moves the simulator's clock forward by d, such as 24 h to refund unopened packets
// or reach the next day's red-packet limits.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
}

// chinaDay is the calendar day in China of t: WeChat's daily limits reset at midnight there.
func chinaDay(t time.Time) string { return t.In(chinaTime).Format("20060102") }

var chinaTime = time.FixedZone("CST", 8*3600)

func (s *Server) routes() {
	m := http.NewServeMux()
	// Official account (JSON).
	m.HandleFunc("GET /cgi-bin/token", s.handleToken)
	m.HandleFunc("GET /cgi-bin/user/info", s.handleUserInfo)
	m.HandleFunc("GET /cgi-bin/ticket/getticket", s.handleTicket)
	m.HandleFunc("POST /cgi-bin/qrcode/create", s.handleQRCreate)
	m.HandleFunc("GET /cgi-bin/showqrcode", s.handleShowQR)
	m.HandleFunc("POST /cgi-bin/message/template/send", s.handleTemplate)
	m.HandleFunc("GET /sns/oauth2/access_token", s.handleSNSToken)
	m.HandleFunc("GET /sns/userinfo", s.handleSNSUserInfo)
	// WeChat Pay v2 (XML).
	m.HandleFunc("POST /pay/unifiedorder", s.handleUnifiedOrder)
	m.HandleFunc("POST /pay/orderquery", s.handleOrderQuery)
	m.HandleFunc("POST /pay/closeorder", s.handleCloseOrder)
	m.HandleFunc("POST /secapi/pay/refund", s.handleRefund)
	m.HandleFunc("POST /pay/refundquery", s.handleRefundQuery)
	m.HandleFunc("POST /mmpaymkttransfers/sendredpack", s.handleSendRedPack)
	m.HandleFunc("POST /mmpaymkttransfers/gethbinfo", s.handleGetHBInfo)
	// Browser pages.
	m.HandleFunc("GET /connect/oauth2/authorize", s.pageAuthorize)
	m.HandleFunc("POST /connect/oauth2/authorize", s.postAuthorize)
	m.HandleFunc("GET /pay/cashier", s.pageCashier)
	m.HandleFunc("POST /pay/cashier", s.postCashier)
	m.HandleFunc("GET /pay/native", s.pageNative)
	m.HandleFunc("GET /sim/follow", s.pageFollow)
	m.HandleFunc("POST /sim/follow", s.postFollow)
	m.HandleFunc("GET /sim/merchant", s.pageMerchant)
	m.HandleFunc("POST /sim/merchant", s.postMerchant)
	m.HandleFunc("GET /sim/inbox", s.pageInbox)
	m.HandleFunc("POST /sim/inbox/open", s.postOpen)
	m.HandleFunc("GET /sim/avatar", s.handleAvatar)
	m.HandleFunc("GET /sim/bridge.js", s.handleBridge)
	m.HandleFunc("GET /sim/address", s.pageAddress)
	m.HandleFunc("GET /sim/jsapi/verify", s.handleJSVerify)
	m.HandleFunc("POST /sim/shares", s.handleShare)
	m.HandleFunc("GET /sim/{$}", s.pageIndex)
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/sim/", http.StatusFound) })
	s.adminRoutes(m)
	s.mux = m
}

// base is the simulator's URL as the caller sees it.
func (s *Server) base(r *http.Request) string {
	if s.cfg.BaseURL != "" {
		return s.cfg.BaseURL
	}
	return "http://" + r.Host
}

// id returns a fresh decimal sequence number, for ids that must never repeat.
func (s *Server) id() int64 {
	s.seq++
	return s.seq
}
