package sim

import (
	"cmp"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Payment is an order placed with unifiedorder, as the admin API and Ledger report it.
type Payment struct {
	AppID           string    `json:"appid"`
	MchID           string    `json:"mch_id"`
	OutTradeNo      string    `json:"out_trade_no"`
	PrepayID        string    `json:"prepay_id"`
	CodeURL         string    `json:"code_url,omitempty"`
	TradeType       string    `json:"trade_type"`
	Description     string    `json:"body"`
	OpenID          string    `json:"openid,omitempty"` // the payer
	TotalFen        int64     `json:"total_fee"`
	State           string    `json:"trade_state"` // NOTPAY, SUCCESS, REFUND, CLOSED
	TransactionID   string    `json:"transaction_id,omitempty"`
	RefundedFen     int64     `json:"refunded_fee"`
	CreatedAt       time.Time `json:"created_at"`
	ExpiresAt       time.Time `json:"expires_at"`
	PaidAt          time.Time `json:"paid_at,omitzero"`
	NotifyURL       string    `json:"notify_url"`
	CreateIP        string    `json:"spbill_create_ip"` // the payer's IP (JSAPI) or the calling server's (NATIVE)
	NotifyAttempts  int       `json:"notify_attempts"`
	NotifyDelivered bool      `json:"notify_delivered"` // the merchant answered SUCCESS
	Cancelled       int       `json:"cancelled"`        // times the payer pressed cancel
}

type order struct {
	Payment
	fields map[string]string // unifiedorder's request, to recognise an identical replay
	// refunds in the order they were made: refundquery numbers them refund_$n by position,
	// which must not change between two queries.
	refunds []*RefundRecord
}

// payFunc handles an authenticated pay request under s.mu and returns the answer's fields
// (and raw nested XML, for gethbinfo).
type payFunc func(m *merchant, req map[string]string) (ans map[string]string, nested string)

func fail(code string) map[string]string {
	return map[string]string{"result_code": "FAIL", "err_code": code, "err_code_des": errDesc(code)}
}

// payHandler is the frame of every WeChat Pay endpoint: parse, find the merchant by mch_id,
// check the appid (in field appField) and the signature, apply faults, run fn, sign and
// answer. Pay APIs answer business failures with return_code SUCCESS and sign their
// answers; red-packet APIs answer them with return_code FAIL, unsigned (signed=false), as
// in WeChat's documented samples.
func (s *Server) payHandler(endpoint, appField string, signed bool, fn payFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		req, perr := parseXML(body)
		if err != nil || perr != nil {
			writeXML(w, encodeXML(map[string]string{"return_code": "FAIL", "return_msg": "XML格式错误"}, ""))
			return
		}
		ans, nested, fault := s.payAnswer(endpoint, appField, signed, fn, req)
		switch fault {
		case FaultTimeout, FaultDrop:
			s.withhold(w, r, fault)
			return
		case FaultMalformed:
			writeXML(w, []byte("<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>"))
			return
		}
		writeXML(w, encodeXML(ans, nested))
	}
}

// payAnswer authenticates req, applies faults and runs fn, under s.mu.
func (s *Server) payAnswer(endpoint, appField string, signed bool, fn payFunc, req map[string]string) (ans map[string]string, nested, fault string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.byMch[req["mch_id"]]
	switch {
	case m == nil:
		return map[string]string{"return_code": "FAIL", "return_msg": "mch_id参数错误", "err_code": "MCHID_NOT_EXIST"}, "", ""
	case req[appField] != m.appID:
		return map[string]string{"return_code": "FAIL", "return_msg": "appid和mch_id不匹配", "err_code": "APPID_MCHID_NOT_MATCH"}, "", ""
	case !checkSign(req, m.apiKey):
		return map[string]string{"return_code": "FAIL", "return_msg": "签名错误", "err_code": "SIGN_ERROR", "result_code": "FAIL"}, "", ""
	}
	switch fault = s.takeFault(endpoint, m.mchID, cmp.Or(req["re_openid"], req["openid"])); fault {
	case FaultMalformed:
		return nil, "", fault
	case "", FaultTimeout, FaultDrop:
		ans, nested = fn(m, req)
	default:
		ans = fail(fault)
	}
	if ans["return_code"] == "" {
		ans["return_code"], ans["return_msg"] = "SUCCESS", "OK"
		if ans["result_code"] == "FAIL" && !signed {
			ans["return_code"], ans["return_msg"] = "FAIL", ans["err_code_des"]
		}
	}
	if signed && ans["return_code"] == "SUCCESS" {
		ans["appid"], ans["mch_id"], ans["nonce_str"] = m.appID, m.mchID, randomString(16)
		ans["sign"] = paySign(ans, m.apiKey, "MD5")
	}
	return ans, nested, fault
}

