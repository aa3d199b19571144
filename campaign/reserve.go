package campaign

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"

	"fenxiao/wallet"
)

// Group commit for reservations (batch.go): the orders of one campaign arriving within the
// window are reserved by one transaction, one lock of the campaign row, one multi-row INSERT
// of the orders and one UPDATE of the counters. The batch decides on the campaign row it has
// locked, so batches of several replicas (or a batch and a close, a payment, a stock change)
// never oversell.

// reservation is one buyer's order attempt, waiting for its batch.
type reservation struct {
	campaign   *Campaign // as the request read it: which campaign; what decides is read on its locked row
	buyer      *User
	qty        int
	clientIP   string
	outTradeNo string
	fulfilment Fulfilment    // the mode the buyer's page offered: the batch checks it still is
	contact    *Contact      // nil: the campaign asks nothing and the buyer wrote no remark
	done       chan reserved // buffered: the batch never waits for a caller that gave up
}

type reserved struct {
	order *Order
	err   error // a *liveOrderError, a refusal (sold out, buyer limit, not open) or a failure
}

// reserve queues r for campaign c and waits for its batch.
func (s *Service) reserve(ctx context.Context, c *Campaign, r *reservation) (*Order, error) {
	r.campaign, r.done = c, make(chan reserved, 1)
	s.reservations.add(c.ID, r)
	select {
	case res := <-r.done:
		return res.order, res.err
	case <-ctx.Done():
		// The batch may still make the order: like a process that dies after its commit, the
		// jobs close it, WeChat never having seen it.
		return nil, ctx.Err()
	}
}

// takeBatch takes up to maxBatch reservations, one per buyer (a buyer's second attempt waits
// for the next batch, where it finds the first one's order).
func takeBatch(waiting []*reservation) (batch, rest []*reservation) {
	seen := map[int64]bool{}
	for _, r := range waiting {
		if len(batch) < maxBatch && !seen[r.buyer.ID] {
			seen[r.buyer.ID] = true
			batch = append(batch, r)
			continue
		}
		rest = append(rest, r)
	}
	return batch, rest
}

// reserveBatch reserves a batch in one transaction and tells each reservation its outcome.
// Locks, as in a single order (campaign/order.go): the buyers' slot rows (in buyer-id order,
// so two batches never wait for each other's), then the campaign row, last.
func (s *Service) reserveBatch(db conn, batch []*reservation) {
	c := batch[0].campaign
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	slices.SortFunc(batch, func(a, b *reservation) int { return int(a.buyer.ID - b.buyer.ID) })
	results := make([]reserved, len(batch))
	err := wallet.Transact(ctx, db, func(tx *sqlx.Tx) error {
		for i := range results {
			results[i] = reserved{}
		}
		return s.reserveIn(ctx, tx, c, batch, results)
	})
	for i, r := range batch {
		res := results[i]
		if err != nil {
			res = reserved{err: fmt.Errorf("campaign: order in %d: %w", c.ID, err)}
		}
		r.done <- res
	}
}

