package wallet

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"
)

type accountRow struct {
	ID      int64           `db:"id"`
	Kind    AccountKind     `db:"kind"`
	RefID   int64           `db:"ref_id"`
	Balance decimal.Decimal `db:"balance"`
}

const ensureAccount = `
INSERT INTO accounts (merchant_id, kind, ref_id) VALUES ($1, $2, $3)
ON CONFLICT (merchant_id, kind, ref_id) DO NOTHING`

const lockTwo = `
SELECT id, kind, ref_id, balance FROM accounts
WHERE merchant_id = $1 AND ((kind = $2 AND ref_id = $3) OR (kind = $4 AND ref_id = $5))
ORDER BY kind = 'reserve' DESC, id
FOR UPDATE`

// errMissingAccounts means an account of the movement does not exist yet. The movement is
// undone (releasing the lock it took on the other account), the accounts are created and the
// movement runs again. Creating them while holding that lock could make two movements wait on
// each other: one holding the lock of an existing account, the other the uncommitted insert
// of a new one.
var errMissingAccounts = errors.New("accounts missing")

// lockAccounts locks the two accounts in the one order every movement uses: a campaign's
// reserve first (a movement has at most one), then by id. Reserve first lets a campaign's
// transactions lock the reserve before the campaign row (LockReserve) and still agree with
// every movement on the order of the accounts.
func lockAccounts(ctx context.Context, tx *sqlx.Tx, from, to Account) (accountRow, accountRow, error) {
	if from.MerchantID != to.MerchantID {
		return accountRow{}, accountRow{}, fmt.Errorf("accounts of two merchants (%d, %d)", from.MerchantID, to.MerchantID)
	}
	var rows []accountRow
	if err := sqlx.SelectContext(ctx, tx, &rows, lockTwo, from.MerchantID, from.Kind, from.RefID, to.Kind, to.RefID); err != nil {
		return accountRow{}, accountRow{}, err
	}
	var f, t *accountRow
	for i := range rows {
		if rows[i].Kind == from.Kind && rows[i].RefID == from.RefID {
			f = &rows[i]
		} else {
			t = &rows[i]
		}
	}
	if f == nil || t == nil {
		return accountRow{}, accountRow{}, errMissingAccounts
	}
	return *f, *t, nil
}

// createAccounts creates accounts that do not exist yet; concurrent creators are fine.
func createAccounts(ctx context.Context, q sqlx.ExecerContext, accounts ...Account) error {
	for _, a := range accounts {
		if _, err := q.ExecContext(ctx, ensureAccount, a.MerchantID, a.Kind, a.RefID); err != nil {
			return fmt.Errorf("create %s account: %w", a.Kind, err)
		}
	}
	return nil
}

const insertTransferSQL = `
INSERT INTO transfers (merchant_id, kind, idem_key, from_account, to_account, amount, campaign_id, ref)
VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, 0), $8)
ON CONFLICT (merchant_id, idem_key) DO NOTHING
RETURNING id, merchant_id, kind, idem_key, from_account, to_account, amount, campaign_id, ref, created_at`

const transferByKey = `
SELECT id, merchant_id, kind, idem_key, from_account, to_account, amount, campaign_id, ref, created_at
FROM transfers WHERE merchant_id = $1 AND idem_key = $2`

// insertTransfer records the transfer, or returns the one already recorded under its key
// (inserted = false).
func insertTransfer(ctx context.Context, tx *sqlx.Tx, m movement, from, to int64) (Transfer, bool, error) {
	var t Transfer
	err := sqlx.GetContext(ctx, tx, &t, insertTransferSQL, m.from.MerchantID, m.kind, m.key, from, to, m.amount, m.campaignID, m.ref)
	if err == nil {
		return t, true, nil
	}
	if !isNoRows(err) {
		return Transfer{}, false, err
	}
	if err := sqlx.GetContext(ctx, tx, &t, transferByKey, m.from.MerchantID, m.key); err != nil {
		return Transfer{}, false, fmt.Errorf("read transfer under used key: %w", err)
	}
	return t, false, nil
}

// applySQL debits, credits and writes both entries in one round trip, so the hot account's
// row lock is held for as few round trips as possible. The debit is conditional as well as
// CHECKed: even a caller that skipped the balance check cannot overdraw; when it matches no
// row, nothing else happens and the query returns no row.
const applySQL = `
WITH d AS (
    UPDATE accounts SET balance = balance - $4::numeric
    WHERE id = $3 AND (kind = 'world' OR balance >= $4)
    RETURNING balance
), c AS (
    UPDATE accounts SET balance = balance + $4
    WHERE id = $5 AND EXISTS (SELECT 1 FROM d)
    RETURNING balance
), e AS (
    INSERT INTO entries (merchant_id, transfer_id, account_id, amount, balance_after, created_at)
    SELECT $1::bigint, $2::bigint, $3::bigint, -$4::numeric, d.balance, $6::timestamptz FROM d
    UNION ALL
    SELECT $1, $2, $5::bigint, $4, c.balance, $6 FROM c
)
SELECT d.balance, c.balance FROM d, c`

// apply moves the transfer's amount and records its entries.
func apply(ctx context.Context, tx *sqlx.Tx, t Transfer) error {
	var fromAfter, toAfter decimal.Decimal
	err := tx.QueryRowxContext(ctx, applySQL, t.MerchantID, t.ID, t.FromAccount, t.Amount, t.ToAccount, t.CreatedAt).Scan(&fromAfter, &toAfter)
	if isNoRows(err) {
		return fmt.Errorf("%w: account %d", ErrInsufficientFunds, t.FromAccount)
	}
	return err
}

// pqArray passes a Go string slice as a PostgreSQL text[] parameter.
func pqArray(s []string) any { return pq.Array(s) }

// LockReserve locks a campaign's reserve account (if it exists yet) for the rest of tx. The
// campaign's transactions that also lock the campaign row take it first: the lock order is
// reserve account, other accounts, campaign row (campaign/order.go).
func LockReserve(ctx context.Context, tx *sqlx.Tx, merchantID, campaignID int64) error {
	var ids []int64
	err := sqlx.SelectContext(ctx, tx, &ids, `SELECT id FROM accounts WHERE merchant_id = $1 AND kind = 'reserve' AND ref_id = $2 FOR UPDATE`,
		merchantID, campaignID)
	if err != nil {
		return fmt.Errorf("wallet: lock reserve of campaign %d: %w", campaignID, err)
	}
	return nil
}
