package merchant

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"fenxiao/wallet"
	"fenxiao/wechat"
)

// A top-up is money a merchant pays in with WeChat Native pay (a QR code scanned in WeChat)
// to fund its red-packet assets. The notification credits the ledger with key
// topup:<out_trade_no> in the same transaction that marks the row paid, so however many
// notifications and status queries arrive, the money is counted once.

// TopUp is one top-up.
type TopUp struct {
	ID            int64           `db:"id"`
	MerchantID    int64           `db:"merchant_id"`
	OutTradeNo    string          `db:"out_trade_no"`
	Amount        decimal.Decimal `db:"amount"`
	Status        string          `db:"status"` // pending, paid, closed
	CodeURL       string          `db:"code_url"`
	TransactionID *string         `db:"transaction_id"`
	CreatedAt     time.Time       `db:"created_at"`
	ExpiresAt     time.Time       `db:"expires_at"`
	PaidAt        *time.Time      `db:"paid_at"`
	Attempts      int             `db:"attempts"` // the query job's failed attempts
}

const topUpCols = `id, merchant_id, out_trade_no, amount, status, code_url, transaction_id, created_at, expires_at, paid_at, attempts`

// Top-up limits and timing.
var (
	minTopUp = decimal.NewFromInt(1)
	maxTopUp = decimal.NewFromInt(50000)
)

const (
	topUpTimeout = 2 * time.Hour
	// topUpQueryAfter: a pending top-up older than this is asked about when its page polls,
	// in case the notification is late or lost.
	topUpQueryAfter = 10 * time.Second
)

// nativePayer is the part of the WeChat client that places Native orders.
type nativePayer interface {
	PrepayNative(ctx context.Context, p wechat.Prepay) (string, error)
}

// PayNotifyURL is where WeChat Pay sends a merchant's payment notifications.
func (s *Service) PayNotifyURL(merchantID int64) string {
	return fmt.Sprintf("%s/wechat/pay/%d/notify", s.baseURL, merchantID)
}

// RefundNotifyURL is where WeChat Pay sends a merchant's refund notifications.
func (s *Service) RefundNotifyURL(merchantID int64) string {
	return fmt.Sprintf("%s/wechat/pay/%d/refund", s.baseURL, merchantID)
}

// TopUpNotifyURL is where WeChat Pay sends a merchant's top-up payment notifications.
func (s *Service) TopUpNotifyURL(merchantID int64) string {
	return fmt.Sprintf("%s/wechat/pay/%d/topup", s.baseURL, merchantID)
}

