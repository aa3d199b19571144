package campaign

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"fenxiao/campaign/merchant"
	"fenxiao/wallet"
	"fenxiao/wechat"
)

// Refunds. Every refund of an order counts once, whoever made it (the console, the oversold job
// or the merchant in WeChat Pay's own platform) and however many notifications and queries
// report it: each is a row of order_refunds keyed by its out_refund_no, and the order's
// refunded amount is their sum. Stock is never returned. A refund within the commission hold
// voids the held commission of the whole units it covers; a commission already credited is
// kept (DESIGN.md).

// refundLine is one refund WeChat confirms.
type refundLine struct {
	OutRefundNo string
	Fen         int64
	At          time.Time
	Reason      string // the console's, shown to the buyer; "" for refunds made elsewhere
}

// Refund refunds what is left of a paid order through WeChat Pay.
func (s *Service) Refund(ctx context.Context, merchantID, orderID int64, reason string) (*Order, error) {
	return s.RefundPart(ctx, merchantID, orderID, decimal.Zero, reason)
}

// RefundPart refunds amount of a paid order through WeChat Pay (zero: all that is left), with
// a reason the buyer sees. Refunding the whole rest is Refund. The held commission of the whole
// units the order's refunds then cover is voided (recordRefunds).
func (s *Service) RefundPart(ctx context.Context, merchantID, orderID int64, amount decimal.Decimal, reason string) (*Order, error) {
	o, err := s.Order(ctx, merchantID, orderID)
	if err != nil {
		return nil, err
	}
	if o.Status == Refunded && amount.IsZero() {
		return o, nil
	}
	if o.Status != Paid {
		return nil, fmt.Errorf("%w: 只有已支付的订单可以退款", ErrConflict)
	}
	reason = strings.TrimSpace(reason)
	if n := len([]rune(reason)); n > 80 {
		return nil, invalid("reason", "退款原因最多 80 个字")
	}
	var fen int64
	if !amount.IsZero() {
		rest := o.Amount.Sub(o.Refunded)
		if !amount.IsPositive() || !amount.Equal(amount.Truncate(2)) || amount.GreaterThan(rest) {
			return nil, invalid("amount", fmt.Sprintf("退款金额须在 0.01 到 %s 元之间（最多两位小数）", wallet.Yuan(rest)))
		}
		if fen, err = wallet.ToFen(amount); err != nil {
			return nil, err
		}
	}
	if _, err := s.refundAtWeChat(ctx, o, reason, fen); err != nil {
		return nil, fmt.Errorf("campaign: refund order %d: %w", orderID, err)
	}
	return s.Order(ctx, merchantID, orderID)
}

// refundAtWeChat refunds fen of o (0: the rest, amount − refunded) and records it; 0 when
// nothing is left. The refund number is derived from the order and the refunds before it, so a
// retried refund is the same refund.
func (s *Service) refundAtWeChat(ctx context.Context, o *Order, reason string, fen int64) (int64, error) {
	wx, err := s.wechatFor(ctx, o.MerchantID)
	if err != nil {
		return 0, err
	}
	// What is left is what WeChat says is left: a refund made in the merchant platform that no
	// notification reported is recorded first (asking for more than is left is refused).
	if err := s.syncRefunds(ctx, wx, o); err != nil {
		return 0, err
	}
	if o, err = s.Order(ctx, o.MerchantID, o.ID); err != nil {
		return 0, err
	}
	if o.Status == Refunded || o.RefundedAt != nil {
		return 0, nil
	}
	total, err := wallet.ToFen(o.Amount)
	if err != nil {
		return 0, err
	}
	rest, err := wallet.ToFen(o.Amount.Sub(o.Refunded))
	if err != nil || rest <= 0 {
		return 0, err
	}
	if fen > 0 {
		if fen > rest { // a platform refund found just now left less than asked
			return 0, invalid("amount", fmt.Sprintf("订单只剩 %s 元可退", wallet.Yuan(wallet.FromFen(rest))))
		}
		rest = fen
	}
	var before int
	if err := s.db.GetContext(ctx, &before, `SELECT count(*) FROM order_refunds WHERE order_id = $1`, o.ID); err != nil {
		return 0, err
	}
	no := refundNo(o.OutTradeNo, before)
	res, err := wx.Refund(ctx, wechat.Refund{
		OutTradeNo: o.OutTradeNo, OutRefundNo: no, TotalFen: total, RefundFen: rest,
		Reason: reason, NotifyURL: s.merchants.RefundNotifyURL(o.MerchantID),
	})
	if err != nil {
		return 0, err
	}
	if res.RefundFen > 0 {
		rest = res.RefundFen
	}
	return rest, s.recordRefunds(ctx, o.MerchantID, o.OutTradeNo, []refundLine{{OutRefundNo: no, Fen: rest, At: s.now(), Reason: reason}})
}

