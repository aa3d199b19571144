// Package seed fills a published campaign with paid orders, their buyers, sharers, bindings,
// shares, refunds and ledger entries, in bulk SQL, so the console's figures at 10k or 100k
// orders can be reproduced in seconds (fenxiao seed, and the benchmarks).
//
// What it writes is what the service would have written order by order: the stock comes in
// through a stock change frozen from the merchant's assets (key campaign:%d:stock:%d), each
// credited order has one commission transfer reserve → vault under the service's own key
// (order:%d:commission) with its two entries and their running balances, and the campaign's
// counters, buyer slots and account balances follow. Every invariant "fenxiao audit" checks
// holds afterwards, and the real service can keep selling on the campaign.
package seed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"fenxiao/campaign"
	"fenxiao/wallet"
)

// Spec says what to add to one campaign.
type Spec struct {
	MerchantID, CampaignID int64
	Orders                 int // paid orders to add, each by a new buyer
	Sharers                int // distinct sharers the attributed orders are spread over (0: Orders/20, at least 1)
	RefundEvery            int // every RefundEvery-th order is refunded in full from the console (0: none)
	TopUps                 int // paid WeChat Pay top-ups of the merchant's assets, lines of its statement
}

// Result is what Fill added.
type Result struct {
	Orders, Units, Commissions, Refunds, Users, TopUps int
}

// ErrSpec means the spec or the campaign does not allow seeding.
var ErrSpec = errors.New("seed: cannot seed")

// Every tenth order comes without a share link (no commission, reason no_sharer); the others
// are attributed to a sharer the buyer is bound to. Quantities cycle 1, 2, 3.
const unsharedEvery = 10

// Fill adds spec.Orders paid orders to the campaign in one transaction.
func Fill(ctx context.Context, db *sqlx.DB, spec Spec) (Result, error) {
	if spec.Orders <= 0 || spec.Orders > campaign.MaxStock/2 {
		return Result{}, fmt.Errorf("%w: orders must be between 1 and %d, not %d", ErrSpec, campaign.MaxStock/2, spec.Orders)
	}
	if spec.TopUps < 0 || spec.TopUps > 1_000_000 {
		return Result{}, fmt.Errorf("%w: top-ups must be between 0 and 1000000, not %d", ErrSpec, spec.TopUps)
	}
	if spec.Sharers <= 0 {
		spec.Sharers = max(spec.Orders/20, 1)
	}
	var res Result
	err := wallet.Transact(ctx, db, func(tx *sqlx.Tx) error {
		var r error
		res, r = fill(ctx, db, tx, spec)
		return r
	})
	if err != nil {
		return Result{}, fmt.Errorf("seed: campaign %d: %w", spec.CampaignID, err)
	}
	return res, nil
}

type campaignRow struct {
	Status     string          `db:"status"`
	Commission decimal.Decimal `db:"commission"`
	Price      decimal.Decimal `db:"price"`
	HoldDays   int             `db:"hold_days"`
	BuyerLimit int             `db:"buyer_limit"`
	Buyers     int             `db:"buyers"`
	Stock      int             `db:"stock"`
	StartsAt   time.Time       `db:"starts_at"`
	Released   bool            `db:"released"`
}

