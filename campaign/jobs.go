package campaign

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"fenxiao/wallet"
	"fenxiao/wechat"
)

// The jobs below are idempotent and safe with several replicas running them at once: rows
// are claimed with FOR UPDATE SKIP LOCKED or changed by conditional updates, every money
// movement has a key derived from its row, and no lock is held across a WeChat call.

// jobBatch bounds the rows one run handles; the next run takes the rest.
const jobBatch = 200

// CloseExpired closes unpaid orders past their timeout and returns their stock. WeChat is
// asked first, so an order paid at the last second is recorded as paid, not closed.
func (s *Service) CloseExpired(ctx context.Context) (int, error) {
	var orders []Order
	if err := s.db.SelectContext(ctx, &orders, `SELECT `+orderCols+` FROM orders WHERE status = 'pending' AND expires_at < $1 ORDER BY expires_at LIMIT $2`,
		s.now(), jobBatch); err != nil {
		return 0, fmt.Errorf("campaign: expired orders: %w", err)
	}
	closed := 0
	for i := range orders {
		o := &orders[i]
		paid, _, err := s.checkWithWeChat(ctx, o)
		if err != nil {
			s.log.Warn("close expired order: WeChat unsure, will retry", "merchant_id", o.MerchantID, "order_id", o.ID, "err", err)
			continue
		}
		if paid {
			continue
		}
		if wx, err := s.WeChatFor(ctx, o.MerchantID); err == nil {
			if err := wx.CloseOrder(ctx, o.OutTradeNo); err != nil && wechat.KindOf(err) != wechat.KindNotFound {
				s.log.Warn("close order at WeChat failed, will retry", "order_id", o.ID, "err", err)
				continue
			}
		}
		ok, err := s.closeOrder(ctx, o, "unpaid after timeout")
		if err != nil {
			return closed, err
		}
		if ok {
			closed++
		}
	}
	return closed, nil
}

// QueryUnpaid asks WeChat about unpaid orders older than a minute whose notification has not
// come, recording the ones WeChat says are paid.
func (s *Service) QueryUnpaid(ctx context.Context) (int, error) {
	now := s.now()
	var orders []Order
	if err := s.db.SelectContext(ctx, &orders, `SELECT `+orderCols+` FROM orders
WHERE status = 'pending' AND created_at < $1 AND expires_at >= $2 ORDER BY created_at LIMIT $3`,
		now.Add(-oneMinute), now, jobBatch); err != nil {
		return 0, fmt.Errorf("campaign: unpaid orders: %w", err)
	}
	found := 0
	for i := range orders {
		_, recorded, err := s.checkWithWeChat(ctx, &orders[i])
		if err != nil {
			s.log.Warn("query unpaid order", "order_id", orders[i].ID, "err", err)
			continue
		}
		if recorded {
			found++
		}
	}
	return found, nil
}

// checkWithWeChat queries an order and records it paid when WeChat says so. recorded is
// false when WeChat says paid but the payment was already recorded (a notification won).
func (s *Service) checkWithWeChat(ctx context.Context, o *Order) (paid, recorded bool, err error) {
	wx, err := s.WeChatFor(ctx, o.MerchantID)
	if err != nil {
		return false, false, err
	}
	st, err := wx.QueryOrder(ctx, o.OutTradeNo)
	if wechat.KindOf(err) == wechat.KindNotFound {
		return false, false, nil // never reached WeChat (prepay failed): nothing was paid
	}
	if err != nil {
		return false, false, err
	}
	if st.TradeState != "SUCCESS" {
		return false, false, nil
	}
	recorded, err = s.markPaid(ctx, o.MerchantID, o.OutTradeNo, st.TransactionID, st.TotalFen, st.PaidAt)
	if err != nil {
		return false, false, err
	}
	if recorded {
		s.log.Info("order found paid by query", "merchant_id", o.MerchantID, "order_id", o.ID)
	}
	return true, recorded, nil
}

// SettleHeld makes held commissions claimable once their hold period has passed.
func (s *Service) SettleHeld(ctx context.Context) (int, error) {
	settled := 0
	for {
		var done bool
		err := s.transact(ctx, func(tx *sqlx.Tx) error {
			var o Order
			err := sqlx.GetContext(ctx, tx, &o, `SELECT `+orderCols+` FROM orders
WHERE commission_status = 'held' AND status = 'paid' AND settle_at <= $1
ORDER BY settle_at LIMIT 1 FOR UPDATE SKIP LOCKED`, s.now())
			if isNoRows(err) {
				done = true
				return nil
			}
			if err != nil {
				return err
			}
			if _, err := s.wallet.SettleCommission(ctx, tx, wallet.Earning{
				MerchantID: o.MerchantID, CampaignID: o.CampaignID, SharerID: *o.SharerID,
				Amount: o.Commission, Key: fmt.Sprintf("order:%d:settle", o.ID), Ref: o.OutTradeNo,
			}); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `UPDATE orders SET commission_status = 'earned' WHERE id = $1`, o.ID)
			return err
		})
		if err != nil {
			return settled, fmt.Errorf("campaign: settle held commission: %w", err)
		}
		if done || settled >= jobBatch*10 {
			return settled, nil
		}
		settled++
	}
}

// ReleaseEnded returns the reserve of each ended campaign to the merchant once no unpaid
// order remains, and marks the campaign ended.
func (s *Service) ReleaseEnded(ctx context.Context) (int, error) {
	var ids []struct {
		ID         int64 `db:"id"`
		MerchantID int64 `db:"merchant_id"`
	}
	if err := s.db.SelectContext(ctx, &ids, `SELECT id, merchant_id FROM campaigns c
WHERE status = 'published' AND ends_at <= $1 AND held = 0
LIMIT $2`, s.now(), jobBatch); err != nil {
		return 0, fmt.Errorf("campaign: ended campaigns: %w", err)
	}
	released := 0
	for _, r := range ids {
		err := s.transact(ctx, func(tx *sqlx.Tx) error {
			var ok bool
			// held counts the units of unpaid orders on this very row, so the check is made on
			// the row version locked (a subquery would read an older snapshot).
			err := sqlx.GetContext(ctx, tx, &ok, `SELECT true FROM campaigns WHERE id = $1 AND status = 'published' AND held = 0
FOR NO KEY UPDATE SKIP LOCKED`, r.ID)
			if isNoRows(err) {
				return errSkip // another replica has it, or it changed
			}
			if err != nil {
				return err
			}
			var reserve decimal.Decimal
			if err := sqlx.GetContext(ctx, tx, &reserve, `SELECT COALESCE((SELECT balance FROM accounts WHERE merchant_id = $1 AND kind = 'reserve' AND ref_id = $2), 0)`,
				r.MerchantID, r.ID); err != nil {
				return err
			}
			if reserve.IsPositive() {
				if _, err := s.wallet.ReleaseReserve(ctx, tx, r.MerchantID, r.ID, reserve, fmt.Sprintf("campaign:%d:release", r.ID)); err != nil {
					return err
				}
			}
			_, err = tx.ExecContext(ctx, `UPDATE campaigns SET status = 'ended', released_at = $2, updated_at = now() WHERE id = $1`, r.ID, s.now())
			return err
		})
		if errors.Is(err, errSkip) {
			continue
		}
		if err != nil {
			return released, fmt.Errorf("campaign: release %d: %w", r.ID, err)
		}
		s.log.Info("campaign ended, reserve released", "merchant_id", r.MerchantID, "campaign_id", r.ID)
		released++
	}
	return released, nil
}

var errSkip = errors.New("skip")
