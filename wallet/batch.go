package wallet

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"
)

// EarnCommissions records many commissions in the caller's transaction at once: what
// EarnCommission does for each, with the hot accounts (the campaign's reserve, a popular
// sharer's vault) locked and updated once for the whole batch instead of once per commission.
// A flash sale's payments are recorded this way (campaign/payment.go).
//
// The result is the ledger the single movements would have written: one transfer per
// commission under its key, two entries each, in order, every entry's balance_after the
// account's running sum. Keys recorded before are replays (they must match, as in
// EarnCommission) and move nothing. It moves nothing at all when any commission is refused
// (insufficient reserve, a key reused for another movement): the caller's transaction must
// then be rolled back.
func (s *Service) EarnCommissions(ctx context.Context, tx *sqlx.Tx, es []Earning) error {
	ms := make([]movement, len(es))
	for i, e := range es {
		ms[i] = earning(e)
	}
	if err := moveAll(ctx, tx, ms); err != nil {
		return fmt.Errorf("wallet: %d commissions: %w", len(es), err)
	}
	return nil
}

// earning is the movement of a commission: reserve → vault, or → pending vault when held.
func earning(e Earning) movement {
	m := movement{kind: Commission, from: ReserveOf(e.MerchantID, e.CampaignID), to: VaultOf(e.MerchantID, e.SharerID),
		amount: e.Amount, key: e.Key, campaignID: e.CampaignID, ref: e.Ref}
	if e.Held {
		m.kind, m.to = CommissionHeld, PendingOf(e.MerchantID, e.SharerID)
	}
	return m
}

// moveAll records the movements of one merchant in tx, in order. Six round trips whatever
// their number: create missing accounts, lock every account (reserves first, then by id: the
// order single movements use), insert the transfers, take entry ids, insert the entries,
// update the balances.
func moveAll(ctx context.Context, tx *sqlx.Tx, ms []movement) error {
	if len(ms) == 0 {
		return nil
	}
	merchant := ms[0].from.MerchantID
	var kinds []string
	var refs []int64
	seen := map[Account]bool{}
	for _, m := range ms {
		if err := m.check(); err != nil {
			return err
		}
		for _, a := range []Account{m.from, m.to} {
			if a.MerchantID != merchant {
				return fmt.Errorf("movements of two merchants (%d, %d)", merchant, a.MerchantID)
			}
			if !seen[a] {
				seen[a] = true
				kinds, refs = append(kinds, string(a.Kind)), append(refs, a.RefID)
			}
		}
	}
	// New accounts are created first, in one order (by kind and reference), before any
	// account is locked: two batches creating the same accounts wait for each other in one
	// direction only, and never while holding an account lock.
	if _, err := tx.ExecContext(ctx, `
INSERT INTO accounts (merchant_id, kind, ref_id)
SELECT $1, k, r FROM unnest($2::text[], $3::bigint[]) AS a(k, r) ORDER BY k, r
ON CONFLICT (merchant_id, kind, ref_id) DO NOTHING`, merchant, pq.Array(kinds), pq.Array(refs)); err != nil {
		return fmt.Errorf("create accounts: %w", err)
	}
	var rows []accountRow
	if err := sqlx.SelectContext(ctx, tx, &rows, `
SELECT id, kind, ref_id, balance FROM accounts
WHERE merchant_id = $1 AND (kind, ref_id) IN (SELECT * FROM unnest($2::text[], $3::bigint[]))
ORDER BY kind = 'reserve' DESC, id
FOR UPDATE`, merchant, pq.Array(kinds), pq.Array(refs)); err != nil {
		return fmt.Errorf("lock accounts: %w", err)
	}
	account := map[Account]*accountRow{}
	for i := range rows {
		account[Account{MerchantID: merchant, Kind: rows[i].Kind, RefID: rows[i].RefID}] = &rows[i]
	}
	if len(account) != len(seen) {
		return fmt.Errorf("lock accounts: %d of %d found", len(account), len(seen))
	}
	fresh, err := insertTransfers(ctx, tx, merchant, ms, account)
	if err != nil {
		return err
	}
	if len(fresh) == 0 {
		return nil // every one a replay
	}
	// Entries in the order of the movements, each with the account's running balance. Their
	// ids come from the sequence while the accounts are locked, so they are also in commit
	// order per account, which is what balance_after is checked against (the audit).
	var ids []int64
	if err := sqlx.SelectContext(ctx, tx, &ids, `SELECT nextval(pg_get_serial_sequence('entries', 'id')) FROM generate_series(1, $1)`,
		2*len(fresh)); err != nil {
		return fmt.Errorf("entry ids: %w", err)
	}
	slices.Sort(ids)
	var (
		eID, eTransfer, eAccount []int64
		eAmount, eAfter          []string
		eAt                      []time.Time
	)
	delta := map[int64]decimal.Decimal{}
	for i, t := range fresh {
		from, to := account[ms[t.index].from], account[ms[t.index].to]
		if from.Kind != World && from.Balance.LessThan(t.Amount) {
			return fmt.Errorf("%w: %s account %d holds %s, needs %s (%s)", ErrInsufficientFunds, from.Kind, from.ID, from.Balance, t.Amount, t.Key)
		}
		from.Balance = from.Balance.Sub(t.Amount)
		to.Balance = to.Balance.Add(t.Amount)
		delta[from.ID] = delta[from.ID].Sub(t.Amount)
		delta[to.ID] = delta[to.ID].Add(t.Amount)
		eID = append(eID, ids[2*i], ids[2*i+1])
		eTransfer = append(eTransfer, t.ID, t.ID)
		eAccount = append(eAccount, from.ID, to.ID)
		eAmount = append(eAmount, t.Amount.Neg().String(), t.Amount.String())
		eAfter = append(eAfter, from.Balance.String(), to.Balance.String())
		eAt = append(eAt, t.CreatedAt, t.CreatedAt)
	}
	if _, err := tx.ExecContext(ctx, `
INSERT INTO entries (id, merchant_id, transfer_id, account_id, amount, balance_after, created_at)
SELECT e.id, $1, e.t, e.a, e.amount, e.after, e.at
FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::numeric[], $6::numeric[], $7::timestamptz[]) AS e(id, t, a, amount, after, at)`,
		merchant, pq.Array(eID), pq.Array(eTransfer), pq.Array(eAccount), pq.Array(eAmount), pq.Array(eAfter), pq.Array(stamps(eAt))); err != nil {
		return fmt.Errorf("entries: %w", err)
	}
	var dID []int64
	var dAmount []string
	for id, d := range delta {
		if !d.IsZero() {
			dID, dAmount = append(dID, id), append(dAmount, d.String())
		}
	}
	// Conditional as well as CHECKed, as in a single movement: no batch can overdraw.
	res, err := tx.ExecContext(ctx, `
UPDATE accounts a SET balance = a.balance + d.delta
FROM unnest($1::bigint[], $2::numeric[]) AS d(id, delta)
WHERE a.id = d.id AND (a.kind = 'world' OR a.balance + d.delta >= 0)`, pq.Array(dID), pq.Array(dAmount))
	if err != nil {
		return fmt.Errorf("balances: %w", err)
	}
	if n, _ := res.RowsAffected(); int(n) != len(dID) {
		return fmt.Errorf("%w: %d of %d accounts updated", ErrInsufficientFunds, n, len(dID))
	}
	return nil
}