func fill(ctx context.Context, db *sqlx.DB, tx *sqlx.Tx, spec Spec) (Result, error) {
	m, id, n, sharers := spec.MerchantID, spec.CampaignID, spec.Orders, spec.Sharers
	var c campaignRow
	// The campaign row lock first, as every order and stock change takes it.
	if err := sqlx.GetContext(ctx, tx, &c, `SELECT status, commission, price, hold_days, buyer_limit, buyers, stock, starts_at, released_at IS NOT NULL AS released
FROM campaigns WHERE merchant_id = $1 AND id = $2 FOR NO KEY UPDATE`, m, id); err != nil {
		return Result{}, fmt.Errorf("read campaign: %w", err)
	}
	switch {
	case c.Status != "published" || c.Released:
		return Result{}, fmt.Errorf("%w: campaign is %s, only a published one can be seeded", ErrSpec, c.Status)
	case c.HoldDays != 0:
		return Result{}, fmt.Errorf("%w: campaign holds commissions %d days; seeding covers campaigns without a hold", ErrSpec, c.HoldDays)
	case c.BuyerLimit > 0 && c.Buyers+n > c.BuyerLimit:
		return Result{}, fmt.Errorf("%w: the buyer limit %d leaves room for %d buyers", ErrSpec, c.BuyerLimit, c.BuyerLimit-c.Buyers)
	}
	units := 0
	for g := 1; g <= n; g++ {
		units += 1 + g%3
	}
	if c.Stock+units > campaign.MaxStock {
		return Result{}, fmt.Errorf("%w: stock would exceed %d units", ErrSpec, campaign.MaxStock)
	}

	// Stock for the new orders, frozen from assets topped up for it, through the wallet itself.
	var change int64
	if err := sqlx.GetContext(ctx, tx, &change, `INSERT INTO stock_changes (merchant_id, campaign_id, delta) VALUES ($1, $2, $3) RETURNING id`, m, id, units); err != nil {
		return Result{}, err
	}
	w := wallet.NewService(db)
	freeze := c.Commission.Mul(decimal.NewFromInt(int64(units)))
	if _, err := w.TopUpAssets(ctx, tx, m, freeze, fmt.Sprintf("seed:campaign:%d:stock:%d", id, change), "seed"); err != nil {
		return Result{}, err
	}
	if _, err := w.FreezeReserve(ctx, tx, m, id, freeze, fmt.Sprintf("campaign:%d:stock:%d", id, change)); err != nil {
		return Result{}, err
	}

	prefix := fmt.Sprintf("seed-%d-%d-", id, change)
	steps := []struct {
		what string
		sql  string
		args []any
	}{
		{"users", `CREATE TEMP TABLE seed_users (n integer PRIMARY KEY, id bigint NOT NULL) ON COMMIT DROP`, nil},
		// 1..sharers are the sharers, sharers+g the buyer of order g.
		{"users", `
WITH u AS (
    INSERT INTO wechat_users (merchant_id, openid, nickname, subscribed, fan_checked_at)
    SELECT $1, $2::text || g, CASE WHEN g <= $3 THEN '分享者' ELSE '买家' END || g, true, now()
    FROM generate_series(1, $3::integer + $4::integer) g
    ORDER BY g
    RETURNING id, openid)
INSERT INTO seed_users SELECT substr(openid, length($2::text) + 1)::integer, id FROM u`, []any{m, prefix, sharers, n}},
		// Temporary tables are never analysed on their own: without statistics the planner
		// guesses a few rows and loops.
		{"users", `ANALYZE seed_users`, nil},
		{"orders", `CREATE TEMP TABLE seed_orders (id bigint PRIMARY KEY) ON COMMIT DROP`, nil},
		{"orders", `
WITH span AS (SELECT greatest($6::timestamptz, now() - interval '7 days') AS since, now() - interval '1 minute' AS until),
o AS (
    INSERT INTO orders (merchant_id, campaign_id, buyer_id, sharer_id, out_trade_no, qty, amount, status, transaction_id,
                        commission, commission_status, no_commission, client_ip, created_at, expires_at, paid_at, refunded, refunded_at)
    SELECT $1, $2::bigint, b.id, s.id, 'sd' || $2::bigint || 'x' || $7::bigint || 'n' || g, 1 + g % 3, $8::numeric * (1 + g % 3),
           CASE WHEN $9 > 0 AND g % $9 = 0 THEN 'refunded' ELSE 'paid' END, '4200sd' || $2::bigint || 'x' || $7::bigint || 'n' || g,
           CASE WHEN s.id IS NULL THEN 0 ELSE $10::numeric * (1 + g % 3) END,
           CASE WHEN s.id IS NULL THEN 'none' ELSE 'earned' END,
           CASE WHEN s.id IS NULL THEN 'no_sharer' ELSE '' END,
           '127.0.0.1', at, at + interval '15 minutes', at + interval '30 seconds',
           CASE WHEN $9 > 0 AND g % $9 = 0 THEN $8::numeric * (1 + g % 3) ELSE 0 END,
           CASE WHEN $9 > 0 AND g % $9 = 0 THEN at + interval '40 seconds' END
    FROM span, generate_series(1, $4) g
    CROSS JOIN LATERAL (SELECT span.since + (span.until - span.since) * g / ($4 + 1) AS at) t
    JOIN seed_users b ON b.n = $3 + g
    LEFT JOIN seed_users s ON g % $5 <> 0 AND s.n = 1 + g % $3
    ORDER BY g
    RETURNING id)
INSERT INTO seed_orders SELECT id FROM o`, []any{m, id, sharers, n, unsharedEvery, c.StartsAt, change, c.Price, spec.RefundEvery, c.Commission}},
		{"orders", `ANALYZE seed_orders`, nil},
		{"refunds", `
INSERT INTO order_refunds (merchant_id, order_id, out_refund_no, amount, source, at)
SELECT o.merchant_id, o.id, 'R' || o.out_trade_no, o.refunded, 'console', o.refunded_at
FROM orders o JOIN seed_orders s ON s.id = o.id WHERE o.refunded > 0`, nil},
		{"buyer slots", `
INSERT INTO campaign_buyers (campaign_id, buyer_id, merchant_id, orders, paid)
SELECT o.campaign_id, o.buyer_id, o.merchant_id, 1, 1 FROM orders o JOIN seed_orders s ON s.id = o.id`, nil},
		// The sharers are bound to nobody: their friends are generation 2, and all bought.
		{"bindings", `
INSERT INTO bindings (campaign_id, visitor_id, merchant_id, sharer_id, bound_at, gen, bought)
SELECT o.campaign_id, o.buyer_id, o.merchant_id, o.sharer_id, o.created_at - interval '1 minute', 2, true
FROM orders o JOIN seed_orders s ON s.id = o.id WHERE o.sharer_id IS NOT NULL`, nil},
		// Everyone opened the page: each buyer once before buying, each sharer once.
		{"visits", `
INSERT INTO visits (campaign_id, visitor_id, merchant_id, views, first_at, last_at)
SELECT $2, u.id, $1, 1, now() - interval '7 days', now() - interval '7 days' FROM seed_users u WHERE u.n <= $3
UNION ALL
SELECT o.campaign_id, o.buyer_id, o.merchant_id, 1, o.created_at - interval '2 minutes', o.created_at - interval '2 minutes'
FROM orders o JOIN seed_orders s ON s.id = o.id`, []any{m, id, sharers}},
		{"sales", `
INSERT INTO campaign_sales (campaign_id, at, merchant_id, orders, units, amount)
SELECT o.campaign_id, date_bin('15 minutes', o.paid_at, timestamptz '2000-01-01 00:00:00+00'), o.merchant_id, count(*), sum(o.qty), sum(o.amount)
FROM orders o JOIN seed_orders s ON s.id = o.id GROUP BY 1, 2, 3
ON CONFLICT (campaign_id, at) DO UPDATE SET orders = campaign_sales.orders + EXCLUDED.orders,
    units = campaign_sales.units + EXCLUDED.units, amount = campaign_sales.amount + EXCLUDED.amount`, nil},
		{"shares", `
INSERT INTO shares (merchant_id, campaign_id, sharer_id, channel, at)
SELECT $1, $2, u.id, CASE WHEN u.n % 2 = 0 THEN 'poster' ELSE 'link' END, now() - interval '7 days'
FROM seed_users u WHERE u.n <= $3`, []any{m, id, sharers}},
		{"sharers", `
INSERT INTO campaign_sharers (campaign_id, sharer_id, merchant_id, orders, units, commission)
SELECT o.campaign_id, o.sharer_id, o.merchant_id, count(*), sum(o.qty), sum(o.commission)
FROM orders o JOIN seed_orders s ON s.id = o.id WHERE o.commission_status = 'earned' GROUP BY 1, 2, 3
ON CONFLICT (campaign_id, sharer_id) DO UPDATE SET orders = campaign_sharers.orders + EXCLUDED.orders,
    units = campaign_sharers.units + EXCLUDED.units, commission = campaign_sharers.commission + EXCLUDED.commission`, nil},
		{"vaults", `
INSERT INTO accounts (merchant_id, kind, ref_id)
SELECT DISTINCT o.merchant_id, 'vault', o.sharer_id FROM orders o JOIN seed_orders s ON s.id = o.id WHERE o.commission_status = 'earned'
ON CONFLICT (merchant_id, kind, ref_id) DO NOTHING`, nil},
		// The accounts this fill moves, locked in id order as every movement locks them.
		{"lock accounts", `
SELECT 1 FROM accounts WHERE merchant_id = $1 AND ((kind = 'reserve' AND ref_id = $2) OR kind IN ('world', 'available')
    OR (kind = 'vault' AND ref_id IN (SELECT id FROM seed_users WHERE n <= $3)))
ORDER BY id FOR UPDATE`, []any{m, id, sharers}},
		{"transfers", `CREATE TEMP TABLE seed_transfers (id bigint PRIMARY KEY) ON COMMIT DROP`, nil},
		// Top-ups as the payment of each would have recorded them (key topup:<out_trade_no>),
		// one a minute over the past, before the commissions.
		{"top-ups", `
WITH p AS (
    INSERT INTO topups (merchant_id, out_trade_no, amount, status, transaction_id, created_at, expires_at, paid_at)
    SELECT $1, 'st' || $2::bigint || 'x' || $3::bigint || 'n' || g, 10 + g % 7, 'paid', '4200st' || $2::bigint || 'x' || $3::bigint || 'n' || g,
           now() - interval '1 minute' * ($4 - g + 10), now() - interval '1 minute' * ($4 - g + 10) + interval '2 hours',
           now() - interval '1 minute' * ($4 - g + 10) + interval '20 seconds'
    FROM generate_series(1, $4) g
    ORDER BY g
    RETURNING merchant_id, out_trade_no, amount, paid_at),
t AS (
    INSERT INTO transfers (merchant_id, kind, idem_key, from_account, to_account, amount, ref, created_at)
    SELECT p.merchant_id, 'topup', 'topup:' || p.out_trade_no, w.id, a.id, p.amount, p.out_trade_no, p.paid_at
    FROM p JOIN accounts w ON w.merchant_id = p.merchant_id AND w.kind = 'world'
    JOIN accounts a ON a.merchant_id = p.merchant_id AND a.kind = 'available'
    ORDER BY p.paid_at
    RETURNING id)
INSERT INTO seed_transfers SELECT id FROM t`, []any{m, id, change, spec.TopUps}},
		{"transfers", `
WITH t AS (
    INSERT INTO transfers (merchant_id, kind, idem_key, from_account, to_account, amount, campaign_id, ref, created_at)
    SELECT o.merchant_id, 'commission', 'order:' || o.id || ':commission', r.id, v.id, o.commission, o.campaign_id, o.out_trade_no, o.paid_at
    FROM orders o JOIN seed_orders s ON s.id = o.id
    JOIN accounts r ON r.merchant_id = o.merchant_id AND r.kind = 'reserve' AND r.ref_id = o.campaign_id
    JOIN accounts v ON v.merchant_id = o.merchant_id AND v.kind = 'vault' AND v.ref_id = o.sharer_id
    WHERE o.commission_status = 'earned'
    ORDER BY o.id
    RETURNING id)
INSERT INTO seed_transfers SELECT id FROM t`, nil},
		{"transfers", `ANALYZE seed_transfers`, nil},
		// Entries in transfer order, the debit before the credit, each with the running balance
		// of its account (entry ids follow the sort: PostgreSQL evaluates the id's nextval
		// after ORDER BY).
		{"entries", `
INSERT INTO entries (merchant_id, transfer_id, account_id, amount, balance_after, created_at)
SELECT x.merchant_id, x.transfer_id, x.account_id, x.amount,
       a.balance + sum(x.amount) OVER (PARTITION BY x.account_id ORDER BY x.transfer_id, x.side), x.created_at
FROM (SELECT t.merchant_id, t.id AS transfer_id, 0 AS side, t.from_account AS account_id, -t.amount AS amount, t.created_at
      FROM transfers t JOIN seed_transfers s ON s.id = t.id
      UNION ALL
      SELECT t.merchant_id, t.id, 1, t.to_account, t.amount, t.created_at
      FROM transfers t JOIN seed_transfers s ON s.id = t.id) x
JOIN accounts a ON a.id = x.account_id
ORDER BY x.transfer_id, x.side`, nil},
		{"balances", `
UPDATE accounts a SET balance = a.balance + d.total
FROM (SELECT e.account_id, sum(e.amount) AS total FROM entries e JOIN seed_transfers s ON s.id = e.transfer_id GROUP BY e.account_id) d
WHERE a.id = d.account_id`, nil},
		{"counters", `
UPDATE campaigns c SET stock = c.stock + $3, sold = c.sold + o.units, earned = c.earned + o.earned, buyers = c.buyers + o.n,
    paid_orders = c.paid_orders + o.n, paid_amount = c.paid_amount + o.amount, paid_buyers = c.paid_buyers + o.n,
    refunded_amount = c.refunded_amount + o.refunded, refunded_orders = c.refunded_orders + o.refunds,
    version = c.version + 1, updated_at = now()
FROM (SELECT sum(o.qty) AS units, COALESCE(sum(o.qty) FILTER (WHERE o.commission_status = 'earned'), 0) AS earned, count(*) AS n,
             sum(o.amount) AS amount, sum(o.refunded) AS refunded, count(*) FILTER (WHERE o.refunded > 0) AS refunds
      FROM orders o JOIN seed_orders s ON s.id = o.id) o
WHERE c.merchant_id = $1 AND c.id = $2`, []any{m, id, units}},
	}
	for _, st := range steps {
		if _, err := tx.ExecContext(ctx, st.sql, st.args...); err != nil {
			return Result{}, fmt.Errorf("%s: %w", st.what, err)
		}
	}
	res := Result{Orders: n, Units: units, Users: n + sharers, TopUps: spec.TopUps}
	if err := tx.QueryRowxContext(ctx, `SELECT (SELECT count(*) FROM seed_transfers) - $1, (SELECT count(*) FROM orders o JOIN seed_orders s ON s.id = o.id WHERE o.refunded > 0)`, spec.TopUps).
		Scan(&res.Commissions, &res.Refunds); err != nil {
		return Result{}, err
	}
	for _, t := range []string{"seed_users", "seed_orders", "seed_transfers"} {
		if _, err := tx.ExecContext(ctx, `DROP TABLE `+t); err != nil {
			return Result{}, err
		}
	}
	return res, nil
}