// refundNo is the out_refund_no of an order's refund after n others: "R" + out_trade_no for
// the first (as refunds were always numbered), then "-2", "-3" ….
func refundNo(outTradeNo string, n int) string {
	if n == 0 {
		return "R" + outTradeNo
	}
	return fmt.Sprintf("R%s-%d", outTradeNo, n+1)
}

// HandleRefundNotify records a refund WeChat confirms (idempotent; also covers refunds made
// in WeChat's own merchant platform, partial ones included).
func (s *Service) HandleRefundNotify(ctx context.Context, merchantID int64, body []byte) error {
	wx, err := s.wechatFor(ctx, merchantID)
	if err != nil {
		return err
	}
	n, err := wx.ParseRefundNotify(body)
	if err != nil {
		return fmt.Errorf("campaign: refund notification for merchant %d: %w", merchantID, err)
	}
	if n.Status != "SUCCESS" {
		s.log.Warn("refund not successful", "merchant_id", merchantID, "out_trade_no", n.OutTradeNo, "status", n.Status)
		return nil
	}
	at := n.SucceededAt
	if at.IsZero() {
		at = s.now()
	}
	return s.recordRefunds(ctx, merchantID, n.OutTradeNo, []refundLine{{OutRefundNo: n.OutRefundNo, Fen: n.RefundFen, At: at}})
}

