package campaign

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"fenxiao/wallet"
	"fenxiao/wechat"
)

// Group commit for payments (batch.go). The payments WeChat reports for one merchant within
// the window are recorded by one transaction: the orders locked by one statement (in id
// order), the sharers read by one query, the orders updated by one statement, every
// commission moved through the ledger at once (wallet.EarnCommissions: the reserve and each
// vault locked and updated once) and each campaign's counters updated once, last. The locks
// follow the order of campaign/order.go: orders, reserve, other accounts, campaign rows.
//
// What a batch does not do itself runs alone (markPaidAlone) after its commit: a payment of
// an order closed meanwhile (it takes stock again, on the locked campaign row), and every
// payment of a batch that failed as a whole (a transaction id already used by another order,
// a reserve short of a commission), so one bad payment never holds up the others.

// payment is one payment WeChat reported, waiting for its batch.
type payment struct {
	merchantID    int64
	outTradeNo    string
	transactionID string
	fen           int64
	paidAt        time.Time
	done          chan paid // buffered: the batch never waits for a caller that gave up
}

type paid struct {
	recorded bool // false for a duplicate
	err      error
}

// markPaid records a payment WeChat reports (notification or query) and, in the same
// transaction, credits the order's sharer; recorded is false for a duplicate. It waits for the
// batch of the merchant's payments it joins.
func (s *Service) markPaid(ctx context.Context, merchantID int64, outTradeNo, transactionID string, paidFen int64, paidAt time.Time) (recorded bool, err error) {
	if paidAt.IsZero() {
		paidAt = s.now()
	}
	p := &payment{merchantID: merchantID, outTradeNo: outTradeNo, transactionID: transactionID, fen: paidFen, paidAt: paidAt,
		done: make(chan paid, 1)}
	s.payments.add(merchantID, p)
	select {
	case res := <-p.done:
		return res.recorded, res.err
	case <-ctx.Done():
		// The batch may still record it; WeChat repeats an unanswered notification, which is
		// then a duplicate.
		return false, ctx.Err()
	}
}

// payBatch records a batch of one merchant's payments and tells each its outcome.
func (s *Service) payBatch(db conn, batch []*payment) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	results := make([]paid, len(batch))
	var alone []int // indexes of payments to record one by one after the batch
	err := wallet.Transact(ctx, db, func(tx *sqlx.Tx) error {
		clear(results)
		var err error
		alone, err = s.payIn(ctx, tx, batch, results)
		return err
	})
	if err != nil {
		s.log.Warn("payment batch failed: recording its payments one by one", "merchant_id", batch[0].merchantID,
			"payments", len(batch), "err", err)
		alone = alone[:0]
		for i := range batch {
			alone = append(alone, i)
		}
	}
	for _, i := range alone {
		p := batch[i]
		results[i].recorded, results[i].err = s.markPaidAlone(ctx, p.merchantID, p.outTradeNo, p.transactionID, p.fen, p.paidAt)
	}
	for i, p := range batch {
		p.done <- results[i]
	}
}

