package sim

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

type cashierPage struct {
	Title, Merchant, Description, PrepayID, TradeType, Error string
	TotalFen                                                 int64
	Payer                                                    *User  // JSAPI: the order's user
	Users                                                    []User // Native: who may scan
	Regions                                                  any
	Embedded                                                 bool // inside the bridge's overlay
	Result                                                   string
}

// pageCashier is WeChat's payment sheet. The bridge opens it with getBrandWCPayRequest's
// parameters, whose paySign it checks with the merchant key as WeChat does; testers may
// open it with prepay_id alone.
func (s *Server) pageCashier(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	prepayID := q.Get("prepay_id")
	if p, ok := strings.CutPrefix(q.Get("package"), "prepay_id="); ok {
		prepayID = p
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.prepays[prepayID]
	if o == nil {
		s.errorPage(w, http.StatusNotFound, "订单不存在（prepay_id 无效）")
		return
	}
	m := s.byMch[o.MchID]
	page := cashierPage{Title: "微信支付", Merchant: m.name, Description: o.Description, PrepayID: o.PrepayID,
		TradeType: o.TradeType, TotalFen: o.TotalFen, Embedded: q.Get("embed") == "1", Regions: regions}
	if q.Get("paySign") != "" {
		req := map[string]string{"appId": q.Get("appId"), "timeStamp": q.Get("timeStamp"), "nonceStr": q.Get("nonceStr"),
			"package": q.Get("package"), "signType": q.Get("signType")}
		if q.Get("appId") != m.appID || !strings.EqualFold(paySign(req, m.apiKey, q.Get("signType")), q.Get("paySign")) {
			page.Error = "支付验证签名失败"
		}
	}
	if page.Error == "" {
		if err := s.payable(o); err != nil {
			page.Error = "该订单无法支付：" + strings.TrimPrefix(err.Error(), ErrState.Error()+": ")
		}
	}
	if u := s.users[o.OpenID]; u != nil && o.TradeType == "JSAPI" {
		pu := u.User
		page.Payer = &pu
	}
	if o.TradeType == "NATIVE" {
		for _, u := range s.usersOf(o.AppID) {
			page.Users = append(page.Users, u.User)
		}
	}
	s.render(w, "cashier", page)
}

// postCashier confirms or cancels; the answer page tells the bridge's overlay the result.
func (s *Server) postCashier(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, http.StatusBadRequest, "表单错误")
		return
	}
	f := r.PostForm
	prepayID := f.Get("prepay_id")
	page := cashierPage{Title: "微信支付", PrepayID: prepayID, Embedded: f.Get("embed") == "1", Result: "cancel"}
	if f.Get("action") == "pay" {
		openID := f.Get("user")
		if openID == "new" {
			s.mu.Lock()
			o := s.prepays[prepayID]
			s.mu.Unlock()
			if o == nil {
				s.errorPage(w, http.StatusNotFound, "订单不存在")
				return
			}
			u, err := s.AddUser(User{AppID: o.AppID, Nickname: f.Get("nickname"), ClientIP: formIP(f)})
			if err != nil {
				s.errorPage(w, http.StatusBadRequest, err.Error())
				return
			}
			openID = u.OpenID
		}
		switch err := s.Pay(prepayID, openID); {
		case err == nil:
			page.Result = "ok"
		case errors.Is(err, ErrNotFound):
			s.errorPage(w, http.StatusNotFound, "订单不存在")
			return
		default:
			page.Result, page.Error = "fail", err.Error()
		}
	} else if err := s.CancelPayment(prepayID); err != nil {
		s.errorPage(w, http.StatusNotFound, "订单不存在")
		return
	}
	s.mu.Lock()
	if o := s.prepays[prepayID]; o != nil {
		page.Merchant, page.Description, page.TotalFen = s.byMch[o.MchID].name, o.Description, o.TotalFen
	}
	s.mu.Unlock()
	s.render(w, "paid", page)
}

// pageNative is what scanning a Native code_url shows: the cashier of its order.
func (s *Server) pageNative(w http.ResponseWriter, r *http.Request) {
	prepayID, err := s.PrepayIDOfCodeURL(r.URL.Query().Get("code_url"))
	if err != nil {
		s.errorPage(w, http.StatusNotFound, "二维码已失效或不是微信支付二维码")
		return
	}
	http.Redirect(w, r, "/pay/cashier?prepay_id="+url.QueryEscape(prepayID), http.StatusFound)
}
