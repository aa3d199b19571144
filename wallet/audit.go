package wallet

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Violation is one broken invariant, with the ids of the rows involved.
type Violation struct {
	Check   string
	Message string
	IDs     []int64
}

func (v Violation) String() string {
	ids := make([]string, len(v.IDs))
	for i, id := range v.IDs {
		ids[i] = fmt.Sprint(id)
	}
	return fmt.Sprintf("%s: %s [ids %s]", v.Check, v.Message, strings.Join(ids, ", "))
}

// Check is one invariant: a query returning (bigint[] ids, text message) for every
// violation of it.
type Check struct {
	Name, Query string
}

var ledgerChecks = []Check{
	{"transfer balanced", `
SELECT ARRAY[t.id] || array_agg(e.id) FILTER (WHERE e.id IS NOT NULL),
       format('transfer %s (%s, %s) has %s entries summing to %s', t.id, t.kind, t.amount, count(e.id), COALESCE(sum(e.amount), 0))
FROM transfers t LEFT JOIN entries e ON e.transfer_id = t.id
GROUP BY t.id
HAVING count(e.id) <> 2
    OR COALESCE(sum(e.amount), 0) <> 0
    OR COALESCE(sum(e.amount) FILTER (WHERE e.account_id = t.from_account), 0) <> -t.amount
    OR COALESCE(sum(e.amount) FILTER (WHERE e.account_id = t.to_account), 0) <> t.amount
ORDER BY t.id`},
	{"merchant ledger sums to zero", `
SELECT ARRAY[merchant_id], format('entries of merchant %s sum to %s', merchant_id, sum(amount))
FROM entries GROUP BY merchant_id HAVING sum(amount) <> 0 ORDER BY merchant_id`},
	{"one merchant per transfer", `
SELECT ARRAY[e.id, e.transfer_id, e.account_id], format('entry %s of merchant %s touches account %s of merchant %s', e.id, e.merchant_id, a.id, a.merchant_id)
FROM entries e JOIN accounts a ON a.id = e.account_id JOIN transfers t ON t.id = e.transfer_id
WHERE e.merchant_id <> a.merchant_id OR e.merchant_id <> t.merchant_id ORDER BY e.id`},
	{"cached balance equals entries", `
SELECT ARRAY[a.id], format('%s account %s caches %s but its entries sum to %s', a.kind, a.id, a.balance, COALESCE(sum(e.amount), 0))
FROM accounts a LEFT JOIN entries e ON e.account_id = a.id
GROUP BY a.id HAVING a.balance <> COALESCE(sum(e.amount), 0) ORDER BY a.id`},
	{"balance after each entry", `
SELECT ARRAY[id, account_id], format('entry %s says account %s held %s after it, but the running sum is %s', id, account_id, balance_after, running)
FROM (SELECT id, account_id, balance_after, sum(amount) OVER (PARTITION BY account_id ORDER BY id) AS running FROM entries) x
WHERE balance_after <> running ORDER BY id`},
	{"no forbidden negative balance", `
SELECT ARRAY[id], format('%s account %s is negative: %s', kind, id, balance)
FROM accounts WHERE kind <> 'world' AND balance < 0 ORDER BY id`},
	{"idempotency keys unique", `
SELECT array_agg(id ORDER BY id), format('merchant %s used key %L for %s transfers', merchant_id, idem_key, count(*))
FROM transfers GROUP BY merchant_id, idem_key HAVING count(*) > 1`},
}

// payoutChecks tie red packets to the ledger.
var payoutChecks = []Check{
	{"in-flight equals unfinished packets", `
SELECT ARRAY[COALESCE(a.id, 0)], format('merchant %s sharer %s: in-flight holds %s, unfinished packets sum to %s',
    COALESCE(a.merchant_id, p.merchant_id), COALESCE(a.ref_id, p.sharer_id), COALESCE(a.balance, 0), COALESCE(p.total, 0))
FROM (SELECT id, merchant_id, ref_id, balance FROM accounts WHERE kind = 'in_flight') a
FULL JOIN (SELECT merchant_id, sharer_id, sum(amount) AS total FROM packets WHERE status IN ('queued', 'sending', 'sent') GROUP BY 1, 2) p
  ON p.merchant_id = a.merchant_id AND p.sharer_id = a.ref_id
WHERE COALESCE(a.balance, 0) <> COALESCE(p.total, 0)`},
	{"each packet moved exactly once", `
SELECT ARRAY[p.id], format('packet %s (%s, %s): claimed %s times (%s), received %s times, returned %s times',
    p.bill_no, p.status, p.amount, count(t.id) FILTER (WHERE t.kind = 'claim'), COALESCE(sum(t.amount) FILTER (WHERE t.kind = 'claim'), 0),
    count(t.id) FILTER (WHERE t.kind = 'payout_received'), count(t.id) FILTER (WHERE t.kind = 'payout_returned'))
FROM packets p
LEFT JOIN LATERAL (
    -- One index probe of (merchant_id, idem_key) per key: joined with IN (…) the planner
    -- could use no index and compared every packet with every transfer.
    SELECT x.id, x.kind, x.amount FROM transfers x
    WHERE x.merchant_id = p.merchant_id AND x.idem_key = 'packet:' || p.bill_no
    UNION ALL
    SELECT x.id, x.kind, x.amount FROM transfers x
    WHERE x.merchant_id = p.merchant_id AND x.idem_key = 'packet:' || p.bill_no || ':received'
    UNION ALL
    SELECT x.id, x.kind, x.amount FROM transfers x
    WHERE x.merchant_id = p.merchant_id AND x.idem_key = 'packet:' || p.bill_no || ':returned') t ON true
GROUP BY p.id
HAVING count(t.id) FILTER (WHERE t.kind = 'claim') <> 1
    OR COALESCE(sum(t.amount) FILTER (WHERE t.kind = 'claim'), 0) <> p.amount
    OR count(t.id) FILTER (WHERE t.kind = 'payout_received') <> (p.status = 'received')::int
    OR count(t.id) FILTER (WHERE t.kind = 'payout_returned') <> (p.status IN ('refunded', 'failed'))::int
ORDER BY p.id`},
}

