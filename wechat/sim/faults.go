package sim

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Endpoints that faults can target: the last element of the API path, with the official
// account's user/info called "userinfo", sns/userinfo "snsuserinfo", sns/oauth2/access_token
// "oauth", qrcode/create "qrcode" and message/template/send "template".
var endpoints = map[string]bool{
	"unifiedorder": true, "orderquery": true, "closeorder": true, "refund": true,
	"refundquery": true, "sendredpack": true, "gethbinfo": true,
	"token": true, "userinfo": true, "getticket": true, "qrcode": true, "template": true,
	"oauth": true, "snsuserinfo": true,
}

// Faults that are not an err_code. Any other fault is answered as that err_code (upper case,
// such as SYSTEMERROR, FREQ_LIMIT, NOTENOUGH, SENDNUM_LIMIT, SEND_FAILED) without doing the work.
const (
	// FaultTimeout does the work, then holds the answer until the client gives up (or
	// Config.Hang passes): the client sees a timeout although the call succeeded.
	FaultTimeout = "timeout"
	// FaultDrop does the work, then closes the connection without an answer.
	FaultDrop = "drop"
	// FaultMalformed answers without doing the work with a message that lacks its fields
	// (XML with only return_code SUCCESS; for the official account, not JSON at all).
	FaultMalformed = "malformed"
)

// Fault makes the next Count calls of Endpoint fail. Faults queue up in the order given.
//
// With OpenID a fault answers only calls about that user, as WeChat does when it refuses one
// user and not the merchant: NO_AUTH (an account WeChat blocks or one not real-name
// verified), USER_ACCOUNT_ABNORMAL, SENDNUM_LIMIT or RCVDAMOUNT_LIMIT (their daily limits) on
// sendredpack, while the merchant's other users are paid. An openid that is not one of the
// merchant's users needs no fault: sendredpack answers it OPENID_ERROR.
type Fault struct {
	Endpoint string `json:"endpoint"`
	Fault    string `json:"fault"`
	Count    int    `json:"count"`              // 0 means 1
	Merchant string `json:"merchant,omitempty"` // only calls of this mch_id (pay) or appid (OA); "" any
	// OpenID: only calls naming this user (re_openid of sendredpack, openid of the other pay
	// calls and of user/info); "" any.
	OpenID string `json:"openid,omitempty"`
}

// RandomFaults makes each call of Endpoint fail with the given probabilities, drawn from a
// generator seeded with Seed so that a load test is repeatable.
type RandomFaults struct {
	Endpoint      string             `json:"endpoint"`
	Seed          uint64             `json:"seed"`
	Probabilities map[string]float64 `json:"probabilities"` // fault → probability; sum ≤ 1
}

type faultTable struct {
	queue  []*Fault
	random map[string]*randomFaults
}

type randomFaults struct {
	rng    *rand.Rand
	faults []string
	probs  []float64
}

func (t *faultTable) init() { t.random = map[string]*randomFaults{} }

func checkFault(endpoint, fault string) error {
	if !endpoints[endpoint] {
		return fmt.Errorf("sim: unknown endpoint %q", endpoint)
	}
	if fault != FaultTimeout && fault != FaultDrop && fault != FaultMalformed && (fault == "" || strings.ToUpper(fault) != fault) {
		return fmt.Errorf("sim: fault %q is neither timeout, drop, malformed nor an upper-case err_code", fault)
	}
	return nil
}

