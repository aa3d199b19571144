package campaign

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"fenxiao/campaign/merchant"
	"fenxiao/wallet"
	"fenxiao/wechat"
)

// The jobs below are idempotent and safe with several replicas running them at once: rows
// are claimed with FOR UPDATE SKIP LOCKED or changed by conditional updates, every money
// movement has a key derived from its row, and no lock is held across a WeChat call. They run
// their rows through merchant.EachDue, so one merchant's WeChat never holds up the others'.

// dueOrders returns the orders matching where (over orders t, with $1 = now) for a job.
func (s *Service) dueOrders(ctx context.Context, where, orderBy string, args ...any) ([]Order, error) {
	var orders []Order
	if err := s.db.SelectContext(ctx, &orders, merchant.FairBatch("orders", orderCols, where, orderBy), append([]any{s.now()}, args...)...); err != nil {
		return nil, err
	}
	return orders, nil
}

// backOff records a failed attempt on an order (merchant.BackOffRow).
func (s *Service) backOff(ctx context.Context, o *Order, cause error) error {
	return merchant.BackOffRow(ctx, s.db, s.now(), "orders", o.ID, o.Attempts, cause)
}

// eachOrder is merchant.EachDue for orders.
func (s *Service) eachOrder(ctx context.Context, job string, orders []Order, fn func(ctx context.Context, o *Order) (bool, error)) (int, error) {
	return merchant.EachDue(ctx, s.log, job, orders, func(o *Order) int64 { return o.MerchantID }, fn, s.backOff)
}

// CloseExpired closes unpaid orders past their timeout and returns their stock. WeChat is
// asked first, so an order paid (or refunded) at the last second is recorded so, not closed.
func (s *Service) CloseExpired(ctx context.Context) (int, error) {
	orders, err := s.dueOrders(ctx, `t.status = 'pending' AND t.expires_at < $1`, `t.expires_at`)
	if err != nil {
		return 0, fmt.Errorf("campaign: expired orders: %w", err)
	}
	n, err := s.eachOrder(ctx, "close expired order", orders, s.closeExpired)
	if err != nil {
		return n, fmt.Errorf("campaign: close expired orders: %w", err)
	}
	return n, nil
}

func (s *Service) closeExpired(ctx context.Context, o *Order) (bool, error) {
	state, err := s.checkWithWeChat(ctx, o)
	if err != nil || state != stillUnpaid {
		return state == closedByWeChat, err
	}
	wx, err := s.wechatFor(ctx, o.MerchantID)
	if err != nil {
		return false, err
	}
	err = wx.CloseOrder(ctx, o.OutTradeNo)
	var we *wechat.Error
	switch {
	case err == nil, wechat.KindOf(err) == wechat.KindNotFound, errors.As(err, &we) && we.Code == "ORDERCLOSED":
		return s.closeOrder(ctx, o, "unpaid after timeout")
	case errors.As(err, &we) && we.Code == "ORDERPAID":
		// Paid between the query and the close: ask again, which records it.
		_, err := s.checkWithWeChat(ctx, o)
		return false, err
	}
	return false, err
}

// QueryUnpaid asks WeChat about unpaid orders older than a minute whose notification has not
// come, recording what WeChat knows: paid, refunded in the merchant platform, or closed.
func (s *Service) QueryUnpaid(ctx context.Context) (int, error) {
	orders, err := s.dueOrders(ctx, `t.status = 'pending' AND t.created_at < $2 AND t.expires_at >= $1`, `t.created_at`,
		s.now().Add(-oneMinute))
	if err != nil {
		return 0, fmt.Errorf("campaign: unpaid orders: %w", err)
	}
	n, err := s.eachOrder(ctx, "query unpaid order", orders, func(ctx context.Context, o *Order) (bool, error) {
		state, err := s.checkWithWeChat(ctx, o)
		return state == recordedPaid, err
	})
	if err != nil {
		return n, fmt.Errorf("campaign: query unpaid orders: %w", err)
	}
	return n, nil
}

// What checkWithWeChat found out about a pending order.
type wechatState int

const (
	stillUnpaid      wechatState = iota // NOTPAY, USERPAYING: nothing to record yet
	recordedPaid                        // paid (and maybe refunded since): recorded now
	alreadyPaid                         // paid, but a notification had recorded it already
	closedByWeChat                      // WeChat closed it (or it never reached WeChat): closed here too
	handledElsewhere                    // it was no longer pending: another replica got there first
)

// checkWithWeChat queries an order and brings it to the state WeChat reports: SUCCESS records
// the payment; REFUND records the payment and then the refunds WeChat lists (made in the
// merchant platform); CLOSED, REVOKED and PAYERROR, or an order WeChat never saw (its prepay
// failed), close it.
func (s *Service) checkWithWeChat(ctx context.Context, o *Order) (wechatState, error) {
	wx, err := s.wechatFor(ctx, o.MerchantID)
	if err != nil {
		return stillUnpaid, err
	}
	st, err := wx.QueryOrder(ctx, o.OutTradeNo)
	if wechat.KindOf(err) == wechat.KindNotFound {
		return s.closedByWeChat(ctx, o, "unknown to WeChat")
	}
	if err != nil {
		return stillUnpaid, err
	}
	switch st.TradeState {
	case "SUCCESS", "REFUND":
		recorded, err := s.markPaid(ctx, o.MerchantID, o.OutTradeNo, st.TransactionID, st.TotalFen, st.PaidAt)
		if err != nil {
			return stillUnpaid, err
		}
		if recorded {
			s.log.Info("order found paid by query", "merchant_id", o.MerchantID, "order_id", o.ID, "trade_state", st.TradeState)
		}
		if st.TradeState == "REFUND" {
			if err := s.syncRefunds(ctx, wx, o); err != nil {
				return recordedPaid, fmt.Errorf("refunds of order %d: %w", o.ID, err)
			}
		}
		if !recorded {
			return alreadyPaid, nil
		}
		return recordedPaid, nil
	case "CLOSED", "REVOKED", "PAYERROR":
		return s.closedByWeChat(ctx, o, "WeChat says "+st.TradeState)
	}
	return stillUnpaid, nil
}

