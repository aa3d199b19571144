package h5

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/shopspring/decimal"

	"fenxiao/campaign"
	"fenxiao/wallet"
)

// My commissions: the vault, its history, the withdraw button and the red packets it sent.

// earningsView is the commissions page's data.
type earningsView struct {
	*campaign.Earnings
	Packets  []wallet.Packet
	CanClaim bool   // at least 1 yuan claimable, and not a snapshot-mode visitor
	Flash    string // what the last withdrawal did
	FlashBad bool
	Inbox    string // dev: the simulator's red-packet inbox of this user
}

// lineLabels name each vault movement for the sharer.
var lineLabels = map[wallet.TransferKind]string{
	wallet.Commission:       "佣金到账",
	wallet.CommissionHeld:   "佣金待结算",
	wallet.CommissionSettle: "佣金结算，可提现",
	wallet.CommissionVoid:   "订单退款，佣金取消",
	wallet.Claim:            "提现",
	wallet.PayoutReturned:   "红包未领取，已退回",
}

// Label is the Chinese name of a vault movement. A packet's money comes back either because
// it was never opened or because WeChat refused it: the packets shown say which.
func (v earningsView) Label(l wallet.Line) string {
	if l.Kind == wallet.PayoutReturned {
		for _, p := range v.Packets {
			if p.BillNo == l.Ref && p.Status == wallet.PacketFailed {
				return "红包未发出，已退回"
			}
		}
	}
	if s, ok := lineLabels[l.Kind]; ok {
		return s
	}
	return string(l.Kind)
}

// Order is the masked number of the order a commission came from, or "".
func (earningsView) Order(l wallet.Line) string {
	if len(l.Ref) < 8 || (l.Kind != wallet.Commission && l.Kind != wallet.CommissionHeld && l.Kind != wallet.CommissionVoid) {
		return ""
	}
	return "订单尾号 " + l.Ref[len(l.Ref)-6:]
}

// Held is when the commission of a 佣金待结算 line still held becomes claimable, or nil.
func (v earningsView) Held(l wallet.Line) *campaign.HeldCommission {
	if l.Kind != wallet.CommissionHeld {
		return nil
	}
	if h, ok := v.Earnings.Held[l.Ref]; ok {
		return &h
	}
	return nil
}

// packetWords are a red packet's states as the sharer reads them.
var packetWords = map[wallet.PacketStatus]string{
	wallet.PacketQueued: "排队中", wallet.PacketSending: "发送中", wallet.PacketSent: "已发送待领取",
	wallet.PacketReceived: "已领取", wallet.PacketRefunded: "已退回", wallet.PacketFailed: "失败",
}

// Status is a packet's state in Chinese.
func (earningsView) Status(p wallet.Packet) string { return packetWords[p.Status] }

// Later says when a packet held back by WeChat's daily limits goes out, or "".
func (earningsView) Later(p wallet.Packet) string {
	if p.Status != wallet.PacketQueued || !p.SendAfter.After(time.Now()) {
		return ""
	}
	return p.SendAfter.Format("01-02") + " 发放"
}

var minClaim = decimal.NewFromInt(1)

func (s *Server) earnings(c *fiber.Ctx) error {
	camp, u, err := s.visitor(c, false)
	if err != nil {
		return signedIn(err)
	}
	e, err := s.Campaign.Earnings(c.UserContext(), camp.MerchantID, u.ID, 50)
	if err != nil {
		return err
	}
	// A settlement moves money from pending to available: show it once, as the sharer sees it.
	lines := e.Lines[:0:0]
	for _, l := range e.Lines {
		if l.Kind == wallet.CommissionSettle && l.Account == wallet.VaultPending {
			continue
		}
		lines = append(lines, l)
	}
	e.Lines = lines
	v := earningsView{Earnings: e, CanClaim: !u.Snapshot && !e.Available.LessThan(minClaim)}
	s.refreshPackets(c.UserContext(), camp.MerchantID, u.ID)
	if v.Packets, err = s.Payouts.Packets(c.UserContext(), camp.MerchantID, u.ID, 20); err != nil {
		return err
	}
	v.Flash, v.FlashBad = claimFlash(c)
	if s.SimIP != nil && s.Cfg.WeChatAPIBase != "" {
		if wx, err := s.Merchants.WeChatFor(c.UserContext(), camp.MerchantID); err == nil {
			v.Inbox = s.Cfg.WeChatAPIBase + "/sim/inbox?" + url.Values{"appid": {wx.AppID()}, "openid": {u.OpenID}}.Encode()
		}
	}
	return s.render(c, "earnings", &pageData{Title: "我的佣金", Campaign: camp, User: u, Data: v})
}

