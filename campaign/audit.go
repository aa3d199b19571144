package campaign

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jmoiron/sqlx"

	"fenxiao/wallet"
)

// auditChecks are the campaign invariants of DESIGN.md, run by "fenxiao audit" after the
// ledger's own.
var auditChecks = []wallet.Check{
	{Name: "reserve matches unearned stock", Query: `
SELECT ARRAY[c.id], format('campaign %s (%s) reserve holds %s, expected %s = commission %s × (stock %s − earned %s)',
    c.id, c.status, COALESCE(a.balance, 0), CASE WHEN c.status = 'published' THEN c.commission * (c.stock - c.earned) ELSE 0 END,
    c.commission, c.stock, c.earned)
FROM campaigns c
LEFT JOIN accounts a ON a.merchant_id = c.merchant_id AND a.kind = 'reserve' AND a.ref_id = c.id
WHERE COALESCE(a.balance, 0) <> CASE WHEN c.status = 'published' THEN c.commission * (c.stock - c.earned) ELSE 0 END
ORDER BY c.id`},
	{Name: "stock conserved", Query: `
SELECT ARRAY[c.id], format('campaign %s: stock %s (changes sum to %s), held %s (pending orders %s), sold %s (paid orders %s), earned %s (credited orders %s), buyers %s (rows %s)',
    c.id, c.stock, COALESCE(sc.total, 0), c.held, COALESCE(o.pending, 0), c.sold, COALESCE(o.sold, 0), c.earned, COALESCE(o.earned, 0), c.buyers, COALESCE(b.n, 0))
FROM campaigns c
LEFT JOIN (SELECT campaign_id, sum(delta) AS total FROM stock_changes GROUP BY campaign_id) sc ON sc.campaign_id = c.id
LEFT JOIN (SELECT campaign_id,
                  sum(qty) FILTER (WHERE status = 'pending') AS pending,
                  sum(qty) FILTER (WHERE status IN ('paid', 'refunded')) AS sold,
                  sum(qty - voided_qty) FILTER (WHERE commission_status IN ('earned', 'held', 'voided')) AS earned
           FROM orders GROUP BY campaign_id) o ON o.campaign_id = c.id
LEFT JOIN (SELECT campaign_id, count(*) FILTER (WHERE orders > 0) AS n FROM campaign_buyers GROUP BY campaign_id) b ON b.campaign_id = c.id
WHERE c.stock <> COALESCE(sc.total, 0) OR c.held <> COALESCE(o.pending, 0) OR c.sold <> COALESCE(o.sold, 0)
   OR c.earned <> COALESCE(o.earned, 0) OR c.buyers <> COALESCE(b.n, 0)
ORDER BY c.id`},
	// The results page's figures (figures.go), kept as orders change, against the orders.
	{Name: "campaign figures match orders", Query: `
SELECT ARRAY[c.id], format('campaign %s: paid orders %s (orders %s), paid %s (%s), refunded %s (%s) in %s orders (%s), paid buyers %s (orders %s, slots %s)',
    c.id, c.paid_orders, COALESCE(o.n, 0), c.paid_amount, COALESCE(o.amount, 0), c.refunded_amount, COALESCE(o.refunded, 0),
    c.refunded_orders, COALESCE(o.refunds, 0), c.paid_buyers, COALESCE(o.buyers, 0), COALESCE(b.n, 0))
FROM campaigns c
LEFT JOIN (SELECT campaign_id, count(*) AS n, sum(amount) AS amount, sum(refunded) AS refunded,
                  count(*) FILTER (WHERE refunded > 0) AS refunds, count(DISTINCT buyer_id) AS buyers
           FROM orders WHERE status IN ('paid', 'refunded') GROUP BY campaign_id) o ON o.campaign_id = c.id
LEFT JOIN (SELECT campaign_id, count(*) AS n FROM campaign_buyers WHERE paid > 0 GROUP BY campaign_id) b ON b.campaign_id = c.id
WHERE c.paid_orders <> COALESCE(o.n, 0) OR c.paid_amount <> COALESCE(o.amount, 0) OR c.refunded_amount <> COALESCE(o.refunded, 0)
   OR c.refunded_orders <> COALESCE(o.refunds, 0) OR c.paid_buyers <> COALESCE(o.buyers, 0) OR c.paid_buyers <> COALESCE(b.n, 0)
ORDER BY c.id`},
	{Name: "sales buckets match orders", Query: `
SELECT ARRAY[COALESCE(s.campaign_id, o.campaign_id)], format('campaign %s, quarter from %s: bucket counts %s orders, %s units, %s; the orders paid then are %s, %s units, %s',
    COALESCE(s.campaign_id, o.campaign_id), COALESCE(s.at, o.at), COALESCE(s.orders, 0), COALESCE(s.units, 0), COALESCE(s.amount, 0),
    COALESCE(o.n, 0), COALESCE(o.units, 0), COALESCE(o.amount, 0))
FROM campaign_sales s
FULL JOIN (SELECT campaign_id, date_bin('15 minutes', paid_at, timestamptz '2000-01-01 00:00:00+00') AS at,
                  count(*) AS n, sum(qty) AS units, sum(amount) AS amount
           FROM orders WHERE status IN ('paid', 'refunded') GROUP BY 1, 2) o ON o.campaign_id = s.campaign_id AND o.at = s.at
WHERE COALESCE(s.orders, 0) <> COALESCE(o.n, 0) OR COALESCE(s.units, 0) <> COALESCE(o.units, 0) OR COALESCE(s.amount, 0) <> COALESCE(o.amount, 0)
ORDER BY 1`},
	{Name: "earning sharers match orders", Query: `
SELECT ARRAY[COALESCE(s.sharer_id, o.sharer_id), COALESCE(s.campaign_id, o.campaign_id)],
       format('sharer %s of campaign %s: figures count %s orders, %s units, commission %s; the credited orders are %s, %s units, %s',
           COALESCE(s.sharer_id, o.sharer_id), COALESCE(s.campaign_id, o.campaign_id), COALESCE(s.orders, 0), COALESCE(s.units, 0),
           COALESCE(s.commission, 0), COALESCE(o.n, 0), COALESCE(o.units, 0), COALESCE(o.commission, 0))
FROM campaign_sharers s
FULL JOIN (SELECT campaign_id, sharer_id, count(*) AS n, sum(qty) AS units, sum(commission / qty * (qty - voided_qty)) AS commission
           FROM orders WHERE commission_status IN ('earned', 'held') GROUP BY campaign_id, sharer_id) o
       ON o.campaign_id = s.campaign_id AND o.sharer_id = s.sharer_id
WHERE COALESCE(s.orders, 0) <> COALESCE(o.n, 0) OR COALESCE(s.units, 0) <> COALESCE(o.units, 0)
   OR COALESCE(s.commission, 0) <> COALESCE(o.commission, 0)
ORDER BY 1`},
	{Name: "buyers' paid orders counted", Query: `
SELECT ARRAY[COALESCE(b.buyer_id, o.buyer_id), COALESCE(b.campaign_id, o.campaign_id)],
       format('buyer %s of campaign %s: slot counts %s paid orders, there are %s; bound %s as %s',
           COALESCE(b.buyer_id, o.buyer_id), COALESCE(b.campaign_id, o.campaign_id), COALESCE(b.paid, 0), COALESCE(o.n, 0),
           bi.visitor_id IS NOT NULL, CASE WHEN bi.bought THEN 'a buyer' ELSE 'no buyer' END)
FROM campaign_buyers b
FULL JOIN (SELECT campaign_id, buyer_id, count(*) AS n FROM orders WHERE status IN ('paid', 'refunded') GROUP BY campaign_id, buyer_id) o
       ON o.campaign_id = b.campaign_id AND o.buyer_id = b.buyer_id
LEFT JOIN bindings bi ON bi.campaign_id = COALESCE(b.campaign_id, o.campaign_id) AND bi.visitor_id = COALESCE(b.buyer_id, o.buyer_id)
WHERE COALESCE(b.paid, 0) <> COALESCE(o.n, 0) OR bi.bought <> (COALESCE(o.n, 0) > 0)
UNION ALL
SELECT ARRAY[bi.visitor_id, bi.campaign_id], format('visitor %s of campaign %s is bound as a buyer and has no slot', bi.visitor_id, bi.campaign_id)
FROM bindings bi
WHERE bi.bought AND NOT EXISTS (SELECT 1 FROM campaign_buyers b WHERE b.campaign_id = bi.campaign_id AND b.buyer_id = bi.visitor_id)
ORDER BY 1`},
	{Name: "commission credited exactly once", Query: `
SELECT ARRAY[o.id] || array_agg(t.id) FILTER (WHERE t.id IS NOT NULL),
       format('order %s (%s, commission %s %s) has %s commission transfers totalling %s',
           o.id, o.status, o.commission_status, o.commission, count(t.id), COALESCE(sum(t.amount), 0))
FROM orders o
LEFT JOIN transfers t ON t.merchant_id = o.merchant_id AND t.idem_key = 'order:' || o.id || ':commission'
GROUP BY o.id
HAVING count(t.id) <> CASE WHEN o.commission_status = 'none' THEN 0 ELSE 1 END
    OR COALESCE(sum(t.amount), 0) <> o.commission
    OR (o.commission_status <> 'none' AND o.status NOT IN ('paid', 'refunded'))
ORDER BY o.id`},
	{Name: "paid order has its commission or a reason", Query: `
SELECT ARRAY[o.id], format('order %s (%s) has commission %s %s and no-commission reason %L',
    o.id, o.status, o.commission_status, o.commission, o.no_commission)
FROM orders o
WHERE (o.status IN ('paid', 'refunded') AND o.commission_status = 'none' AND o.no_commission = '')
   OR (o.status IN ('paid', 'refunded') AND o.commission_status <> 'none' AND (o.sharer_id IS NULL OR o.commission <= 0))
   OR (o.status IN ('paid', 'refunded', 'oversold')) <> (o.transaction_id IS NOT NULL AND o.paid_at IS NOT NULL)
ORDER BY o.id`},
	{Name: "held commissions equal pending vaults", Query: `
SELECT ARRAY[a.id], format('pending vault %s of sharer %s holds %s; the held commissions of their orders add up to %s',
    a.id, a.ref_id, a.balance, COALESCE(h.held, 0))
FROM accounts a
LEFT JOIN (SELECT merchant_id, sharer_id, sum(commission / qty * (qty - voided_qty)) AS held
           FROM orders WHERE commission_status = 'held' GROUP BY merchant_id, sharer_id) h
       ON h.merchant_id = a.merchant_id AND h.sharer_id = a.ref_id
WHERE a.kind = 'vault_pending' AND a.balance <> COALESCE(h.held, 0)
UNION ALL
SELECT ARRAY[o.id], format('order %s holds a commission of %s for sharer %s, who has no pending vault', o.id, o.commission, o.sharer_id)
FROM orders o
WHERE o.commission_status = 'held'
  AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.merchant_id = o.merchant_id AND a.kind = 'vault_pending' AND a.ref_id = o.sharer_id)
ORDER BY 1`},
	{Name: "settled commission has its settle transfer", Query: `
SELECT ARRAY[o.id] || array_agg(t.id) FILTER (WHERE t.id IS NOT NULL),
       format('order %s (commission %s held until %s) has %s settle transfers totalling %s, expected %s',
           o.id, o.commission_status, o.settle_at, count(t.id), COALESCE(sum(t.amount), 0), o.commission / o.qty * (o.qty - o.voided_qty))
FROM orders o
LEFT JOIN transfers t ON t.merchant_id = o.merchant_id AND t.idem_key = 'order:' || o.id || ':settle'
WHERE o.settle_at IS NOT NULL
GROUP BY o.id
HAVING count(t.id) <> (o.commission_status = 'earned')::int
    OR (o.commission_status = 'earned' AND COALESCE(sum(t.amount), 0) <> o.commission / o.qty * (o.qty - o.voided_qty))
ORDER BY o.id`},
	{Name: "paid top-up credited once", Query: `
SELECT ARRAY[t.id] || array_agg(x.id) FILTER (WHERE x.id IS NOT NULL),
       format('top-up %s (%s, %s, transaction %s) has %s top-up transfers totalling %s',
           t.id, t.status, t.amount, COALESCE(t.transaction_id, 'none'), count(x.id), COALESCE(sum(x.amount), 0))
FROM topups t
LEFT JOIN transfers x ON x.merchant_id = t.merchant_id AND x.idem_key = 'topup:' || t.out_trade_no
GROUP BY t.id
HAVING count(x.id) <> (t.status = 'paid')::int
    OR (t.status = 'paid' AND sum(x.amount) <> t.amount)
    OR (t.status = 'paid') <> (t.transaction_id IS NOT NULL)
ORDER BY t.id`},
	{Name: "reserve belongs to a campaign", Query: `
SELECT ARRAY[a.id], format('reserve account %s of merchant %s names campaign %s, which is not one of the merchant''s', a.id, a.merchant_id, a.ref_id)
FROM accounts a
WHERE a.kind = 'reserve' AND NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.id = a.ref_id AND c.merchant_id = a.merchant_id)
ORDER BY a.id`},
	{Name: "buyer slots match orders", Query: `
SELECT ARRAY[COALESCE(b.campaign_id, o.campaign_id), COALESCE(b.buyer_id, o.buyer_id)],
       format('buyer %s of campaign %s: slot counts %s orders, %s are neither closed nor oversold',
           COALESCE(b.buyer_id, o.buyer_id), COALESCE(b.campaign_id, o.campaign_id), COALESCE(b.orders, 0), COALESCE(o.n, 0))
FROM campaign_buyers b
FULL JOIN (SELECT campaign_id, buyer_id, count(*) AS n FROM orders WHERE status NOT IN ('closed', 'oversold') GROUP BY campaign_id, buyer_id) o
       ON o.campaign_id = b.campaign_id AND o.buyer_id = b.buyer_id
WHERE COALESCE(b.orders, 0) <> COALESCE(o.n, 0)
ORDER BY 1`},
	{Name: "refunds add up", Query: `
SELECT ARRAY[o.id], format('order %s (%s, %s × %s) records %s refunded, its refunds add up to %s, %s units'' commission voided',
    o.id, o.status, o.qty, round(o.amount / o.qty, 2), o.refunded, COALESCE(r.total, 0), o.voided_qty)
FROM orders o
LEFT JOIN (SELECT order_id, sum(amount) AS total FROM order_refunds GROUP BY order_id) r ON r.order_id = o.id
WHERE o.refunded <> COALESCE(r.total, 0)
   OR (o.status = 'refunded') <> (o.refunded = o.amount AND o.status IN ('paid', 'refunded'))
   OR (o.status = 'oversold' AND (o.refunded_at IS NOT NULL) <> (o.refunded = o.amount))
   OR (o.refunded > 0 AND o.status NOT IN ('paid', 'refunded', 'oversold'))
   OR o.voided_qty > floor(o.refunded / (o.amount / o.qty))
ORDER BY o.id`},
}

// Audit checks the campaign invariants and returns the violations found.
func Audit(ctx context.Context, q sqlx.QueryerContext) ([]wallet.Violation, error) {
	return wallet.RunChecks(ctx, q, auditChecks)
}

// Checks are the campaign invariants, for an Auditor.
func Checks() []wallet.Check { return auditChecks }

// AuditAll checks every invariant of the ledger, the payouts and the campaigns in one
// snapshot, so a busy server cannot make a consistent ledger look broken, and hands each
// violation to emit as it is found (see wallet.StreamChecks): "fenxiao audit" holds one row
// at a time, however large the database or broken the data.
func AuditAll(ctx context.Context, db *sqlx.DB, emit func(wallet.Violation) error) error {
	tx, err := db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("campaign: audit: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck
	return wallet.StreamChecks(ctx, tx, append(wallet.Checks(), auditChecks...), emit)
}