// Audit checks every invariant of the ledger and of the red packets paid from it.
func Audit(ctx context.Context, q sqlx.QueryerContext) ([]Violation, error) {
	return RunChecks(ctx, q, Checks())
}

// Checks are the ledger's and the payouts' invariants, for Audit and for an Auditor.
func Checks() []Check {
	return append(ledgerChecks[:len(ledgerChecks):len(ledgerChecks)], payoutChecks...)
}

// AuditLedger checks the ledger's own invariants only: for tests that move money between
// accounts directly, without the packets a real claim writes.
func AuditLedger(ctx context.Context, q sqlx.QueryerContext) ([]Violation, error) {
	return RunChecks(ctx, q, ledgerChecks)
}

// RunChecks runs invariant queries. Other packages extend the audit with checks of their own
// through it.
func RunChecks(ctx context.Context, q sqlx.QueryerContext, checks []Check) ([]Violation, error) {
	rows, err := q.QueryxContext(ctx, checksQuery(checks))
	if err != nil {
		return nil, fmt.Errorf("wallet: audit: %w", err)
	}
	return scanViolations(rows, checks)
}

// checksQuery is one statement for all the checks, so an audit is one round trip (it also
// runs after every step of the campaign simulation).
func checksQuery(checks []Check) string {
	var sql strings.Builder
	for i, c := range checks {
		if i > 0 {
			sql.WriteString("\nUNION ALL\n")
		}
		fmt.Fprintf(&sql, "SELECT %d AS check_no, v.* FROM (%s) AS v", i, c.Query)
	}
	return sql.String()
}

func scanViolations(rows *sqlx.Rows, checks []Check) ([]Violation, error) {
	defer rows.Close()
	type found struct {
		n int
		v Violation
	}
	var all []found
	for rows.Next() {
		var f found
		var err error
		if f.n, f.v, err = scanViolation(rows, checks); err != nil {
			return nil, err
		}
		all = append(all, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("wallet: audit: %w", err)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].n < all[j].n })
	out := make([]Violation, len(all))
	for i, f := range all {
		out[i] = f.v
	}
	return out, nil
}

// scanViolation reads one row of checksQuery: the check's number and its violation.
func scanViolation(rows *sqlx.Rows, checks []Check) (int, Violation, error) {
	var n int
	var ids pq.Int64Array
	var v Violation
	if err := rows.Scan(&n, &ids, &v.Message); err != nil {
		return 0, Violation{}, fmt.Errorf("wallet: audit: %w", err)
	}
	v.Check, v.IDs = checks[n].Name, ids
	return n, v, nil
}

// StreamChecks runs the checks one after the other and hands each violation to emit as it
// arrives, in the order of the checks: the client holds one row at a time however broken
// the data (collecting them, a ledger with a million broken rows would need gigabytes to
// report). An error from emit stops the run and is returned.
func StreamChecks(ctx context.Context, q sqlx.QueryerContext, checks []Check, emit func(Violation) error) error {
	for i := range checks {
		if err := streamCheck(ctx, q, checks[i:i+1], emit); err != nil {
			return err
		}
	}
	return nil
}

func streamCheck(ctx context.Context, q sqlx.QueryerContext, check []Check, emit func(Violation) error) error {
	rows, err := q.QueryxContext(ctx, checksQuery(check))
	if err != nil {
		return fmt.Errorf("wallet: audit %s: %w", check[0].Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		_, v, err := scanViolation(rows, check)
		if err != nil {
			return err
		}
		if err := emit(v); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("wallet: audit %s: %w", check[0].Name, err)
	}
	return nil
}

// Auditor runs checks again and again as one prepared statement (planned once), for audits
// after every step of a simulation.
type Auditor struct {
	stmt   *sqlx.Stmt
	checks []Check
}

// NewAuditor prepares checks on db; Close releases the statement.
func NewAuditor(ctx context.Context, db *sqlx.DB, checks []Check) (*Auditor, error) {
	stmt, err := db.PreparexContext(ctx, checksQuery(checks))
	if err != nil {
		return nil, fmt.Errorf("wallet: prepare audit: %w", err)
	}
	return &Auditor{stmt: stmt, checks: checks}, nil
}

// Run checks every invariant and returns the violations found.
func (a *Auditor) Run(ctx context.Context) ([]Violation, error) {
	rows, err := a.stmt.QueryxContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("wallet: audit: %w", err)
	}
	return scanViolations(rows, a.checks)
}

// Close releases the prepared statement.
func (a *Auditor) Close() error { return a.stmt.Close() }
