package sim

import (
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"time"
)

// Ledger is the simulator's money: every red packet it created and every payment and refund
// it took, so a test can prove each bill number was paid exactly once.
type Ledger struct {
	Packets  []Packet       `json:"packets"`
	Payments []Payment      `json:"payments"`
	Refunds  []RefundRecord `json:"refunds"`
}

// Ledger returns the money that moved, oldest first, with packet statuses settled at Now.
func (s *Server) Ledger() Ledger {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := Ledger{Packets: []Packet{}, Payments: []Payment{}, Refunds: []RefundRecord{}}
	for _, p := range s.packets {
		s.settle(p)
		l.Packets = append(l.Packets, p.Packet)
	}
	for _, o := range s.orders {
		l.Payments = append(l.Payments, o.Payment)
		for _, r := range o.refunds {
			l.Refunds = append(l.Refunds, *r)
		}
	}
	sort.Slice(l.Packets, func(i, j int) bool { return l.Packets[i].SendListID < l.Packets[j].SendListID })
	sort.Slice(l.Payments, func(i, j int) bool { return l.Payments[i].PrepayID < l.Payments[j].PrepayID })
	sort.Slice(l.Refunds, func(i, j int) bool { return l.Refunds[i].RefundID < l.Refunds[j].RefundID })
	return l
}