// newTransfer is a transfer moveAll inserted, with the index of its movement.
type newTransfer struct {
	Transfer
	index int
}

// insertTransfers inserts the movements' transfers and returns the new ones in movement
// order. A key used before must name the same movement (a replay, which moves nothing).
func insertTransfers(ctx context.Context, tx *sqlx.Tx, merchant int64, ms []movement, account map[Account]*accountRow) ([]newTransfer, error) {
	var (
		kinds, keys, amounts, refs []string
		from, to, campaigns        []int64
	)
	for _, m := range ms {
		kinds, keys, refs = append(kinds, string(m.kind)), append(keys, m.key), append(refs, m.ref)
		from, to = append(from, account[m.from].ID), append(to, account[m.to].ID)
		amounts, campaigns = append(amounts, m.amount.String()), append(campaigns, m.campaignID)
	}
	var inserted []Transfer
	if err := sqlx.SelectContext(ctx, tx, &inserted, `
INSERT INTO transfers (merchant_id, kind, idem_key, from_account, to_account, amount, campaign_id, ref)
SELECT $1, t.kind, t.key, t.f, t.t, t.amount, NULLIF(t.c, 0), t.ref
FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::numeric[], $7::bigint[], $8::text[]) WITH ORDINALITY AS t(kind, key, f, t, amount, c, ref, n)
ORDER BY t.n
ON CONFLICT (merchant_id, idem_key) DO NOTHING
RETURNING id, merchant_id, kind, idem_key, from_account, to_account, amount, campaign_id, ref, created_at`,
		merchant, pq.Array(kinds), pq.Array(keys), pq.Array(from), pq.Array(to), pq.Array(amounts), pq.Array(campaigns), pq.Array(refs)); err != nil {
		return nil, fmt.Errorf("transfers: %w", err)
	}
	byKey := map[string]Transfer{}
	for _, t := range inserted {
		byKey[t.Key] = t
	}
	var fresh []newTransfer
	var replayed []string
	for i, m := range ms {
		if t, ok := byKey[m.key]; ok {
			fresh = append(fresh, newTransfer{Transfer: t, index: i})
			delete(byKey, m.key) // the same key twice in one batch: the second is a replay
			continue
		}
		replayed = append(replayed, m.key)
	}
	if len(replayed) == 0 {
		return fresh, nil
	}
	var before []Transfer
	if err := sqlx.SelectContext(ctx, tx, &before, `
SELECT id, merchant_id, kind, idem_key, from_account, to_account, amount, campaign_id, ref, created_at
FROM transfers WHERE merchant_id = $1 AND idem_key = ANY($2)`, merchant, pq.Array(replayed)); err != nil {
		return nil, fmt.Errorf("read transfers under used keys: %w", err)
	}
	first := map[string]Transfer{}
	for _, t := range before {
		first[t.Key] = t
	}
	for _, t := range fresh {
		first[t.Key] = t.Transfer
	}
	for i, m := range ms {
		t, ok := first[m.key]
		if !ok {
			return nil, fmt.Errorf("transfer under key %s vanished", m.key)
		}
		if t.Kind != m.kind || t.FromAccount != account[m.from].ID || t.ToAccount != account[m.to].ID || !t.Amount.Equal(m.amount) {
			return nil, fmt.Errorf("%w: %s (movement %d; first: %s %s from %d to %d)", ErrKeyReused, m.key, i, t.Kind, t.Amount, t.FromAccount, t.ToAccount)
		}
	}
	return fresh, nil
}

// stamps formats times for a timestamptz[] parameter.
func stamps(ts []time.Time) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.UTC().Format(time.RFC3339Nano)
	}
	return out
}
