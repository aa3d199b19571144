package campaign

import (
	"context"

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
                  sum(qty) FILTER (WHERE commission_status IN ('earned', 'held')) AS earned
           FROM orders GROUP BY campaign_id) o ON o.campaign_id = c.id
LEFT JOIN (SELECT campaign_id, count(*) FILTER (WHERE orders > 0) AS n FROM campaign_buyers GROUP BY campaign_id) b ON b.campaign_id = c.id
WHERE c.stock <> COALESCE(sc.total, 0) OR c.held <> COALESCE(o.pending, 0) OR c.sold <> COALESCE(o.sold, 0)
   OR c.earned <> COALESCE(o.earned, 0) OR c.buyers <> COALESCE(b.n, 0)
ORDER BY c.id`},
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
}

// Audit checks the campaign invariants and returns the violations found.
func Audit(ctx context.Context, q sqlx.QueryerContext) ([]wallet.Violation, error) {
	return wallet.RunChecks(ctx, q, auditChecks)
}
