package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"fenxiao/wechat"
)

// The simulator's state on disk (Config.StateFile): what a person would find again in WeChat
// after the simulator restarts — merchants with their credentials, certificate and callback,
// users with their client IPs, payments, refunds, red packets and their status, follow QR
// tickets, tokens, template messages. Not kept: OAuth codes (5 minutes), injected faults,
// notifications being retried or held. The file is rewritten whole, atomically (a temporary
// file renamed over it), shortly after each request and at Close.

// stateVersion changes when the file's format does; a file of another version is refused.
const stateVersion = 1

type fileState struct {
	Version   int                    `json:"version"`
	Seq       int64                  `json:"seq"`
	Offset    time.Duration          `json:"clock_offset"`
	Merchants []merchantState        `json:"merchants"`
	Users     []userState            `json:"users"`
	Orders    []orderState           `json:"orders"`
	Packets   []packetState          `json:"packets"`
	Tokens    map[string]tokenState  `json:"tokens"`
	Tickets   map[string]ticketState `json:"tickets"`
	QRs       map[string]qrState     `json:"qr_tickets"`
	Templates []TemplateMessage      `json:"templates"`
	Shares    []Share                `json:"shares"`
}

type merchantState struct {
	Name           string `json:"name"`
	AppID          string `json:"appid"`
	AppSecret      string `json:"appsecret"`
	Token          string `json:"token"`
	EncodingAESKey string `json:"encoding_aes_key"`
	MchID          string `json:"mch_id"`
	APIKey         string `json:"api_key"`
	CertP12        []byte `json:"cert_p12"`
	CallbackURL    string `json:"callback_url"`
	MessageMode    string `json:"message_mode"`
	BalanceFen     int64  `json:"balance_fen"`
}

type userState struct {
	User
	Seq          int64     `json:"seq"`
	SubscribedAt time.Time `json:"subscribed_at,omitzero"`
}

type orderState struct {
	Payment
	Fields  map[string]string `json:"fields"`
	Refunds []RefundRecord    `json:"refunds"`
}

type packetState struct {
	Packet
	Fields map[string]string `json:"fields"`
	Answer map[string]string `json:"answer"`
}

type tokenState struct {
	AppID    string    `json:"appid"`
	OpenID   string    `json:"openid,omitempty"`
	Scope    string    `json:"scope,omitempty"`
	Snapshot bool      `json:"snapshot,omitempty"`
	Expires  time.Time `json:"expires"`
}

type ticketState struct {
	AppID   string    `json:"appid"`
	Expires time.Time `json:"expires"`
}

type qrState struct {
	AppID   string    `json:"appid"`
	Scene   string    `json:"scene"`
	Expires time.Time `json:"expires"`
}

// Credentials returns the credentials of a registered merchant, client certificate included:
// the same ones AddMerchant returned, also after a restart from the state file.
func (s *Server) Credentials(appID string) (wechat.Credentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.merchants[appID]
	if m == nil {
		return wechat.Credentials{}, ErrUnknownMerchant
	}
	return m.credentials(), nil
}

func (m *merchant) credentials() wechat.Credentials {
	return wechat.Credentials{
		AppID: m.appID, AppSecret: m.secret, Token: m.token, EncodingAESKey: m.aesKey,
		MchID: m.mchID, APIKey: m.apiKey, CertP12: m.certP12,
	}
}

// snapshot copies the state out. Caller holds s.mu.
func (s *Server) snapshot() fileState {
	st := fileState{Version: stateVersion, Seq: s.seq, Offset: s.offset, Tokens: map[string]tokenState{},
		Tickets: map[string]ticketState{}, QRs: map[string]qrState{}, Templates: s.templates, Shares: s.shares}
	for _, m := range s.merchants {
		st.Merchants = append(st.Merchants, merchantState{Name: m.name, AppID: m.appID, AppSecret: m.secret, Token: m.token,
			EncodingAESKey: m.aesKey, MchID: m.mchID, APIKey: m.apiKey, CertP12: m.certP12, CallbackURL: m.callbackURL,
			MessageMode: m.mode, BalanceFen: m.balanceFen})
	}
	for _, u := range s.users {
		st.Users = append(st.Users, userState{User: u.User, Seq: u.seq, SubscribedAt: u.subscribedAt})
	}
	for _, o := range s.orders {
		ost := orderState{Payment: o.Payment, Fields: o.fields}
		for _, r := range o.refunds {
			ost.Refunds = append(ost.Refunds, *r)
		}
		st.Orders = append(st.Orders, ost)
	}
	for _, p := range s.packets {
		st.Packets = append(st.Packets, packetState{Packet: p.Packet, Fields: p.fields, Answer: p.answer})
	}
	now := s.now()
	for k, t := range s.tokens {
		if now.Before(t.expires) {
			st.Tokens[k] = tokenState{AppID: t.appID, OpenID: t.openID, Scope: t.scope, Snapshot: t.snapshot, Expires: t.expires}
		}
	}
	for k, t := range s.tickets {
		if now.Before(t.expires) {
			st.Tickets[k] = ticketState{AppID: t.appID, Expires: t.expires}
		}
	}
	for k, q := range s.qrs {
		if now.Before(q.expires) {
			st.QRs[k] = qrState{AppID: q.appID, Scene: q.scene, Expires: q.expires}
		}
	}
	sortState(&st)
	return st
}

