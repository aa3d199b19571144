package sim

import (
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"
)

// Packet is a red packet the simulator created, as the admin API and Ledger report it.
type Packet struct {
	AppID      string    `json:"appid"`
	MchID      string    `json:"mch_id"`
	BillNo     string    `json:"mch_billno"`
	SendListID string    `json:"send_listid"`
	OpenID     string    `json:"openid"`
	AmountFen  int64     `json:"total_amount"`
	SceneID    string    `json:"scene_id,omitempty"`
	SendName   string    `json:"send_name"`
	Wishing    string    `json:"wishing"`
	ActName    string    `json:"act_name"`
	Remark     string    `json:"remark,omitempty"`
	ClientIP   string    `json:"client_ip"` // of the first call: the sending server's IPv4 address
	Status     string    `json:"status"`    // SENT, RECEIVED, REFUND
	Sends      int       `json:"sends"`     // sendredpack calls that named this bill number
	SentAt     time.Time `json:"sent_at"`
	ReceivedAt time.Time `json:"received_at,omitzero"`
	RefundedAt time.Time `json:"refunded_at,omitzero"`
}

type packet struct {
	Packet
	fields map[string]string // the first request, to tell an identical replay from FATAL_ERROR
	answer map[string]string // the first answer, given again to identical replays
}

// WeChat's red-packet limits.
const (
	minFen      = 100    // 1 yuan, without scene_id
	maxFen      = 20000  // 200 yuan, without scene_id
	minSceneFen = 30     // with scene_id
	maxSceneFen = 499900 // with scene_id
	dayCount    = 10     // packets per user per day
	dayFen      = 100000 // 1000 yuan per user per day
)

var (
	billNoRE  = regexp.MustCompile(`^[0-9A-Za-z]{1,28}$`)
	sceneIDRE = regexp.MustCompile(`^PRODUCT_[1-8]$`)
	// packetFields must repeat for a replay of a bill number to be the same packet. The
	// nonce, sign and client_ip may differ between retries from different servers.
	packetFields = []string{"wxappid", "re_openid", "total_amount", "total_num", "send_name", "wishing", "act_name", "remark", "scene_id"}
)

func (s *Server) handleSendRedPack(w http.ResponseWriter, r *http.Request) {
	s.payHandler("sendredpack", "wxappid", false, s.sendRedPack)(w, r)
}

func (s *Server) handleGetHBInfo(w http.ResponseWriter, r *http.Request) {
	s.payHandler("gethbinfo", "appid", false, s.getHBInfo)(w, r)
}

func (s *Server) sendRedPack(m *merchant, req map[string]string) (map[string]string, string) {
	// The rate limit counts every call, in wall-clock seconds: a load test's clock is real.
	if sec := time.Now().Unix(); sec != m.rateSecond {
		m.rateSecond, m.rateCalls = sec, 0
	}
	m.rateCalls++
	if s.cfg.RateLimit > 0 && m.rateCalls > s.cfg.RateLimit {
		return fail("FREQ_LIMIT"), ""
	}
	billNo := req["mch_billno"]
	if !billNoRE.MatchString(billNo) {
		return fail("PARAM_ERROR"), ""
	}
	key := m.mchID + "/" + billNo
	if p := s.packets[key]; p != nil {
		p.Sends++
		for _, f := range packetFields {
			if p.fields[f] != req[f] {
				return fail("FATAL_ERROR"), ""
			}
		}
		return p.answer, ""
	}
	amount, err := strconv.ParseInt(req["total_amount"], 10, 64)
	if err != nil {
		return fail("PARAM_ERROR"), ""
	}
	if code := s.checkPacket(m, req, amount); code != "" {
		return fail(code), ""
	}
	now := s.now()
	m.balanceFen -= amount
	p := &packet{Packet: Packet{
		AppID: m.appID, MchID: m.mchID, BillNo: billNo, OpenID: req["re_openid"], AmountFen: amount,
		SceneID: req["scene_id"], SendName: req["send_name"], Wishing: req["wishing"], ActName: req["act_name"],
		Remark: req["remark"], ClientIP: req["client_ip"], Status: "SENT", Sends: 1, SentAt: now,
		SendListID: fmt.Sprintf("1000041701%s%011d", chinaDay(now), s.id()),
	}, fields: req}
	p.answer = map[string]string{
		"result_code": "SUCCESS", "err_code": "SUCCESS", "err_code_des": "发放成功", "mch_billno": billNo,
		"mch_id": m.mchID, "wxappid": m.appID, "re_openid": p.OpenID, "total_amount": req["total_amount"],
		"send_listid": p.SendListID,
	}
	s.packets[key] = p
	return p.answer, ""
}