// syncRefunds asks WeChat for an order's refunds and records the ones that succeeded (an
// order found refunded by a query: refunded in the merchant platform without a notification).
func (s *Service) syncRefunds(ctx context.Context, wx WeChat, o *Order) error {
	st, err := wx.QueryRefund(ctx, o.OutTradeNo)
	if wechat.KindOf(err) == wechat.KindNotFound {
		return nil // REFUNDNOTEXIST: no refund
	}
	if err != nil {
		return err
	}
	var lines []refundLine
	for _, r := range st.Refunds {
		if r.Status == "SUCCESS" {
			lines = append(lines, refundLine{OutRefundNo: r.OutRefundNo, Fen: r.Fen, At: r.SucceededAt})
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return s.recordRefunds(ctx, o.MerchantID, o.OutTradeNo, lines)
}

// recordRefunds records refunds of an order, each once, and brings the order along: fully
// refunded once they add up to its amount, the held commission of every whole unit they cover
// voided. Unknown refunds of an order not paid here are an error: the payment must come first.
func (s *Service) recordRefunds(ctx context.Context, merchantID int64, outTradeNo string, lines []refundLine) error {
	err := s.transact(ctx, func(tx *sqlx.Tx) error {
		var o Order
		err := sqlx.GetContext(ctx, tx, &o, `SELECT `+orderCols+` FROM orders WHERE merchant_id = $1 AND out_trade_no = $2 FOR UPDATE`, merchantID, outTradeNo)
		if isNoRows(err) {
			return fmt.Errorf("%w: no order %s", ErrNotFound, outTradeNo)
		}
		if err != nil {
			return err
		}
		if o.Status != Paid && o.Status != Refunded && o.Status != Oversold {
			return fmt.Errorf("%w: order %s is %s, its payment is not recorded", ErrConflict, outTradeNo, o.Status)
		}
		source := "wechat" // made in WeChat Pay's merchant platform
		added := false
		for _, l := range lines {
			if l.Fen <= 0 {
				continue
			}
			if strings.HasPrefix(l.OutRefundNo, "R"+o.OutTradeNo) {
				source = "console"
				if o.Status == Oversold {
					source = "oversold"
				}
			}
			at := l.At
			if at.IsZero() {
				at = s.now()
			}
			// A refund the notification recorded first gets the console's reason now.
			var inserted []bool
			if err := sqlx.SelectContext(ctx, tx, &inserted, `INSERT INTO order_refunds (merchant_id, order_id, out_refund_no, amount, source, at, reason)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (merchant_id, out_refund_no) DO UPDATE SET reason = EXCLUDED.reason WHERE order_refunds.reason = '' AND EXCLUDED.reason <> ''
RETURNING xmax = 0`, merchantID, o.ID, l.OutRefundNo, wallet.FromFen(l.Fen), source, at, l.Reason); err != nil {
				return err
			}
			if len(inserted) > 0 && inserted[0] {
				added = true
			}
		}
		if !added {
			return nil // every one already recorded
		}
		var refunded decimal.Decimal
		if err := sqlx.GetContext(ctx, tx, &refunded, `SELECT COALESCE(sum(amount), 0) FROM order_refunds WHERE order_id = $1`, o.ID); err != nil {
			return err
		}
		if refunded.GreaterThan(o.Amount) {
			return fmt.Errorf("campaign: order %s: refunds add up to %s, more than its %s", outTradeNo, refunded, o.Amount)
		}
		full := refunded.Equal(o.Amount)
		if o.Status == Oversold {
			_, err := tx.ExecContext(ctx, `UPDATE orders SET refunded = $2, refunded_at = CASE WHEN $3 THEN $4::timestamptz END, retry_at = NULL WHERE id = $1`,
				o.ID, refunded, full, s.now())
			return err
		}
		// Lock order: the reserve the void moves to, then the campaign row (campaign/order.go).
		if err := wallet.LockReserve(ctx, tx, merchantID, o.CampaignID); err != nil {
			return err
		}
		if _, err := getCampaign(ctx, tx, merchantID, o.CampaignID, true); err != nil {
			return err
		}
		status, commission, voided := o.Status, o.CommissionStatus, o.VoidedQty
		if full {
			status = Refunded
		}
		// The whole units the refunds cover; a commission already credited is kept.
		units := int(refunded.Div(o.Amount.Div(decimalInt(o.Qty))).IntPart())
		if o.CommissionStatus == "held" && units > o.VoidedQty {
			if err := s.voidCommission(ctx, tx, &o, units-o.VoidedQty, units); err != nil {
				return err
			}
			voided = units
			if voided == o.Qty {
				commission = "voided"
			}
			amount := o.Commission.Div(decimalInt(o.Qty)).Mul(decimalInt(units - o.VoidedQty))
			if err := voidSharer(ctx, tx, &o, amount, commission == "voided"); err != nil { // after the campaign row (figures.go)
				return err
			}
		}
		if _, err = tx.ExecContext(ctx, `UPDATE orders SET status = $2, refunded = $3, voided_qty = $4, commission_status = $5,
    refunded_at = CASE WHEN $6 THEN $7::timestamptz ELSE refunded_at END WHERE id = $1`,
			o.ID, status, refunded, voided, commission, full, s.now()); err != nil {
			return err
		}
		// The results page's figures (figures.go), on the campaign row locked above.
		firstRefund := 0
		if !o.Refunded.IsPositive() {
			firstRefund = 1
		}
		_, err = tx.ExecContext(ctx, `UPDATE campaigns SET refunded_amount = refunded_amount + $2, refunded_orders = refunded_orders + $3 WHERE id = $1`,
			o.CampaignID, refunded.Sub(o.Refunded), firstRefund)
		return err
	})
	if err != nil {
		return fmt.Errorf("campaign: refunds of %s: %w", outTradeNo, err)
	}
	return nil
}

// refundChecks are when, after its payment, a paid order asks WeChat for refunds made in the
// merchant platform, in case no refund notification reached us.
var refundChecks = []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

// SyncRefunds asks WeChat about the refunds of paid orders whose check is due (see
// refundChecks) and records the ones made in WeChat Pay's merchant platform.
func (s *Service) SyncRefunds(ctx context.Context) (int, error) {
	checked := 0
	for ctx.Err() == nil { // batch after batch: a viral campaign's orders all come due together
		n, more, err := s.syncRefundsBatch(ctx)
		checked += n
		if err != nil || !more || n == 0 {
			return checked, err
		}
	}
	return checked, nil
}

func (s *Service) syncRefundsBatch(ctx context.Context) (n int, more bool, err error) {
	orders, err := s.dueOrders(ctx, `t.status = 'paid' AND t.refund_check_at <= $1`, `t.refund_check_at`)
	if err != nil {
		return 0, false, fmt.Errorf("campaign: orders to check for refunds: %w", err)
	}
	n, err = s.eachOrder(ctx, "check refunds", orders, func(ctx context.Context, o *Order) (bool, error) {
		wx, err := s.wechatFor(ctx, o.MerchantID)
		if err != nil {
			return false, err
		}
		if err := s.syncRefunds(ctx, wx, o); err != nil {
			return false, err
		}
		var next *time.Time
		if i := o.RefundChecks + 1; i < len(refundChecks) && o.PaidAt != nil {
			at := o.PaidAt.Add(refundChecks[i])
			next = &at
		}
		_, err = s.db.ExecContext(ctx, `UPDATE orders SET refund_checks = refund_checks + 1, refund_check_at = $2 WHERE id = $1`, o.ID, next)
		return true, err
	})
	if err != nil {
		return n, false, fmt.Errorf("campaign: check refunds: %w", err)
	}
	return n, len(orders) == merchant.JobBatch, nil
}

// RefundNote is one refund of an order as its buyer sees it.
type RefundNote struct {
	Amount decimal.Decimal `db:"amount"`
	At     time.Time       `db:"at"`
	Reason string          `db:"reason"`
}

// Refunds lists an order's refunds, oldest first.
func (s *Service) Refunds(ctx context.Context, o *Order) ([]RefundNote, error) {
	var rs []RefundNote
	err := s.db.SelectContext(ctx, &rs, `SELECT amount, at, reason FROM order_refunds WHERE order_id = $1 AND merchant_id = $2 ORDER BY id`,
		o.ID, o.MerchantID)
	return rs, err
}