// sortState orders the lists, so the same state always encodes to the same bytes.
func sortState(st *fileState) {
	sortBy(st.Merchants, func(m merchantState) string { return m.MchID })
	sortBy(st.Users, func(u userState) string { return fmt.Sprintf("%020d", u.Seq) })
	sortBy(st.Orders, func(o orderState) string { return o.MchID + "/" + o.OutTradeNo })
	sortBy(st.Packets, func(p packetState) string { return p.MchID + "/" + p.BillNo })
}

func sortBy[T any](xs []T, key func(T) string) {
	sort.Slice(xs, func(i, j int) bool { return key(xs[i]) < key(xs[j]) })
}

// restore replaces the (empty) state with st.
func (s *Server) restore(st fileState) error {
	if st.Version != stateVersion {
		return fmt.Errorf("sim: state file version %d, this simulator reads %d", st.Version, stateVersion)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq, s.offset, s.templates, s.shares = st.Seq, st.Offset, st.Templates, st.Shares
	for _, ms := range st.Merchants {
		m := &merchant{name: ms.Name, appID: ms.AppID, secret: ms.AppSecret, token: ms.Token, aesKey: ms.EncodingAESKey,
			mchID: ms.MchID, apiKey: ms.APIKey, certP12: ms.CertP12, callbackURL: ms.CallbackURL, mode: ms.MessageMode,
			balanceFen: ms.BalanceFen}
		s.merchants[m.appID], s.byMch[m.mchID] = m, m
	}
	for _, us := range st.Users {
		s.users[us.OpenID] = &user{User: us.User, seq: us.Seq, subscribedAt: us.SubscribedAt}
	}
	for _, ost := range st.Orders {
		o := &order{Payment: ost.Payment, fields: ost.Fields}
		for i := range ost.Refunds {
			o.refunds = append(o.refunds, &ost.Refunds[i])
		}
		s.orders[o.MchID+"/"+o.OutTradeNo], s.prepays[o.PrepayID] = o, o
		if pr, ok := strings.CutPrefix(o.CodeURL, "weixin://wxpay/bizpayurl?pr="); ok {
			s.codeURLs[pr] = o
		}
	}
	for _, ps := range st.Packets {
		s.packets[ps.MchID+"/"+ps.BillNo] = &packet{Packet: ps.Packet, fields: ps.Fields, answer: ps.Answer}
	}
	for k, t := range st.Tokens {
		s.tokens[k] = &accessToken{appID: t.AppID, openID: t.OpenID, scope: t.Scope, snapshot: t.Snapshot, expires: t.Expires}
	}
	for k, t := range st.Tickets {
		s.tickets[k] = &jsTicket{appID: t.AppID, expires: t.Expires}
	}
	for k, q := range st.QRs {
		s.qrs[k] = &qrTicket{appID: q.AppID, scene: q.Scene, expires: q.Expires}
	}
	return nil
}

// loadState reads the state file, if there is one; it returns whether there was.
func (s *Server) loadState(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var st fileState
	if err := json.Unmarshal(b, &st); err != nil {
		return false, fmt.Errorf("sim: state file %s: %w", path, err)
	}
	return true, s.restore(st)
}

// saveState writes the state file when the state changed since the last write.
func (s *Server) saveState() error {
	s.mu.Lock()
	st := s.snapshot()
	b, err := json.MarshalIndent(st, "", " ")
	s.mu.Unlock()
	if err != nil {
		return err
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	if bytes.Equal(b, s.saved) {
		return nil
	}
	if err := writeAtomic(s.cfg.StateFile, b); err != nil {
		return err
	}
	s.saved = b
	return nil
}

// writeAtomic replaces path with b: a reader sees the old file or the new, never half of one.
func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) //nolint:errcheck // gone after the rename
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// saveDelay is how soon after a request the state is written (several requests in a burst
// share one write); saveEvery catches changes made through the Go API.
const (
	saveDelay = 100 * time.Millisecond
	saveEvery = time.Second
)

// saver writes the state shortly after each request until Close.
func (s *Server) saver() {
	defer close(s.saverDone)
	tick := time.NewTicker(saveEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.nudge:
			select {
			case <-time.After(saveDelay):
			case <-s.ctx.Done():
				return
			}
		case <-tick.C:
		}
		if err := s.saveState(); err != nil {
			s.cfg.Log.Error("sim: save state", "file", s.cfg.StateFile, "err", err)
		}
	}
}

// changed tells the saver a request may have changed the state.
func (s *Server) changed() {
	if s.nudge == nil {
		return
	}
	select {
	case s.nudge <- struct{}{}:
	default:
	}
}

// Open returns a simulator like New that keeps its state in cfg.StateFile: read now when the
// file exists, written shortly after each request and at Close. Restored tells whether there
// was a file.
func Open(cfg Config) (*Server, error) {
	if cfg.StateFile == "" {
		return nil, errors.New("sim: Open needs Config.StateFile")
	}
	s := New(cfg)
	loaded, err := s.loadState(cfg.StateFile)
	if err != nil {
		return nil, err
	}
	if err := s.saveState(); err != nil { // fails now, not at the first change, when the directory is not writable
		return nil, fmt.Errorf("sim: state file: %w", err)
	}
	s.restored = loaded
	s.nudge, s.saverDone = make(chan struct{}, 1), make(chan struct{})
	go s.saver()
	return s, nil
}

// Restored tells whether Open found a state file and started from it.
func (s *Server) Restored() bool { return s.restored }
