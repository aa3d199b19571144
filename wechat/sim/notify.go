package sim

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// notifySchedule is WeChat's payment-notification retry schedule after the first attempt;
// the simulator divides it by Config.NotifyFactor.
var notifySchedule = []time.Duration{
	15 * time.Second, 15 * time.Second, 30 * time.Second, 3 * time.Minute, 10 * time.Minute,
	20 * time.Minute, 30 * time.Minute, 30 * time.Minute, 30 * time.Minute, 60 * time.Minute,
	3 * time.Hour, 3 * time.Hour, 3 * time.Hour, 6 * time.Hour, 6 * time.Hour,
}

// NotifyOptions shape the extra payment notifications SendPayNotify sends on demand.
type NotifyOptions struct {
	Times    int               `json:"times"`     // copies to send; 0 means 1
	Forged   bool              `json:"forged"`    // signed with a wrong key
	TotalFen int64             `json:"total_fee"` // when not 0, claim this amount (correctly signed)
	Extra    map[string]string `json:"extra"`     // more fields, signed (coupon_id_3, sub_mch_id …)
}

// payNotifyFields are the fields of a payment notification of o. Caller holds s.mu.
func (s *Server) payNotifyFields(o *order) map[string]string {
	n := map[string]string{
		"appid": o.AppID, "mch_id": o.MchID, "nonce_str": randomString(32), "result_code": "SUCCESS",
		"return_code": "SUCCESS", "openid": o.OpenID, "is_subscribe": "N", "trade_type": o.TradeType,
		"bank_type": "CFT", "total_fee": strconv.FormatInt(o.TotalFen, 10), "fee_type": "CNY",
		"cash_fee": strconv.FormatInt(o.TotalFen, 10), "transaction_id": o.TransactionID,
		"out_trade_no": o.OutTradeNo, "time_end": o.PaidAt.In(chinaTime).Format("20060102150405"),
	}
	if u := s.users[o.OpenID]; u != nil && u.Subscribed {
		n["is_subscribe"] = "Y"
	}
	if a := o.fields["attach"]; a != "" {
		n["attach"] = a
	}
	return n
}

// startPayNotify sends o's payment notification on WeChat's schedule until the merchant
// answers SUCCESS. Caller holds s.mu.
func (s *Server) startPayNotify(o *order) {
	m := s.byMch[o.MchID]
	body := func() []byte {
		s.mu.Lock()
		defer s.mu.Unlock()
		f := s.payNotifyFields(o)
		f["sign"] = paySign(f, m.apiKey, "MD5")
		return encodeXML(f, "")
	}
	s.deliver(o.MchID, "pay", o.NotifyURL, body, func(ok bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		o.NotifyAttempts++
		o.NotifyDelivered = o.NotifyDelivered || ok
	})
}

// startRefundNotify sends the refund notification of rf: its req_info encrypted with
// AES-256-ECB under the lowercase hex MD5 of the API key. refund_request_source tells a
// refund asked for through the API from one made in the merchant platform. Caller holds s.mu.
func (s *Server) startRefundNotify(m *merchant, o *order, rf *RefundRecord) {
	info := map[string]string{
		"transaction_id": o.TransactionID, "out_trade_no": o.OutTradeNo, "refund_id": rf.RefundID,
		"out_refund_no": rf.OutRefundNo, "total_fee": strconv.FormatInt(o.TotalFen, 10),
		"settlement_total_fee": strconv.FormatInt(o.TotalFen, 10), "refund_fee": strconv.FormatInt(rf.RefundFen, 10),
		"settlement_refund_fee": strconv.FormatInt(rf.RefundFen, 10), "refund_status": "SUCCESS",
		"success_time": rf.At.In(chinaTime).Format("2006-01-02 15:04:05"), "refund_recv_accout": "支付用户的零钱",
		"refund_account": "REFUND_SOURCE_RECHARGE_FUNDS", "refund_request_source": rf.Source,
	}
	plain := bytes.Replace(encodeXML(info, ""), []byte("xml>"), []byte("root>"), 2)
	body := encodeXML(map[string]string{
		"return_code": "SUCCESS", "appid": m.appID, "mch_id": m.mchID, "nonce_str": randomString(32),
		"req_info": EncryptReqInfo(plain, m.apiKey),
	}, "")
	s.deliver(m.mchID, "refund", rf.NotifyURL, func() []byte { return body }, func(ok bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		rf.NotifyDelivered = rf.NotifyDelivered || ok
	})
}

// EncryptReqInfo is WeChat's side of the refund notification's req_info: AES-256-ECB with
// PKCS#7 padding, keyed by the lowercase hex MD5 of the API key, base64.
func EncryptReqInfo(plain []byte, apiKey string) string {
	sum := md5.Sum([]byte(apiKey))
	block, _ := aes.NewCipher([]byte(hex.EncodeToString(sum[:]))) // 32 bytes: never fails
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	data := append(bytes.Clone(plain), bytes.Repeat([]byte{byte(pad)}, pad)...)
	for i := 0; i < len(data); i += aes.BlockSize {
		block.Encrypt(data[i:i+aes.BlockSize], data[i:i+aes.BlockSize])
	}
	return base64.StdEncoding.EncodeToString(data)
}