func (s *Service) reserveIn(ctx context.Context, tx *sqlx.Tx, c *Campaign, batch []*reservation, results []reserved) error {
	now := s.now()
	buyers := make([]int64, len(batch))
	for i, r := range batch {
		buyers[i] = r.buyer.ID
	}
	// Each buyer's slot: locked, so a buyer's attempts on other replicas wait here, and only
	// one of them can find no live order and make one.
	var slots []struct {
		BuyerID int64 `db:"buyer_id"`
		Orders  int   `db:"orders"`
	}
	if err := sqlx.SelectContext(ctx, tx, &slots, `
INSERT INTO campaign_buyers (campaign_id, buyer_id, merchant_id, orders)
SELECT $1, b, $2, 1 FROM unnest($3::bigint[]) b ORDER BY b
ON CONFLICT (campaign_id, buyer_id) DO UPDATE SET orders = campaign_buyers.orders + 1
RETURNING buyer_id, orders`, c.ID, c.MerchantID, pq.Array(buyers)); err != nil {
		return err
	}
	first := map[int64]bool{}
	for _, sl := range slots {
		first[sl.BuyerID] = sl.Orders == 1
	}
	var live []Order
	if err := sqlx.SelectContext(ctx, tx, &live, `SELECT `+orderCols+` FROM orders
WHERE campaign_id = $1 AND buyer_id = ANY($2) AND status = 'pending' AND expires_at > $3 ORDER BY id`, c.ID, pq.Array(buyers), now); err != nil {
		return err
	}
	liveOf := map[int64]*Order{}
	for i := range live {
		if liveOf[live[i].BuyerID] == nil {
			liveOf[live[i].BuyerID] = &live[i]
		}
	}
	var row struct {
		Status      Status          `db:"status"`
		StartsAt    time.Time       `db:"starts_at"`
		EndsAt      time.Time       `db:"ends_at"`
		Left        int             `db:"left"`
		BuyerLimit  int             `db:"buyer_limit"`
		Buyers      int             `db:"buyers"`
		Price       decimal.Decimal `db:"price"`
		MaxPerOrder int             `db:"max_per_order"`
		Fulfilment  Fulfilment      `db:"fulfilment"`
	}
	// Price and per-order limit too: what the request read may be older than a change.
	if err := sqlx.GetContext(ctx, tx, &row, `SELECT status, starts_at, ends_at, stock - sold - held AS left, buyer_limit, buyers,
    price, max_per_order, fulfilment
FROM campaigns WHERE id = $1 FOR NO KEY UPDATE`, c.ID); err != nil {
		return err
	}
	open := row.Status == Published && !now.Before(row.StartsAt) && now.Before(row.EndsAt)
	var (
		giveBack          []int64 // slots taken for nothing: a live order, or refused
		granted           []int   // indexes into batch
		held, newBuyers   int
		gBuyer            []int64
		gNo, gIP, gAmount []string
		gQty              []int64
		gExpires          []time.Time
	)
	expires := now.Add(s.orderTimeout)
	for i, r := range batch {
		if o := liveOf[r.buyer.ID]; o != nil {
			results[i].err = &liveOrderError{order: o}
			giveBack = append(giveBack, r.buyer.ID)
			continue
		}
		nb := 0
		if first[r.buyer.ID] {
			nb = 1
		}
		switch {
		case !open:
			results[i].err = ErrNotOpen
		case r.fulfilment != row.Fulfilment:
			results[i].err = ErrSettingsChanged
		case r.qty > row.MaxPerOrder:
			results[i].err = invalid("qty", fmt.Sprintf("每单可购买 1 到 %d 件", row.MaxPerOrder))
		case row.Left < r.qty && row.Left > 0:
			results[i].err = fmt.Errorf("%w: 仅剩 %d 件", ErrSoldOut, row.Left)
		case row.Left < r.qty:
			results[i].err = ErrSoldOut
		case nb == 1 && row.BuyerLimit > 0 && row.Buyers >= row.BuyerLimit:
			results[i].err = ErrBuyerLimit
		}
		if results[i].err != nil {
			giveBack = append(giveBack, r.buyer.ID)
			continue
		}
		row.Left -= r.qty
		row.Buyers += nb
		held += r.qty
		newBuyers += nb
		granted = append(granted, i)
		gBuyer = append(gBuyer, r.buyer.ID)
		gNo = append(gNo, r.outTradeNo)
		gQty = append(gQty, int64(r.qty))
		gAmount = append(gAmount, row.Price.Mul(decimalInt(r.qty)).StringFixed(2))
		gIP = append(gIP, r.clientIP)
		gExpires = append(gExpires, expires)
	}
	if len(granted) > 0 {
		// Each order names the sharer its buyer is bound to now (orders.sharer_id).
		var made []Order
		if err := sqlx.SelectContext(ctx, tx, &made, `
INSERT INTO orders (merchant_id, campaign_id, buyer_id, sharer_id, out_trade_no, qty, amount, client_ip, created_at, expires_at)
SELECT $1, $2, r.buyer, (SELECT sharer_id FROM bindings WHERE campaign_id = $2 AND visitor_id = r.buyer), r.no, r.qty, r.amount, r.ip, $3, r.expires
FROM unnest($4::bigint[], $5::text[], $6::int[], $7::numeric[], $8::text[], $9::timestamptz[]) AS r(buyer, no, qty, amount, ip, expires)
RETURNING `+orderCols, c.MerchantID, c.ID, now, pq.Array(gBuyer), pq.Array(gNo), pq.Array(gQty), pq.Array(gAmount), pq.Array(gIP),
			pq.Array(timestamps(gExpires))); err != nil {
			return err
		}
		byNo := map[string]*Order{}
		for i := range made {
			byNo[made[i].OutTradeNo] = &made[i]
		}
		for _, i := range granted {
			results[i].order = byNo[batch[i].outTradeNo]
		}
		if err := insertContacts(ctx, tx, c.MerchantID, batch, granted, results); err != nil {
			return err
		}
	}
	if len(giveBack) > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE campaign_buyers SET orders = orders - 1 WHERE campaign_id = $1 AND buyer_id = ANY($2)`,
			c.ID, pq.Array(giveBack)); err != nil {
			return err
		}
	}
	if held > 0 {
		// The last statement: the counters of the whole batch, on the row locked above.
		if _, err := tx.ExecContext(ctx, `UPDATE campaigns SET held = held + $2, buyers = buyers + $3 WHERE id = $1`, c.ID, held, newBuyers); err != nil {
			return err
		}
	}
	return nil
}

// timestamps formats times for a timestamptz[] parameter.
func timestamps(ts []time.Time) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.UTC().Format(time.RFC3339Nano)
	}
	return out
}

// insertContacts records what the granted buyers gave at checkout, in one statement.
func insertContacts(ctx context.Context, tx *sqlx.Tx, merchantID int64, batch []*reservation, granted []int, results []reserved) error {
	var orders, buyers []int64
	var name, mobile, province, city, district, detail, remark []string
	for _, i := range granted {
		ct := batch[i].contact
		if ct == nil {
			continue
		}
		orders, buyers = append(orders, results[i].order.ID), append(buyers, batch[i].buyer.ID)
		name, mobile, remark = append(name, ct.Name), append(mobile, ct.Mobile), append(remark, ct.Remark)
		province, city = append(province, ct.Province), append(city, ct.City)
		district, detail = append(district, ct.District), append(detail, ct.Detail)
	}
	if len(orders) == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `
INSERT INTO order_contacts (order_id, merchant_id, buyer_id, name, mobile, province, city, district, detail, remark)
SELECT o, $1, b, n, m, p, c, d, a, r
FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
    AS x(o, b, n, m, p, c, d, a, r)`, merchantID, pq.Array(orders), pq.Array(buyers), pq.Array(name), pq.Array(mobile),
		pq.Array(province), pq.Array(city), pq.Array(district), pq.Array(detail), pq.Array(remark))
	return err
}
