package wallet

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"
)

// Balance returns an account's balance; an account never used holds zero.
func (s *Service) Balance(ctx context.Context, a Account) (decimal.Decimal, error) {
	var b decimal.Decimal
	err := s.db.GetContext(ctx, &b, `SELECT balance FROM accounts WHERE merchant_id = $1 AND kind = $2 AND ref_id = $3`, a.MerchantID, a.Kind, a.RefID)
	if isNoRows(err) {
		return decimal.Zero, nil
	}
	if err != nil {
		return decimal.Zero, fmt.Errorf("wallet: balance of %s %d: %w", a.Kind, a.RefID, err)
	}
	return b, nil
}

// Assets are a merchant's red-packet assets: what it can use and what campaigns hold frozen.
type Assets struct {
	Available decimal.Decimal `db:"available"`
	Frozen    decimal.Decimal `db:"frozen"`
}

const assetsSQL = `
SELECT COALESCE(sum(balance) FILTER (WHERE kind = 'available'), 0) AS available,
       COALESCE(sum(balance) FILTER (WHERE kind = 'reserve'), 0)   AS frozen
FROM accounts WHERE merchant_id = $1 AND kind IN ('available', 'reserve')`

// Assets returns the merchant's available and frozen red-packet assets.
func (s *Service) Assets(ctx context.Context, merchantID int64) (Assets, error) {
	var a Assets
	if err := s.db.GetContext(ctx, &a, assetsSQL, merchantID); err != nil {
		return Assets{}, fmt.Errorf("wallet: assets of merchant %d: %w", merchantID, err)
	}
	return a, nil
}

// VaultBalances is what a sharer sees of their commissions with one merchant.
type VaultBalances struct {
	Available decimal.Decimal `db:"available"` // claimable now
	Pending   decimal.Decimal `db:"pending"`   // held until the hold period passes
	InFlight  decimal.Decimal `db:"in_flight"` // claimed, being paid out as red packets
}

const vaultSQL = `
SELECT COALESCE(sum(balance) FILTER (WHERE kind = 'vault'), 0)         AS available,
       COALESCE(sum(balance) FILTER (WHERE kind = 'vault_pending'), 0) AS pending,
       COALESCE(sum(balance) FILTER (WHERE kind = 'in_flight'), 0)     AS in_flight
FROM accounts WHERE merchant_id = $1 AND ref_id = $2 AND kind IN ('vault', 'vault_pending', 'in_flight')`

// Vault returns a sharer's balances with a merchant.
func (s *Service) Vault(ctx context.Context, merchantID, sharerID int64) (VaultBalances, error) {
	var v VaultBalances
	if err := s.db.GetContext(ctx, &v, vaultSQL, merchantID, sharerID); err != nil {
		return VaultBalances{}, fmt.Errorf("wallet: vault of sharer %d: %w", sharerID, err)
	}
	return v, nil
}

// Line is one row of a statement: how one transfer changed one account.
type Line struct {
	EntryID      int64           `db:"entry_id"`
	At           time.Time       `db:"created_at"`
	Kind         TransferKind    `db:"kind"`
	Account      AccountKind     `db:"account_kind"`
	CampaignID   *int64          `db:"campaign_id"`
	Ref          string          `db:"ref"`
	Amount       decimal.Decimal `db:"amount"` // signed: negative left the account
	BalanceAfter decimal.Decimal `db:"balance_after"`
}

// Filter narrows a statement. Zero values mean "any".
type Filter struct {
	Kinds      []TransferKind
	CampaignID int64
	From, To   time.Time // From inclusive, To exclusive
	Before     int64     // page cursor: only entries with a smaller id
	Limit      int       // default 50, at most 1000
}

// Page is one page of a statement, newest first. Next is the cursor of the following page,
// 0 when this is the last.
type Page struct {
	Lines []Line
	Next  int64
}

// Statement is the merchant's balance statement (余额流水): every change of its available
// red-packet assets, newest first.
func (s *Service) Statement(ctx context.Context, merchantID int64, f Filter) (Page, error) {
	return s.lines(ctx, merchantID, []AccountKind{Available}, 0, f)
}

// VaultHistory is a sharer's commission history with a merchant: earnings, settlements,
// voids, claims and returned packets, newest first.
func (s *Service) VaultHistory(ctx context.Context, merchantID, sharerID int64, f Filter) (Page, error) {
	return s.lines(ctx, merchantID, []AccountKind{Vault, VaultPending}, sharerID, f)
}

func (s *Service) lines(ctx context.Context, merchantID int64, accounts []AccountKind, refID int64, f Filter) (Page, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > 1000 {
		f.Limit = 1000
	}
	kinds := make([]string, len(accounts))
	for i, k := range accounts {
		kinds[i] = string(k)
	}
	// The accounts first: the entries are then read newest first straight off the
	// (account_id, id) index, one account at a time, stopping at the page's end. Joining the
	// accounts in the same query made PostgreSQL read every entry of the account below the
	// cursor and sort them, at every page.
	var ids []int64
	if err := sqlx.SelectContext(ctx, s.db, &ids, `SELECT id FROM accounts WHERE merchant_id = $1 AND kind = ANY($2) AND ref_id = $3 ORDER BY id`,
		merchantID, pqArray(kinds), refID); err != nil {
		return Page{}, fmt.Errorf("wallet: statement of merchant %d: %w", merchantID, err)
	}
	if len(ids) == 0 {
		return Page{}, nil
	}
	where := []string{"e.account_id = acc.id", "e.merchant_id = $1"}
	args := []any{merchantID, pq.Array(ids)}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if len(f.Kinds) > 0 {
		ks := make([]string, len(f.Kinds))
		for i, k := range f.Kinds {
			ks[i] = string(k)
		}
		add("t.kind = ANY($%d)", pqArray(ks))
	}
	if f.CampaignID != 0 {
		add("t.campaign_id = $%d", f.CampaignID)
	}
	if !f.From.IsZero() {
		add("e.created_at >= $%d", f.From)
	}
	if !f.To.IsZero() {
		add("e.created_at < $%d", f.To)
	}
	if f.Before > 0 {
		add("e.id < $%d", f.Before)
	}
	args = append(args, f.Limit+1)
	limit := fmt.Sprintf("$%d", len(args))
	q := `
SELECT x.* FROM unnest($2::bigint[]) AS acc (id)
CROSS JOIN LATERAL (
    SELECT e.id AS entry_id, e.created_at, t.kind, a.kind AS account_kind, t.campaign_id, t.ref, e.amount, e.balance_after
    FROM entries e
    JOIN transfers t ON t.id = e.transfer_id
    JOIN accounts a ON a.id = e.account_id
    WHERE ` + strings.Join(where, " AND ") + `
    ORDER BY e.id DESC
    LIMIT ` + limit + `) x
ORDER BY x.entry_id DESC
LIMIT ` + limit
	var lines []Line
	if err := sqlx.SelectContext(ctx, s.db, &lines, q, args...); err != nil {
		return Page{}, fmt.Errorf("wallet: statement of merchant %d: %w", merchantID, err)
	}
	p := Page{Lines: lines}
	if len(lines) > f.Limit {
		p.Lines = lines[:f.Limit]
		p.Next = p.Lines[f.Limit-1].EntryID
	}
	return p, nil
}
