package campaign

import (
	"context"
	"fmt"
	"time"
)

// Internals the external tests drive directly, as the jobs and handlers do.

// MarkPaid records a payment as a notification or a query would.
func (s *Service) MarkPaid(ctx context.Context, merchantID int64, outTradeNo, transactionID string, paidFen int64, paidAt time.Time) (bool, error) {
	return s.markPaid(ctx, merchantID, outTradeNo, transactionID, paidFen, paidAt)
}

// CloseOrder closes a pending order as the expiry job does once WeChat agrees.
func (s *Service) CloseOrder(ctx context.Context, o *Order) (bool, error) {
	return s.closeOrder(ctx, o, "test")
}

// ReserveOrder is CreateOrder in a process that dies after its commit, before asking WeChat.
func (s *Service) ReserveOrder(ctx context.Context, campaignID int64, buyer *User, qty int) (*Order, error) {
	c, err := s.Public(ctx, campaignID)
	if err != nil {
		return nil, err
	}
	_, o, err := s.reserveOrder(ctx, c, buyer, OrderForm{Qty: qty}, "127.0.0.1")
	if live, ok := err.(*liveOrderError); ok {
		return live.order, nil
	}
	return o, err
}

// RefundNo is the out_refund_no of an order's refund after n others.
var RefundNo = refundNo

// Payment is one reported payment for PayTogether.
type Payment struct {
	MerchantID    int64
	OutTradeNo    string
	TransactionID string
	Fen           int64
}

// PayResult is what PayTogether tells one payment.
type PayResult struct {
	Recorded bool
	Err      error
}

// PayTogether records payments as one batch, in the order given, as the group commit does
// with what arrives within its window.
func (s *Service) PayTogether(ps []Payment) []PayResult {
	batch := make([]*payment, len(ps))
	for i, p := range ps {
		batch[i] = &payment{merchantID: p.MerchantID, outTradeNo: p.OutTradeNo, transactionID: p.TransactionID, fen: p.Fen,
			paidAt: s.now(), done: make(chan paid, 1)}
	}
	s.payBatch(s.db, batch)
	out := make([]PayResult, len(ps))
	for i, p := range batch {
		r := <-p.done
		out[i] = PayResult{Recorded: r.recorded, Err: r.err}
	}
	return out
}

// OrderListSQL is the statement of the console's order list for filter f, without its page.
func OrderListSQL(merchantID int64, f OrderFilter) (string, []any) {
	return orderQuery(merchantID, f, people{})
}

// OrdersPlan is EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) of the statement Orders runs for f,
// after its user search.
func (s *Service) OrdersPlan(ctx context.Context, merchantID int64, f OrderFilter) (string, error) {
	found, err := s.searchPeople(ctx, merchantID, f)
	if err != nil {
		return "", err
	}
	q, args := orderQuery(merchantID, f, found)
	var plan string
	err = s.db.GetContext(ctx, &plan, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "+q+fmt.Sprintf(" ORDER BY o.id DESC LIMIT $%d", len(args)+1), append(args, 51)...)
	return plan, err
}

// FollowerSQL is the prepared query of every follower's page.
const FollowerSQL = followerSQL
