package main

import (
	"net/url"
	"testing"
)

// A top-up is a Native order: WeChat records spbill_create_ip as the address of the server
// that calls it, so the console sends PAYOUT_CLIENT_IP, not the merchant's browser's address.
func TestTopUpSendsTheServersAddress(t *testing.T) {
	srv, base := startStackWith(t, nil, func(cfg *Config) { cfg.PayoutClientIP = "203.0.113.7" })
	b, m := signUp(t, srv, base, "充值店")
	merchantSetup(t, srv, m, 10)
	b.post("/console/assets/topups", url.Values{"amount": {"100"}})
	var row struct {
		OutTradeNo string `db:"out_trade_no"`
		MchID      string `db:"mch_id"`
	}
	if err := srv.DB.Get(&row, `SELECT t.out_trade_no, w.mch_id FROM topups t JOIN merchant_wechat w USING (merchant_id)
WHERE t.merchant_id = $1 ORDER BY t.id DESC LIMIT 1`, m); err != nil {
		t.Fatalf("the top-up was not placed: %v", err)
	}
	s, _ := testSim()
	p, ok := s.PaymentOf(row.MchID, row.OutTradeNo)
	if !ok {
		t.Fatalf("the simulator has no order %s", row.OutTradeNo)
	}
	if p.TradeType != "NATIVE" || p.CreateIP != "203.0.113.7" {
		t.Fatalf("top-up placed as %s with spbill_create_ip %q, want NATIVE from 203.0.113.7", p.TradeType, p.CreateIP)
	}
}