// deliver posts body() to url now and then on the compressed schedule until the answer says
// SUCCESS, the schedule ends or the simulator closes. Caller may hold s.mu: it only starts
// the goroutine.
func (s *Server) deliver(mchID, kind, url string, body func() []byte, record func(ok bool)) {
	if held, ok := s.held[mchID]; ok {
		s.held[mchID] = append(held, &heldNotice{Kind: kind, URL: url, body: body, record: record})
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for i := 0; ; i++ {
			ok := s.post(kind, url, body())
			record(ok)
			if ok || i >= len(notifySchedule) {
				return
			}
			t := time.NewTimer(time.Duration(float64(notifySchedule[i]) / s.cfg.NotifyFactor))
			select {
			case <-s.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()
}

// post sends one notification and reports whether the merchant answered SUCCESS within
// WeChat's patience of about 5 seconds.
func (s *Server) post(kind, url string, body []byte) bool {
	reply, err := s.postRaw(url, body)
	if err != nil {
		s.cfg.Log.Warn("sim: notification failed", "kind", kind, "url", url, "err", err)
		return false
	}
	m, err := parseXML(reply)
	ok := err == nil && m["return_code"] == "SUCCESS"
	s.cfg.Log.Info("sim: notification", "kind", kind, "url", url, "success", ok)
	return ok
}

func (s *Server) postRaw(url string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return reply, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return reply, nil
}

// SendPayNotify sends extra payment notifications for an order right now, once per
// o.Times, and returns the merchant's answers: duplicates, forged ones (wrong key), ones
// claiming another amount, ones with extra fields. It changes nothing in the simulator.
// An unpaid order gets a notification as if it had been paid.
func (s *Server) SendPayNotify(mchID, outTradeNo string, opt NotifyOptions) ([]string, error) {
	s.mu.Lock()
	o := s.orders[mchID+"/"+outTradeNo]
	if o == nil {
		s.mu.Unlock()
		return nil, ErrNotFound
	}
	key := s.byMch[mchID].apiKey
	f := s.payNotifyFields(o)
	if f["transaction_id"] == "" {
		f["transaction_id"] = fmt.Sprintf("4200%024d", s.id())
		f["time_end"] = s.now().In(chinaTime).Format("20060102150405")
	}
	url := o.NotifyURL
	s.mu.Unlock()
	for k, v := range opt.Extra {
		f[k] = v
	}
	if opt.TotalFen != 0 {
		f["total_fee"] = strconv.FormatInt(opt.TotalFen, 10)
		f["cash_fee"] = f["total_fee"]
	}
	if opt.Forged {
		key = randomString(32)
	}
	f["sign"] = paySign(f, key, f["sign_type"])
	if opt.Times <= 0 {
		opt.Times = 1
	}
	var replies []string
	for range opt.Times {
		reply, err := s.postRaw(url, encodeXML(f, ""))
		if err != nil {
			return replies, fmt.Errorf("sim: notify %s: %w", url, err)
		}
		replies = append(replies, string(reply))
	}
	return replies, nil
}

// heldNotice is a notification kept for a merchant whose notifications are held.
type heldNotice struct {
	Kind, URL string // "pay" or "refund", and where it goes
	body      func() []byte
	record    func(ok bool)
}

// HoldNotifications keeps a merchant's payment and refund notifications (hold) until
// DeliverHeld sends them, instead of sending them at once and on WeChat's retry schedule: a
// deterministic test decides when, how often and in which order WeChat's notifications
// arrive. Releasing the hold drops what is still held.
func (s *Server) HoldNotifications(mchID string, hold bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if hold {
		if _, ok := s.held[mchID]; !ok {
			s.held[mchID] = nil
		}
		return
	}
	delete(s.held, mchID)
}

// HeldNotifications returns the kinds ("pay", "refund") of a merchant's held notifications,
// oldest first.
func (s *Server) HeldNotifications(mchID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	kinds := make([]string, len(s.held[mchID]))
	for i, n := range s.held[mchID] {
		kinds[i] = n.Kind
	}
	return kinds
}

// DeliverHeld sends the i-th held notification of a merchant once, now, and reports whether
// the merchant answered SUCCESS; only then is it no longer held (WeChat retries the others).
func (s *Server) DeliverHeld(mchID string, i int) (bool, error) {
	s.mu.Lock()
	held := s.held[mchID]
	if i < 0 || i >= len(held) {
		s.mu.Unlock()
		return false, ErrNotFound
	}
	n := held[i]
	s.mu.Unlock()
	ok := s.post(n.Kind, n.URL, n.body())
	n.record(ok)
	if ok {
		s.mu.Lock()
		held = s.held[mchID]
		for j, m := range held {
			if m == n {
				s.held[mchID] = append(held[:j:j], held[j+1:]...)
				break
			}
		}
		s.mu.Unlock()
	}
	return ok, nil
}