// The admin API: JSON in, JSON out, for tests and tools that run the simulator as a process.
//
//	POST   /sim/admin/merchants      MerchantConfig fields (snake_case) → credentials (cert base64)
//	GET    /sim/admin/merchants      the merchants
//	POST   /sim/admin/callback       {"appid","url"}: where OA events go
//	POST   /sim/admin/balance        {"mch_id","fen"}: the red-packet balance
//	GET    /sim/admin/users?appid=   the users, with their client IPs
//	POST   /sim/admin/users          {"appid","nickname","subscribed","client_ip"} → the user
//	POST   /sim/admin/follow         {"appid","openid","scene"} → {"reply"}
//	POST   /sim/admin/authorize      {"appid","openid","scope","snapshot"} → {"code"}
//	POST   /sim/admin/pay            {"prepay_id","openid"}: the cashier's 确认支付
//	POST   /sim/admin/pay-late       {"prepay_id","openid"}: pay a closed or expired order (PayLate)
//	POST   /sim/admin/platform-refund {"mch_id","out_trade_no","fen","notify_url"} → RefundRecord
//	POST   /sim/admin/open           {"mch_id","mch_billno"}: open a red packet
//	POST   /sim/admin/faults         Fault: {"endpoint","fault","count","merchant","openid"}
//	POST   /sim/admin/faults/random  RandomFaults: {"endpoint","seed","probabilities"}
//	DELETE /sim/admin/faults         remove all faults
//	POST   /sim/admin/notify         {"mch_id","out_trade_no"} + NotifyOptions → {"replies"}
//	POST   /sim/admin/clock          {"advance":"24h"} → {"now"}
//	POST   /sim/admin/expire-tokens  {"appid"}
//	GET    /sim/admin/ledger         Ledger
//	GET    /sim/admin/templates?appid=  template messages sent
func (s *Server) adminRoutes(m *http.ServeMux) {
	m.HandleFunc("POST /sim/admin/merchants", admin(func(in struct {
		Name        string `json:"name"`
		AppID       string `json:"appid"`
		MchID       string `json:"mch_id"`
		APIKey      string `json:"api_key"`
		CallbackURL string `json:"callback_url"`
		BalanceFen  int64  `json:"balance_fen"`
	}) (any, error) {
		mc := MerchantConfig{Name: in.Name, AppID: in.AppID, MchID: in.MchID, APIKey: in.APIKey, CallbackURL: in.CallbackURL, BalanceFen: in.BalanceFen}
		c, err := s.AddMerchant(mc)
		return credentialsJSON(c), err
	}))
	m.HandleFunc("GET /sim/admin/merchants", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.merchantList())
	})
	m.HandleFunc("POST /sim/admin/callback", admin(func(in struct{ AppID, URL string }) (any, error) {
		return nil, s.SetCallbackURL(in.AppID, in.URL)
	}))
	m.HandleFunc("POST /sim/admin/balance", admin(func(in struct {
		MchID string `json:"mch_id"`
		Fen   int64  `json:"fen"`
	}) (any, error) {
		return nil, s.SetBalance(in.MchID, in.Fen)
	}))
	m.HandleFunc("GET /sim/admin/users", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Users(r.URL.Query().Get("appid")))
	})
	m.HandleFunc("POST /sim/admin/users", admin(func(in User) (any, error) { return s.AddUser(in) }))
	m.HandleFunc("POST /sim/admin/follow", admin(func(in struct{ AppID, OpenID, Scene string }) (any, error) {
		reply, err := s.Follow(in.AppID, in.OpenID, in.Scene)
		return map[string]string{"reply": reply}, err
	}))
	m.HandleFunc("POST /sim/admin/authorize", admin(func(in AuthRequest) (any, error) {
		code, err := s.Authorize(in)
		return map[string]string{"code": code}, err
	}))
	m.HandleFunc("POST /sim/admin/pay", admin(func(in struct {
		PrepayID string `json:"prepay_id"`
		OpenID   string `json:"openid"`
	}) (any, error) {
		return nil, s.Pay(in.PrepayID, in.OpenID)
	}))
	m.HandleFunc("POST /sim/admin/pay-late", admin(func(in struct {
		PrepayID string `json:"prepay_id"`
		OpenID   string `json:"openid"`
	}) (any, error) {
		return nil, s.PayLate(in.PrepayID, in.OpenID)
	}))
	m.HandleFunc("POST /sim/admin/platform-refund", admin(func(in struct {
		MchID      string `json:"mch_id"`
		OutTradeNo string `json:"out_trade_no"`
		Fen        int64  `json:"fen"`
		NotifyURL  string `json:"notify_url"`
	}) (any, error) {
		return s.RefundInPlatform(in.MchID, in.OutTradeNo, in.Fen, in.NotifyURL)
	}))
	m.HandleFunc("POST /sim/admin/open", admin(func(in struct {
		MchID  string `json:"mch_id"`
		BillNo string `json:"mch_billno"`
	}) (any, error) {
		return nil, s.OpenPacket(in.MchID, in.BillNo)
	}))
	m.HandleFunc("POST /sim/admin/faults", admin(func(in Fault) (any, error) { return nil, s.InjectFault(in) }))
	m.HandleFunc("POST /sim/admin/faults/random", admin(func(in RandomFaults) (any, error) { return nil, s.SetRandomFaults(in) }))
	m.HandleFunc("DELETE /sim/admin/faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	m.HandleFunc("POST /sim/admin/notify", admin(func(in struct {
		NotifyOptions
		MchID      string `json:"mch_id"`
		OutTradeNo string `json:"out_trade_no"`
	}) (any, error) {
		replies, err := s.SendPayNotify(in.MchID, in.OutTradeNo, in.NotifyOptions)
		return map[string]any{"replies": replies}, err
	}))
	m.HandleFunc("POST /sim/admin/clock", admin(func(in struct{ Advance string }) (any, error) {
		d, err := time.ParseDuration(in.Advance)
		if err != nil || d < 0 {
			return nil, errors.New(`advance must be a positive duration such as "24h"`)
		}
		s.Advance(d)
		return map[string]time.Time{"now": s.Now()}, nil
	}))
	m.HandleFunc("POST /sim/admin/expire-tokens", admin(func(in struct{ AppID string }) (any, error) {
		s.ExpireTokens(in.AppID)
		return nil, nil
	}))
	m.HandleFunc("GET /sim/admin/ledger", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Ledger())
	})
	m.HandleFunc("GET /sim/admin/templates", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Templates(r.URL.Query().Get("appid")))
	})
}

// admin adapts a Go call to a JSON endpoint: the body decodes into In; an error is a 400
// with {"error"}; a nil result is {"ok":true}.
func admin[In any](fn func(In) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in In
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body: " + err.Error()})
			return
		}
		out, err := fn(in)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if out == nil {
			out = map[string]bool{"ok": true}
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// MerchantInfo is a merchant as the admin API lists it (no secrets).
type MerchantInfo struct {
	Name        string `json:"name"`
	AppID       string `json:"appid"`
	MchID       string `json:"mch_id"`
	CallbackURL string `json:"callback_url"`
	BalanceFen  int64  `json:"balance_fen"`
}

// Merchants lists the merchants, by mch_id.
func (s *Server) Merchants() []MerchantInfo { return s.merchantList() }

func (s *Server) merchantList() []MerchantInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []MerchantInfo{}
	for _, m := range s.merchants {
		out = append(out, MerchantInfo{Name: m.name, AppID: m.appID, MchID: m.mchID, CallbackURL: m.callbackURL, BalanceFen: m.balanceFen})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MchID < out[j].MchID })
	return out
}