// checkPacket applies WeChat's rules to a new packet and returns the err_code that refuses
// it, or "". Caller holds s.mu.
func (s *Server) checkPacket(m *merchant, req map[string]string, amount int64) string {
	u := s.users[req["re_openid"]]
	switch {
	case req["total_num"] != "1" || !isIPv4(req["client_ip"]):
		return "PARAM_ERROR"
	case req["send_name"] == "" || utf8.RuneCountInString(req["send_name"]) > 32,
		req["act_name"] == "" || utf8.RuneCountInString(req["act_name"]) > 32,
		req["wishing"] == "" || utf8.RuneCountInString(req["wishing"]) > 128,
		utf8.RuneCountInString(req["remark"]) > 256:
		return "PARAM_ERROR"
	case u == nil || u.AppID != m.appID:
		return "OPENID_ERROR"
	case req["scene_id"] != "" && !sceneIDRE.MatchString(req["scene_id"]):
		return "PARAM_ERROR"
	case req["scene_id"] == "" && (amount < minFen || amount > maxFen),
		req["scene_id"] != "" && (amount < minSceneFen || amount > maxSceneFen):
		return "MONEY_LIMIT"
	}
	day, n, sum := chinaDay(s.now()), 0, int64(0)
	for _, p := range s.packets {
		if p.OpenID == u.OpenID && chinaDay(p.SentAt) == day {
			n++
			sum += p.AmountFen
		}
	}
	switch {
	case n >= dayCount:
		return "SENDNUM_LIMIT"
	case sum+amount > dayFen:
		return "RCVDAMOUNT_LIMIT"
	case m.balanceFen < amount:
		return "NOTENOUGH"
	}
	return ""
}

// isIPv4 reports whether s is a dotted IPv4 address: client_ip is String(15), so WeChat
// takes no IPv6 address there.
func isIPv4(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4()
}

// settle refunds p to the merchant once it has waited unopened for RefundAfter. Statuses are
// settled lazily, whenever a packet is read, so an injected clock moves them. Caller holds s.mu.
func (s *Server) settle(p *packet) {
	due := p.SentAt.Add(s.cfg.RefundAfter)
	if p.Status == "SENT" && !s.now().Before(due) {
		p.Status, p.RefundedAt = "REFUND", due
		s.byMch[p.MchID].balanceFen += p.AmountFen
	}
}

func (s *Server) getHBInfo(m *merchant, req map[string]string) (map[string]string, string) {
	if req["bill_type"] != "MCHT" {
		return fail("PARAM_ERROR"), ""
	}
	p := s.packets[m.mchID+"/"+req["mch_billno"]]
	if p == nil {
		return fail("NOT_FOUND"), ""
	}
	s.settle(p)
	const layout = "2006-01-02 15:04:05"
	ans := map[string]string{
		"result_code": "SUCCESS", "mch_billno": p.BillNo, "mch_id": p.MchID, "detail_id": p.SendListID,
		"status": p.Status, "send_type": "API", "hb_type": "NORMAL", "total_num": "1",
		"total_amount": strconv.FormatInt(p.AmountFen, 10), "send_time": p.SentAt.In(chinaTime).Format(layout),
		"wishing": p.Wishing, "act_name": p.ActName, "remark": p.Remark,
	}
	if p.Status == "REFUND" {
		ans["refund_time"] = p.RefundedAt.In(chinaTime).Format(layout)
		ans["refund_amount"] = ans["total_amount"]
	}
	rcv := ""
	if !p.ReceivedAt.IsZero() {
		rcv = "<rcv_time><![CDATA[" + p.ReceivedAt.In(chinaTime).Format(layout) + "]]></rcv_time>"
	}
	nested := fmt.Sprintf("<hblist><hbinfo><openid><![CDATA[%s]]></openid><amount>%d</amount>%s</hbinfo></hblist>",
		p.OpenID, p.AmountFen, rcv)
	return ans, nested
}

// OpenPacket opens a packet as its user does in the inbox: SENT becomes RECEIVED.
func (s *Server) OpenPacket(mchID, billNo string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.packets[mchID+"/"+billNo]
	if p == nil {
		return ErrNotFound
	}
	s.settle(p)
	if p.Status != "SENT" {
		return fmt.Errorf("%w: the packet is %s", ErrState, p.Status)
	}
	p.Status, p.ReceivedAt = "RECEIVED", s.now()
	return nil
}