// refreshWait bounds how long the claim records page waits for WeChat's packet statuses.
const refreshWait = 2 * time.Second

// refreshPackets asks WeChat about the sharer's sent packets (wallet.Payouts.Refresh: each at
// most every 30 s), so one they opened a moment ago shows as received rather than waiting for
// the status job. A slow or failing WeChat only leaves the statuses as they were.
func (s *Server) refreshPackets(ctx context.Context, merchantID, sharerID int64) {
	ctx, cancel := context.WithTimeout(ctx, refreshWait)
	defer cancel()
	if _, err := s.Payouts.Refresh(ctx, merchantID, sharerID); err != nil {
		s.Log.Warn("refresh red-packet statuses", "merchant_id", merchantID, "sharer_id", sharerID, "err", err)
	}
}

// withdraw claims the whole available vault as red packets (wallet.Payouts) and comes back
// to the commissions page saying what happened (POST, redirect, GET).
func (s *Server) withdraw(c *fiber.Ctx) error {
	camp, u, err := s.visitor(c, false)
	if err != nil {
		return signedIn(err)
	}
	back := fmt.Sprintf("/c/%d/commissions", camp.ID)
	if u.Snapshot { // a virtual openid: it has nothing, and a packet to it would go nowhere
		return c.Redirect(back+"?claim=snapshot", fiber.StatusSeeOther)
	}
	res, err := s.Payouts.Claim(c.UserContext(), camp.MerchantID, u.ID, u.OpenID)
	var small *wallet.ClaimTooSmallError
	switch {
	case errors.As(err, &small):
		return c.Redirect(back+"?claim=short&missing="+small.Missing.StringFixed(2), fiber.StatusSeeOther)
	case errors.Is(err, wallet.ErrNothingToClaim):
		return c.Redirect(back+"?claim=empty", fiber.StatusSeeOther)
	case err != nil:
		return err
	}
	return c.Redirect(fmt.Sprintf("%s?claim=ok&total=%s&n=%d&queued=%d", back, res.Total.StringFixed(2), len(res.Packets), res.Queued),
		fiber.StatusSeeOther)
}

// claimFlash turns the withdraw redirect's query into the message the page shows. Only
// numbers are read from the query, so a crafted link cannot put words on the page.
func claimFlash(c *fiber.Ctx) (string, bool) {
	num := func(k string) string {
		if d, err := wallet.ParseAmount(c.Query(k)); err == nil { // never an exponent: 1e999999999 would cost a billion digits
			return d.StringFixed(2)
		}
		return "0.00"
	}
	count := func(k string) int { n, _ := strconv.Atoi(c.Query(k)); return max(n, 0) }
	switch c.Query("claim") {
	case "ok":
		msg := fmt.Sprintf("已申请提现 %s 元，共 %d 个红包，将发到你的微信，请注意领取", num("total"), count("n"))
		if q := count("queued"); q > 0 {
			msg += fmt.Sprintf("；受微信每日限额影响，其中 %d 个将在之后几天自动发放", q)
		}
		return msg, false
	case "short":
		return fmt.Sprintf("满 1 元才能提现，还差 %s 元", num("missing")), true
	case "empty":
		return "暂无可提现的佣金", true
	case "snapshot":
		return "预览模式下不能提现，请使用完整服务", true
	}
	return "", false
}