// payIn records in tx the payments of batch it can; it returns the ones to record alone.
func (s *Service) payIn(ctx context.Context, tx *sqlx.Tx, batch []*payment, results []paid) (alone []int, err error) {
	merchantID := batch[0].merchantID
	nos := make([]string, len(batch))
	for i, p := range batch {
		nos[i] = p.outTradeNo
	}
	var orders []Order
	if err := sqlx.SelectContext(ctx, tx, &orders, `SELECT `+orderCols+` FROM orders
WHERE merchant_id = $1 AND out_trade_no = ANY($2) ORDER BY id FOR UPDATE`, merchantID, pq.Array(nos)); err != nil {
		return nil, err
	}
	byNo := map[string]*Order{}
	for i := range orders {
		byNo[orders[i].OutTradeNo] = &orders[i]
	}
	// What each payment is, in arrival order; a second report of one order in the same batch
	// is a duplicate of the first.
	byCampaign := map[int64][]int{}
	for i, p := range batch {
		o := byNo[p.outTradeNo]
		late, dup, err := checkPayment(o, p.outTradeNo, p.fen)
		switch {
		case err != nil:
			results[i].err = err
		case late:
			alone = append(alone, i)
		case !dup:
			byCampaign[o.CampaignID] = append(byCampaign[o.CampaignID], i)
			o.Status = Paid
		}
	}
	campaigns := make([]int64, 0, len(byCampaign))
	for id := range byCampaign {
		campaigns = append(campaigns, id)
	}
	slices.Sort(campaigns)
	var (
		upd     orderUpdates
		notes   []wallet.Notification
		earns   []wallet.Earning
		counted []campaignCount
	)
	for _, id := range campaigns {
		c, err := getCampaign(ctx, tx, merchantID, id, false) // not locked: see markPaidAlone
		if err != nil {
			return nil, err
		}
		idx := byCampaign[id]
		ps := make([]paying, len(idx))
		for k, i := range idx {
			ps[k] = paying{order: byNo[batch[i].outTradeNo], paidAt: batch[i].paidAt}
		}
		credits, err := s.attributeAll(ctx, tx, c, ps)
		if err != nil {
			return nil, err
		}
		n := campaignCount{id: id, merchantID: merchantID}
		for k, i := range idx {
			o, cr := ps[k].order, credits[k]
			n.paid = append(n.paid, paidOrder{buyer: o.BuyerID, qty: o.Qty, amount: o.Amount, paidAt: batch[i].paidAt})
			start, err := startFulfilment(c, batch[i].paidAt)
			if err != nil {
				return nil, err
			}
			upd.add(o.ID, batch[i].transactionID, batch[i].paidAt, cr, start)
			n.units += o.Qty
			notes = append(notes, s.paidNotes(c, o, cr, batch[i].paidAt)...)
			if cr.status != "none" {
				earns = append(earns, commissionEarning(c, o, cr))
				n.earned += o.Qty
				n.credits = append(n.credits, sharerCredit{sharer: *cr.sharerID, qty: o.Qty, amount: cr.amount})
			}
			results[i].recorded = true
		}
		counted = append(counted, n)
	}
	if len(counted) == 0 {
		return alone, nil
	}
	if err := upd.exec(ctx, tx); err != nil {
		return nil, err
	}
	for i := range counted { // the buyers' slots before the reserve (lock order, order.go)
		if counted[i].newBuyers, err = countPaidBuyers(ctx, tx, counted[i].id, merchantID, counted[i].paid); err != nil {
			return nil, err
		}
	}
	if err := wallet.EnqueueAll(ctx, tx, notes); err != nil {
		return nil, err
	}
	if len(earns) > 0 {
		if err := s.wallet.EarnCommissions(ctx, tx, earns); err != nil {
			return nil, err
		}
	}
	for _, n := range counted { // the campaign rows last, in id order, then their sales buckets (figures.go)
		orders, amount := paidTotals(n.paid)
		if _, err := tx.ExecContext(ctx, `UPDATE campaigns SET held = held - $2, sold = sold + $2, earned = earned + $3,
    paid_orders = paid_orders + $4, paid_amount = paid_amount + $5, paid_buyers = paid_buyers + $6 WHERE id = $1`,
			n.id, n.units, n.earned, orders, amount, n.newBuyers); err != nil {
			return nil, err
		}
	}
	for _, n := range counted {
		if err := addSales(ctx, tx, n.id, merchantID, n.paid); err != nil {
			return nil, err
		}
		if err := addSharers(ctx, tx, n.id, merchantID, n.credits); err != nil {
			return nil, err
		}
	}
	return alone, nil
}

