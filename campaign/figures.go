package campaign

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"
)

// The results page's figures are kept as they change (migration 0020), in the transactions
// that change them, and checked against the orders by the audit ("campaign figures match
// orders", "sales buckets match orders", "buyers' paid orders counted"). A payment adds to
// them per campaign of a batch, one statement each:
//
//   - the buyers' slot rows count their paid orders (locked in buyer order, as reserveIn
//     takes them; the slot comes before the reserve in the lock order of order.go), and the
//     buyers paying for the first time make the campaign's new paid buyers;
//   - those buyers' bindings are marked bought, by a statement of its own after the slots:
//     a Bind of the same visitor either read the slot after this payment committed, or it
//     committed first and this later statement sees its binding;
//   - the campaign row's figures, with its counters (the last statement, as before);
//   - the quarter-hour sales buckets and the earning sharers' rows, after the campaign row
//     (every writer of both takes them in this order: a refund voiding a held commission locks
//     the campaign row first).

// paidOrder is one order of a campaign just paid, for the figures.
type paidOrder struct {
	buyer  int64
	qty    int
	amount decimal.Decimal
	paidAt time.Time
}

// countPaidBuyers adds the orders to their buyers' paid counts and marks the bindings of
// first-time buyers bought; it returns how many buyers paid for the first time.
func countPaidBuyers(ctx context.Context, tx *sqlx.Tx, campaignID, merchantID int64, orders []paidOrder) (int, error) {
	per := map[int64]int{}
	for _, o := range orders {
		per[o.buyer]++
	}
	buyers, counts := make([]int64, 0, len(per)), make([]int64, 0, len(per))
	for b, n := range per {
		buyers, counts = append(buyers, b), append(counts, int64(n))
	}
	var rows []struct {
		Buyer int64 `db:"buyer_id"`
		Paid  int   `db:"paid"`
	}
	// The slot exists (made when the order was); the upsert only orders the locks.
	if err := sqlx.SelectContext(ctx, tx, &rows, `
INSERT INTO campaign_buyers (campaign_id, buyer_id, merchant_id, orders, paid)
SELECT $1, b, $2, 0, n FROM unnest($3::bigint[], $4::int[]) AS t(b, n) ORDER BY b
ON CONFLICT (campaign_id, buyer_id) DO UPDATE SET paid = campaign_buyers.paid + EXCLUDED.paid
RETURNING buyer_id, paid`, campaignID, merchantID, pq.Array(buyers), pq.Array(counts)); err != nil {
		return 0, err
	}
	var first []int64
	for _, r := range rows {
		if r.Paid == per[r.Buyer] {
			first = append(first, r.Buyer)
		}
	}
	if len(first) == 0 {
		return 0, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE bindings SET bought = true WHERE campaign_id = $1 AND visitor_id = ANY($2) AND NOT bought`,
		campaignID, pq.Array(first)); err != nil {
		return 0, err
	}
	return len(first), nil
}

// paidTotals adds up the orders for the campaign row's figures.
func paidTotals(orders []paidOrder) (n int, amount decimal.Decimal) {
	for _, o := range orders {
		amount = amount.Add(o.amount)
	}
	return len(orders), amount
}

// addSales adds the orders to the campaign's quarter-hour sales buckets.
func addSales(ctx context.Context, tx *sqlx.Tx, campaignID, merchantID int64, orders []paidOrder) error {
	at, qty, amount := make([]string, len(orders)), make([]int64, len(orders)), make([]string, len(orders))
	for i, o := range orders {
		at[i], qty[i], amount[i] = o.paidAt.UTC().Format(time.RFC3339Nano), int64(o.qty), o.amount.String()
	}
	_, err := tx.ExecContext(ctx, `
INSERT INTO campaign_sales (campaign_id, at, merchant_id, orders, units, amount)
SELECT $1, date_bin('15 minutes', t, timestamptz '2000-01-01 00:00:00+00') AS at, $2, count(*), sum(q), sum(a)
FROM unnest($3::timestamptz[], $4::int[], $5::numeric[]) AS x(t, q, a)
GROUP BY 2 ORDER BY 2
ON CONFLICT (campaign_id, at) DO UPDATE SET orders = campaign_sales.orders + EXCLUDED.orders,
    units = campaign_sales.units + EXCLUDED.units, amount = campaign_sales.amount + EXCLUDED.amount`,
		campaignID, merchantID, pq.Array(at), pq.Array(qty), pq.Array(amount))
	return err
}

// maxGeneration is the deepest generation a binding records; deeper chains count there.
const maxGeneration = 100

// sharerCredit is one order's commission credited to its sharer, for the figures.
type sharerCredit struct {
	sharer int64
	qty    int
	amount decimal.Decimal
}

// addSharers adds credited orders to the campaign's earning sharers (in sharer order).
func addSharers(ctx context.Context, tx *sqlx.Tx, campaignID, merchantID int64, credits []sharerCredit) error {
	if len(credits) == 0 {
		return nil
	}
	sharer, qty, amount := make([]int64, len(credits)), make([]int64, len(credits)), make([]string, len(credits))
	for i, c := range credits {
		sharer[i], qty[i], amount[i] = c.sharer, int64(c.qty), c.amount.String()
	}
	_, err := tx.ExecContext(ctx, `
INSERT INTO campaign_sharers (campaign_id, sharer_id, merchant_id, orders, units, commission)
SELECT $1, s, $2, count(*), sum(q), sum(a) FROM unnest($3::bigint[], $4::int[], $5::numeric[]) AS x(s, q, a)
GROUP BY s ORDER BY s
ON CONFLICT (campaign_id, sharer_id) DO UPDATE SET orders = campaign_sharers.orders + EXCLUDED.orders,
    units = campaign_sharers.units + EXCLUDED.units, commission = campaign_sharers.commission + EXCLUDED.commission`,
		campaignID, merchantID, pq.Array(sharer), pq.Array(qty), pq.Array(amount))
	return err
}

// voidSharer takes a voided commission out of its sharer's figures, and the order too once
// its whole commission is voided.
func voidSharer(ctx context.Context, tx *sqlx.Tx, o *Order, amount decimal.Decimal, whole bool) error {
	orders, units := 0, 0
	if whole {
		orders, units = 1, o.Qty
	}
	_, err := tx.ExecContext(ctx, `UPDATE campaign_sharers SET commission = commission - $3, orders = orders - $4, units = units - $5
WHERE campaign_id = $1 AND sharer_id = $2`, o.CampaignID, *o.SharerID, amount, orders, units)
	return err
}