// closedByWeChat closes an order WeChat will never be paid for; handledElsewhere when another
// replica closed it first.
func (s *Service) closedByWeChat(ctx context.Context, o *Order, why string) (wechatState, error) {
	closed, err := s.closeOrder(ctx, o, why)
	if err != nil || !closed {
		return handledElsewhere, err
	}
	return closedByWeChat, nil
}

// RefundOversold refunds, through WeChat Pay, the orders paid after they were closed whose
// stock was sold meanwhile.
func (s *Service) RefundOversold(ctx context.Context) (int, error) {
	orders, err := s.dueOrders(ctx, `t.status = 'oversold' AND t.refunded_at IS NULL`, `t.paid_at`)
	if err != nil {
		return 0, fmt.Errorf("campaign: oversold orders: %w", err)
	}
	n, err := s.eachOrder(ctx, "refund oversold order", orders, func(ctx context.Context, o *Order) (bool, error) {
		fen, err := s.refundAtWeChat(ctx, o, "库存已售完，自动退款", 0)
		return fen > 0, err
	})
	if err != nil {
		return n, fmt.Errorf("campaign: refund oversold orders: %w", err)
	}
	return n, nil
}

// SettleHeld makes held commissions claimable once their hold period has passed: what is
// left of each after refunds voided some of its units. WeChat is asked for the order's refunds
// first, so a refund made in the merchant platform within the hold voids what it covers even
// when no notification reached us; an order whose refunds cannot be confirmed waits (backed
// off). No lock is held while WeChat answers.
func (s *Service) SettleHeld(ctx context.Context) (int, error) {
	settled := 0
	for ctx.Err() == nil {
		orders, err := s.dueOrders(ctx, `t.commission_status = 'held' AND t.status = 'paid' AND t.settle_at <= $1`, `t.settle_at`)
		if err != nil {
			return settled, fmt.Errorf("campaign: held commissions: %w", err)
		}
		n, err := s.eachOrder(ctx, "settle held commission", orders, func(ctx context.Context, o *Order) (bool, error) {
			wx, err := s.wechatFor(ctx, o.MerchantID)
			if err != nil {
				return false, err
			}
			if err := s.syncRefunds(ctx, wx, o); err != nil {
				return false, err
			}
			return s.settle(ctx, o.ID)
		})
		settled += n
		if err != nil {
			return settled, fmt.Errorf("campaign: settle held commissions: %w", err)
		}
		if n == 0 || len(orders) < merchant.JobBatch {
			return settled, nil
		}
	}
	return settled, nil
}

// settle moves what is left of an order's held commission to the sharer's claimable vault,
// if it is still held and due.
func (s *Service) settle(ctx context.Context, orderID int64) (bool, error) {
	done := false
	err := s.transact(ctx, func(tx *sqlx.Tx) error {
		var o Order
		err := sqlx.GetContext(ctx, tx, &o, `SELECT `+orderCols+` FROM orders
WHERE id = $1 AND commission_status = 'held' AND status = 'paid' AND settle_at <= $2 FOR UPDATE SKIP LOCKED`, orderID, s.now())
		if isNoRows(err) {
			return nil // refunded in full, settled by another replica, or being settled
		}
		if err != nil {
			return err
		}
		left := o.Commission.Div(decimalInt(o.Qty)).Mul(decimalInt(o.Qty - o.VoidedQty))
		if _, err := s.wallet.SettleCommission(ctx, tx, wallet.Earning{
			MerchantID: o.MerchantID, CampaignID: o.CampaignID, SharerID: *o.SharerID,
			Amount: left, Key: fmt.Sprintf("order:%d:settle", o.ID), Ref: o.OutTradeNo,
		}); err != nil {
			return err
		}
		if _, err = tx.ExecContext(ctx, `UPDATE orders SET commission_status = 'earned' WHERE id = $1`, o.ID); err != nil {
			return err
		}
		done = true
		return s.enqueueSettled(ctx, tx, &o, left)
	})
	return done, err
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
LIMIT $2`, s.now(), merchant.JobBatch); err != nil {
		return 0, fmt.Errorf("campaign: ended campaigns: %w", err)
	}
	released := 0
	var errs []error
	for _, r := range ids {
		err := s.transact(ctx, func(tx *sqlx.Tx) error {
			// Lock order: the reserve, then the campaign row (campaign/order.go).
			if err := wallet.LockReserve(ctx, tx, r.MerchantID, r.ID); err != nil {
				return err
			}
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
			errs = append(errs, fmt.Errorf("campaign: release %d: %w", r.ID, err))
			continue
		}
		s.log.Info("campaign ended, reserve released", "merchant_id", r.MerchantID, "campaign_id", r.ID)
		released++
	}
	return released, errors.Join(errs...)
}

var errSkip = errors.New("skip")