// checkPayment decides what a reported payment of order o (nil: none found) is: refused (an
// unknown order, another amount), a duplicate (recorded before), late (the order was closed
// meanwhile) or, when none of these, a payment to record now.
func checkPayment(o *Order, outTradeNo string, paidFen int64) (late, duplicate bool, err error) {
	if o == nil {
		return false, false, fmt.Errorf("%w: no order %s", ErrNotFound, outTradeNo)
	}
	fen, err := wallet.ToFen(o.Amount)
	if err != nil {
		return false, false, err
	}
	if fen != paidFen {
		return false, false, fmt.Errorf("%w: order %s costs %d fen, notification says %d", wechat.ErrAmountMismatch, outTradeNo, fen, paidFen)
	}
	switch o.Status {
	case Paid, Refunded, Oversold:
		return false, true, nil
	case Closed:
		return true, false, nil
	}
	return false, false, nil
}

// campaignCount is what a batch adds to one campaign's counters: units paid (from held to
// sold) and units whose commission was earned.
type campaignCount struct {
	id, merchantID int64
	units, earned  int
	paid           []paidOrder // for the figures (figures.go)
	credits        []sharerCredit
	newBuyers      int
}

// orderUpdates are the paid orders of a batch, written by one statement.
type orderUpdates struct {
	id, sharer                  []any
	txn, status, reason, amount []string
	paidAt, settleAt, checkAt   []any
	fulfil, doneHow             []string
	doneAt, code                []any
}

func (u *orderUpdates) add(id int64, transactionID string, paidAt time.Time, cr credit, start fulfilStart) {
	u.fulfil, u.doneHow = append(u.fulfil, string(start.state)), append(u.doneHow, start.how)
	var doneAt, code any
	if start.doneAt != nil {
		doneAt = start.doneAt.UTC().Format(time.RFC3339Nano)
	}
	if start.code != nil {
		code = *start.code
	}
	u.doneAt, u.code = append(u.doneAt, doneAt), append(u.code, code)
	u.id = append(u.id, id)
	u.txn = append(u.txn, transactionID)
	u.paidAt = append(u.paidAt, paidAt.UTC().Format(time.RFC3339Nano))
	u.checkAt = append(u.checkAt, paidAt.Add(refundChecks[0]).UTC().Format(time.RFC3339Nano))
	u.status, u.reason, u.amount = append(u.status, cr.status), append(u.reason, cr.reason), append(u.amount, cr.amount.String())
	var sharer, settle any
	if cr.sharerID != nil {
		sharer = *cr.sharerID
	}
	if cr.settleAt != nil {
		settle = cr.settleAt.UTC().Format(time.RFC3339Nano)
	}
	u.sharer, u.settleAt = append(u.sharer, sharer), append(u.settleAt, settle)
}

func (u *orderUpdates) exec(ctx context.Context, tx *sqlx.Tx) error {
	_, err := tx.ExecContext(ctx, `
UPDATE orders o SET status = 'paid', transaction_id = p.txn, paid_at = p.paid_at, sharer_id = p.sharer, commission = p.amount,
    commission_status = p.status, no_commission = p.reason, settle_at = p.settle_at, paid_late = false, retry_at = NULL,
    last_error = '', refund_check_at = p.check_at, fulfil_state = p.fulfil, done_at = p.done_at, done_how = p.done_how,
    pickup_code = p.code
FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::bigint[], $5::numeric[], $6::text[], $7::text[], $8::timestamptz[],
        $9::timestamptz[], $10::text[], $11::timestamptz[], $12::text[], $13::text[])
    AS p(id, txn, paid_at, sharer, amount, status, reason, settle_at, check_at, fulfil, done_at, done_how, code)
WHERE o.id = p.id`, pq.Array(u.id), pq.Array(u.txn), pq.Array(u.paidAt), pq.Array(u.sharer), pq.Array(u.amount),
		pq.Array(u.status), pq.Array(u.reason), pq.Array(u.settleAt), pq.Array(u.checkAt), pq.Array(u.fulfil),
		pq.Array(u.doneAt), pq.Array(u.doneHow), pq.Array(u.code))
	return err
}