func (s *Server) handleUnifiedOrder(w http.ResponseWriter, r *http.Request) {
	s.payHandler("unifiedorder", "appid", true, s.unifiedOrder)(w, r)
}

func (s *Server) handleOrderQuery(w http.ResponseWriter, r *http.Request) {
	s.payHandler("orderquery", "appid", true, s.orderQuery)(w, r)
}

func (s *Server) handleCloseOrder(w http.ResponseWriter, r *http.Request) {
	s.payHandler("closeorder", "appid", true, s.closeOrder)(w, r)
}

// orderFields are the unifiedorder fields that must repeat for a replay to be identical.
var orderFields = []string{"body", "out_trade_no", "total_fee", "trade_type", "openid", "product_id", "notify_url", "attach", "time_expire"}

func (s *Server) unifiedOrder(m *merchant, req map[string]string) (map[string]string, string) {
	total, err := strconv.ParseInt(req["total_fee"], 10, 64)
	switch {
	case req["body"] == "" || req["out_trade_no"] == "" || req["notify_url"] == "" || req["spbill_create_ip"] == "":
		return fail("LACK_PARAMS"), ""
	case len(req["out_trade_no"]) > 32:
		return fail("PARAM_ERROR"), ""
	case err != nil || total <= 0:
		return fail("PARAM_ERROR"), ""
	case req["trade_type"] == "JSAPI":
		u := s.users[req["openid"]]
		if u == nil || u.AppID != m.appID {
			return fail("OPENID_MISMATCH"), ""
		}
	case req["trade_type"] == "NATIVE":
		if req["product_id"] == "" {
			return fail("LACK_PARAMS"), ""
		}
	default:
		return fail("PARAM_ERROR"), ""
	}
	key := m.mchID + "/" + req["out_trade_no"]
	if o := s.orders[key]; o != nil {
		for _, f := range orderFields {
			if o.fields[f] != req[f] {
				return fail("OUT_TRADE_NO_USED"), ""
			}
		}
		switch o.State {
		case "SUCCESS", "REFUND":
			return fail("ORDERPAID"), ""
		case "CLOSED":
			return fail("ORDERCLOSED"), ""
		}
		return map[string]string{"result_code": "SUCCESS", "trade_type": o.TradeType, "prepay_id": o.PrepayID, "code_url": o.CodeURL}, ""
	}
	now := s.now()
	expires := now.Add(2 * time.Hour)
	if t := req["time_expire"]; t != "" {
		e, err := time.ParseInLocation("20060102150405", t, chinaTime)
		if err != nil || !e.After(now) {
			return fail("PARAM_ERROR"), ""
		}
		expires = e
	}
	o := &order{Payment: Payment{
		AppID: m.appID, MchID: m.mchID, OutTradeNo: req["out_trade_no"], TradeType: req["trade_type"],
		Description: req["body"], OpenID: req["openid"], TotalFen: total, State: "NOTPAY",
		CreatedAt: now, ExpiresAt: expires, NotifyURL: req["notify_url"], CreateIP: req["spbill_create_ip"],
		PrepayID: fmt.Sprintf("wx%s%018d", now.In(chinaTime).Format("02150405"), s.id()),
	}, fields: req}
	if o.TradeType == "NATIVE" {
		pr := randomString(8)
		o.CodeURL = "weixin://wxpay/bizpayurl?pr=" + pr
		s.codeURLs[pr] = o
	}
	s.orders[key] = o
	s.prepays[o.PrepayID] = o
	return map[string]string{"result_code": "SUCCESS", "trade_type": o.TradeType, "prepay_id": o.PrepayID, "code_url": o.CodeURL}, ""
}

// PaymentOf is the payment a merchant placed as out_trade_no, as the simulator holds it.
func (s *Server) PaymentOf(mchID, outTradeNo string) (Payment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[mchID+"/"+outTradeNo]
	if o == nil {
		return Payment{}, false
	}
	return o.Payment, true
}

// findOrder finds an order by out_trade_no or transaction_id. Caller holds s.mu.
func (s *Server) findOrder(m *merchant, req map[string]string) *order {
	if o := s.orders[m.mchID+"/"+req["out_trade_no"]]; o != nil {
		return o
	}
	if id := req["transaction_id"]; id != "" {
		for _, o := range s.orders {
			if o.MchID == m.mchID && o.TransactionID == id {
				return o
			}
		}
	}
	return nil
}