// StartTopUp records a top-up of amount yuan and places its Native order; the returned
// top-up's CodeURL is what the QR code shows.
func (s *Service) StartTopUp(ctx context.Context, merchantID int64, amount decimal.Decimal, clientIP string) (*TopUp, error) {
	switch {
	case !amount.Equal(amount.Truncate(2)):
		return nil, Invalid("amount", "充值金额最多两位小数")
	case amount.LessThan(minTopUp) || amount.GreaterThan(maxTopUp):
		return nil, Invalid("amount", "单次充值金额须在 1 元到 50,000 元之间")
	}
	wx, err := s.WeChatFor(ctx, merchantID)
	if errors.Is(err, ErrNoWeChat) {
		return nil, Invalid("amount", "请先在「微信设置」中填写公众号和微信支付信息，再充值")
	}
	if err != nil {
		return nil, err
	}
	np, ok := wx.(nativePayer)
	if !ok {
		return nil, fmt.Errorf("campaign: WeChat client of merchant %d cannot place Native orders", merchantID)
	}
	now := s.now()
	no, err := topUpTradeNo(now)
	if err != nil {
		return nil, err
	}
	var t TopUp
	err = s.db.GetContext(ctx, &t, `
INSERT INTO topups (merchant_id, out_trade_no, amount, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)
RETURNING `+topUpCols, merchantID, no, amount, now, now.Add(topUpTimeout))
	if err != nil {
		return nil, fmt.Errorf("campaign: top-up of merchant %d: %w", merchantID, err)
	}
	fen, err := wallet.ToFen(amount)
	if err != nil {
		return nil, err
	}
	if clientIP == "" {
		clientIP = "127.0.0.1"
	}
	code, err := np.PrepayNative(ctx, wechat.Prepay{
		OutTradeNo: no, Description: "红包资产充值", TotalFen: fen, ClientIP: clientIP,
		NotifyURL: s.TopUpNotifyURL(merchantID), TimeExpire: t.ExpiresAt, ProductID: "topup",
	})
	if err != nil {
		if _, cerr := s.db.ExecContext(ctx, `UPDATE topups SET status = 'closed' WHERE id = $1 AND status = 'pending'`, t.ID); cerr != nil {
			s.log.Error("close top-up after failed prepay", "merchant_id", merchantID, "topup_id", t.ID, "err", cerr)
		}
		return nil, fmt.Errorf("campaign: top-up %d: %w", t.ID, err)
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE topups SET code_url = $2 WHERE id = $1`, t.ID, code); err != nil {
		return nil, fmt.Errorf("campaign: top-up %d: %w", t.ID, err)
	}
	t.CodeURL = code
	return &t, nil
}

// topUpTradeNo makes a top-up's out_trade_no: "TU", time and 10 random digits.
func topUpTradeNo(now time.Time) (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1e10))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("TU%s%010d", now.UTC().Format("060102150405"), n.Int64()), nil
}

// TopUp returns one of a merchant's top-ups.
func (s *Service) TopUp(ctx context.Context, merchantID, id int64) (*TopUp, error) {
	var t TopUp
	err := s.db.GetContext(ctx, &t, `SELECT `+topUpCols+` FROM topups WHERE merchant_id = $1 AND id = $2`, merchantID, id)
	if isNoRows(err) {
		return nil, fmt.Errorf("top-up %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("campaign: top-up %d: %w", id, err)
	}
	return &t, nil
}

// TopUps returns a merchant's latest top-ups, newest first.
func (s *Service) TopUps(ctx context.Context, merchantID int64, limit int) ([]TopUp, error) {
	var ts []TopUp
	err := s.db.SelectContext(ctx, &ts, `SELECT `+topUpCols+` FROM topups WHERE merchant_id = $1 ORDER BY id DESC LIMIT $2`, merchantID, limit)
	if err != nil {
		return nil, fmt.Errorf("campaign: top-ups of merchant %d: %w", merchantID, err)
	}
	return ts, nil
}

// TopUpStatus returns a top-up as its QR page polls it. A pending one past topUpQueryAfter is
// checked with WeChat (see checkTopUp), so a lost notification delays nothing.
func (s *Service) TopUpStatus(ctx context.Context, merchantID, id int64) (*TopUp, error) {
	t, err := s.TopUp(ctx, merchantID, id)
	if err != nil || t.Status != "pending" || s.now().Sub(t.CreatedAt) < topUpQueryAfter {
		return t, err
	}
	changed, err := s.checkTopUp(ctx, t)
	if err != nil || !changed {
		return t, err
	}
	return s.TopUp(ctx, merchantID, id)
}

// QueryTopUps is the job behind the QR page's polling, for top-ups nobody is watching: it asks
// WeChat about pending top-ups older than a minute, credits the paid ones and closes the
// expired unpaid ones. Safe with several replicas: crediting locks the row and is keyed by the
// top-up, closing is conditional.
func (s *Service) QueryTopUps(ctx context.Context) (int, error) {
	var ts []TopUp
	if err := s.db.SelectContext(ctx, &ts, FairBatch("topups", topUpCols, `t.status = 'pending' AND t.created_at < $2`, `t.created_at`),
		s.now(), s.now().Add(-time.Minute)); err != nil {
		return 0, fmt.Errorf("campaign: pending top-ups: %w", err)
	}
	n, err := EachDue(ctx, s.log, "query top-up", ts, func(t *TopUp) int64 { return t.MerchantID }, s.checkTopUp,
		func(ctx context.Context, t *TopUp, cause error) error {
			return BackOffRow(ctx, s.db, s.now(), "topups", t.ID, t.Attempts, cause)
		})
	if err != nil {
		return n, fmt.Errorf("campaign: query top-ups: %w", err)
	}
	return n, nil
}

// checkTopUp asks WeChat about a pending top-up: paid → credited; past its expiry and unpaid →
// closed. An error leaves it pending (the job backs it off and asks again).
func (s *Service) checkTopUp(ctx context.Context, t *TopUp) (changed bool, err error) {
	wx, err := s.WeChatFor(ctx, t.MerchantID)
	if err != nil {
		return false, err
	}
	st, err := wx.QueryOrder(ctx, t.OutTradeNo)
	switch {
	case err != nil:
		return false, err
	case st.TradeState == "SUCCESS":
		if err := s.markTopUpPaid(ctx, t.MerchantID, t.OutTradeNo, st.TransactionID, st.TotalFen, st.PaidAt); err != nil {
			return false, err
		}
		return true, nil
	case !s.now().Before(t.ExpiresAt) && (st.TradeState == "NOTPAY" || st.TradeState == "CLOSED"):
		if _, err := s.db.ExecContext(ctx, `UPDATE topups SET status = 'closed' WHERE id = $1 AND status = 'pending'`, t.ID); err != nil {
			return false, fmt.Errorf("campaign: close top-up %d: %w", t.ID, err)
		}
		return true, nil
	}
	return false, nil
}

// HandleTopUpNotify verifies a top-up payment notification and credits the merchant's assets.
// Duplicates return nil (WeChat must be told SUCCESS); a forged or mismatching notification
// is an error. The notification is signed with the merchant's own API key, which the merchant
// holds: it could sign one for a top-up it never paid. So it only triggers a check, and what
// is credited is what WeChat's orderquery confirms (paid, this order, this amount).
func (s *Service) HandleTopUpNotify(ctx context.Context, merchantID int64, body []byte) error {
	wx, err := s.WeChatFor(ctx, merchantID)
	if err != nil {
		return err
	}
	n, err := wx.ParsePayNotify(body)
	if err != nil {
		return fmt.Errorf("campaign: top-up notification for merchant %d: %w", merchantID, err)
	}
	st, err := wx.QueryOrder(ctx, n.OutTradeNo)
	if err != nil {
		return fmt.Errorf("campaign: confirm top-up %s of merchant %d: %w", n.OutTradeNo, merchantID, err)
	}
	if st.TradeState != "SUCCESS" || st.OutTradeNo != n.OutTradeNo || st.TransactionID != n.TransactionID || st.TotalFen != n.TotalFen {
		s.log.Warn("top-up notification not confirmed by WeChat", "merchant_id", merchantID, "out_trade_no", n.OutTradeNo,
			"trade_state", st.TradeState, "transaction_id", n.TransactionID)
		return fmt.Errorf("%w: top-up %s: WeChat says %s", ErrConflict, n.OutTradeNo, st.TradeState)
	}
	return s.markTopUpPaid(ctx, merchantID, st.OutTradeNo, st.TransactionID, st.TotalFen, st.PaidAt)
}

// markTopUpPaid moves a top-up from pending to paid and credits the ledger in the same
// transaction, under the row lock; a paid top-up is left as it is. A top-up closed locally
// but paid at WeChat is still credited: the money arrived.
func (s *Service) markTopUpPaid(ctx context.Context, merchantID int64, outTradeNo, transactionID string, paidFen int64, paidAt time.Time) error {
	if paidAt.IsZero() {
		paidAt = s.now()
	}
	return s.transact(ctx, func(tx *sqlx.Tx) error {
		var t TopUp
		err := sqlx.GetContext(ctx, tx, &t, `SELECT `+topUpCols+` FROM topups WHERE merchant_id = $1 AND out_trade_no = $2 FOR UPDATE`,
			merchantID, outTradeNo)
		if isNoRows(err) {
			return fmt.Errorf("%w: no top-up %s", ErrNotFound, outTradeNo)
		}
		if err != nil {
			return err
		}
		fen, err := wallet.ToFen(t.Amount)
		if err != nil {
			return err
		}
		if fen != paidFen {
			return fmt.Errorf("%w: top-up %s is %d fen, WeChat says %d", wechat.ErrAmountMismatch, outTradeNo, fen, paidFen)
		}
		if t.Status == "paid" {
			return nil
		}
		if _, err := s.wallet.TopUpAssets(ctx, tx, merchantID, t.Amount, "topup:"+outTradeNo, outTradeNo); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE topups SET status = 'paid', transaction_id = $2, paid_at = $3 WHERE id = $1`,
			t.ID, transactionID, paidAt)
		return err
	})
}