// InjectFault queues f.
func (s *Server) InjectFault(f Fault) error {
	if err := checkFault(f.Endpoint, f.Fault); err != nil {
		return err
	}
	if f.Count <= 0 {
		f.Count = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.queue = append(s.faults.queue, &f)
	return nil
}

// SetRandomFaults replaces the random faults of r.Endpoint (none when Probabilities is empty).
func (s *Server) SetRandomFaults(r RandomFaults) error {
	rf := &randomFaults{rng: rand.New(rand.NewPCG(r.Seed, r.Seed^0x9e3779b97f4a7c15))}
	total := 0.0
	for f, p := range r.Probabilities {
		if err := checkFault(r.Endpoint, f); err != nil {
			return err
		}
		rf.faults = append(rf.faults, f)
		total += p
	}
	if total > 1 {
		return fmt.Errorf("sim: fault probabilities add up to %.3f > 1", total)
	}
	sort.Strings(rf.faults) // map order must not change the draws
	for _, f := range rf.faults {
		rf.probs = append(rf.probs, r.Probabilities[f])
	}
	if !endpoints[r.Endpoint] {
		return fmt.Errorf("sim: unknown endpoint %q", r.Endpoint)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(rf.faults) == 0 {
		delete(s.faults.random, r.Endpoint)
	} else {
		s.faults.random[r.Endpoint] = rf
	}
	return nil
}

// ClearFaults removes every queued and random fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.queue = nil
	s.faults.init()
}

// takeFault returns the fault for this call of endpoint by merchant about user openID (""
// when the call names none), or "". Caller holds s.mu.
func (s *Server) takeFault(endpoint, merchant, openID string) string {
	for i, f := range s.faults.queue {
		if f.Endpoint != endpoint || (f.Merchant != "" && f.Merchant != merchant) || (f.OpenID != "" && f.OpenID != openID) {
			continue
		}
		if f.Count--; f.Count <= 0 {
			s.faults.queue = append(s.faults.queue[:i], s.faults.queue[i+1:]...)
		}
		return f.Fault
	}
	if rf := s.faults.random[endpoint]; rf != nil {
		x := rf.rng.Float64()
		for i, p := range rf.probs {
			if x < p {
				return rf.faults[i]
			}
			x -= p
		}
	}
	return ""
}

// withhold is the end of a call under a timeout or drop fault: the work is done, the answer
// never arrives.
func (s *Server) withhold(w http.ResponseWriter, r *http.Request, fault string) {
	if fault == FaultDrop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
	}
	t := time.NewTimer(s.cfg.Hang)
	defer t.Stop()
	select {
	case <-r.Context().Done():
	case <-s.ctx.Done():
	case <-t.C:
	}
}

// oaFault applies a fault to an official-account call and reports whether it answered.
// Work-then-hang makes no sense for these reads, so timeout and drop just withhold.
func (s *Server) oaFault(w http.ResponseWriter, r *http.Request, endpoint string) bool {
	s.mu.Lock()
	appID := r.URL.Query().Get("appid")
	if t := s.tokens[r.URL.Query().Get("access_token")]; appID == "" && t != nil {
		appID = t.appID // calls made with the OA's access_token (template/send) name no appid
	}
	f := s.takeFault(endpoint, appID, r.URL.Query().Get("openid"))
	s.mu.Unlock()
	switch f {
	case "":
		return false
	case FaultTimeout, FaultDrop:
		s.withhold(w, r, f)
	case FaultMalformed:
		w.Write([]byte("<html>502 Bad Gateway</html>")) //nolint:errcheck
	case "FREQ_LIMIT":
		oaError(w, 45009, "reach max api daily quota limit")
	default:
		oaError(w, -1, "system error")
	}
	return true
}

// errDesc is the err_code_des the simulator gives for an err_code.
func errDesc(code string) string {
	switch code {
	case "SYSTEMERROR":
		return "系统繁忙,请稍后再试。"
	case "FREQ_LIMIT":
		return "超过频率限制,请稍后再试。"
	case "NOTENOUGH":
		return "帐号余额不足，请到商户平台充值后再重试"
	case "NO_AUTH":
		return "发放失败，此请求可能存在风险，已被微信拦截"
	case "USER_ACCOUNT_ABNORMAL":
		return "用户账户异常"
	case "CA_ERROR":
		return "商户API证书校验出错"
	case "PARAM_ERROR":
		return "参数错误"
	case "PROCESSING":
		return "请求已受理，请稍后使用原单号查询发放结果"
	case "SENDAMOUNT_LIMIT":
		return "您的商户号今日发放金额超过限制，如有需要请登录微信支付商户平台更改API安全配置"
	case "SENDNUM_LIMIT":
		return "该用户今日领取红包个数超过限制"
	case "RCVDAMOUNT_LIMIT":
		return "该用户今日领取金额超过限制"
	case "SEND_FAILED":
		return "红包发放失败,请更换单号再重试"
	case "MONEY_LIMIT":
		return "发送金额超过范围"
	case "FATAL_ERROR":
		return "更换了openid或金额等参数，请保持同一单号的参数不变"
	case "NOT_FOUND":
		return "指定单号数据不存在"
	case "ORDERNOTEXIST":
		return "订单不存在"
	case "ORDERPAID":
		return "订单已支付"
	case "ORDERCLOSED":
		return "订单已关闭"
	case "REFUNDNOTEXIST":
		return "退款订单查询失败"
	case "SIGN_ERROR":
		return "签名错误"
	case "OPENID_ERROR":
		return "openid和appid不匹配"
	}
	return code
}