func (s *Server) orderQuery(m *merchant, req map[string]string) (map[string]string, string) {
	o := s.findOrder(m, req)
	if o == nil {
		return fail("ORDERNOTEXIST"), ""
	}
	ans := map[string]string{"result_code": "SUCCESS", "out_trade_no": o.OutTradeNo, "trade_state": o.State,
		"trade_type": o.TradeType, "total_fee": strconv.FormatInt(o.TotalFen, 10), "fee_type": "CNY",
		"trade_state_desc": tradeStateDesc[o.State]}
	if o.TransactionID != "" {
		ans["transaction_id"], ans["openid"], ans["bank_type"] = o.TransactionID, o.OpenID, "CFT"
		ans["cash_fee"], ans["time_end"] = ans["total_fee"], o.PaidAt.In(chinaTime).Format("20060102150405")
		ans["is_subscribe"] = "N"
		if u := s.users[o.OpenID]; u != nil && u.Subscribed {
			ans["is_subscribe"] = "Y"
		}
	}
	return ans, ""
}

var tradeStateDesc = map[string]string{"NOTPAY": "订单未支付", "SUCCESS": "支付成功", "REFUND": "转入退款", "CLOSED": "已关闭"}

func (s *Server) closeOrder(m *merchant, req map[string]string) (map[string]string, string) {
	o := s.findOrder(m, req)
	switch {
	case o == nil:
		return fail("ORDERNOTEXIST"), ""
	case o.State == "SUCCESS" || o.State == "REFUND":
		return fail("ORDERPAID"), ""
	case o.State == "CLOSED":
		// As WeChat answers a second close: the caller learns the order's real state, and
		// nothing changes.
		return fail("ORDERCLOSED"), ""
	}
	o.State = "CLOSED"
	return map[string]string{"result_code": "SUCCESS"}, ""
}

// Pay confirms the payment of prepayID as the cashier's 确认支付 does, and starts sending the
// notification. openID is the payer: "" (or the order's openid) for JSAPI, a user of the
// merchant for Native.
func (s *Server) Pay(prepayID, openID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.prepays[prepayID]
	if o == nil {
		return ErrNotFound
	}
	if err := s.payable(o); err != nil {
		return err
	}
	return s.complete(o, openID)
}

// PayLate pays prepayID although the merchant's side has given up on it: its state is
// CLOSED or it is past its expiry. WeChat does this when the payer's USERPAYING (password,
// bank confirmation) finishes after the merchant closed the order, or when closeorder races
// the payment: the money is taken and the notifications come, for an order the merchant
// thinks is dead. It is a test and development tool for that race; the cashier never does
// it. An order already paid (SUCCESS or REFUND) is refused; openID is as for Pay.
func (s *Server) PayLate(prepayID, openID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.prepays[prepayID]
	if o == nil {
		return ErrNotFound
	}
	if o.State == "SUCCESS" || o.State == "REFUND" {
		return fmt.Errorf("%w: the order is already paid (%s)", ErrState, o.State)
	}
	return s.complete(o, openID)
}

// complete pays o by openID and starts its notifications, whatever its state and expiry:
// the callers decide whether it may be paid. Caller holds s.mu.
func (s *Server) complete(o *order, openID string) error {
	if o.TradeType == "JSAPI" && openID != "" && openID != o.OpenID {
		return fmt.Errorf("%w: the order is for another user", ErrState)
	}
	if o.TradeType == "NATIVE" {
		if u := s.users[openID]; u == nil || u.AppID != o.AppID {
			return ErrUnknownUser
		}
		o.OpenID = openID
	}
	o.State, o.PaidAt = "SUCCESS", s.now()
	o.TransactionID = fmt.Sprintf("4200%024d", s.id())
	s.startPayNotify(o)
	return nil
}

// payable says why an order cannot be paid now, if it cannot. Caller holds s.mu.
func (s *Server) payable(o *order) error {
	switch {
	case o.State != "NOTPAY":
		return fmt.Errorf("%w: the order is %s", ErrState, o.State)
	case !s.now().Before(o.ExpiresAt):
		return fmt.Errorf("%w: the order expired", ErrState)
	}
	return nil
}

// CancelPayment records that the payer closed the cashier; the order stays unpaid.
func (s *Server) CancelPayment(prepayID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.prepays[prepayID]
	if o == nil {
		return ErrNotFound
	}
	o.Cancelled++
	return nil
}

// PrepayIDOfCodeURL returns the prepay_id behind a Native code_url, which is what scanning
// it finds.
func (s *Server) PrepayIDOfCodeURL(codeURL string) (string, error) {
	const prefix = "weixin://wxpay/bizpayurl?pr="
	if len(codeURL) <= len(prefix) || codeURL[:len(prefix)] != prefix {
		return "", ErrNotFound
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.codeURLs[codeURL[len(prefix):]]
	if o == nil {
		return "", ErrNotFound
	}
	return o.PrepayID, nil
}
