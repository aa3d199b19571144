package wallet

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"
)

// Service moves money. It is safe for concurrent use.
type Service struct {
	db *sqlx.DB
}

// NewService returns a Service on db.
func NewService(db *sqlx.DB) *Service { return &Service{db: db} }

// movement is one transfer to record.
type movement struct {
	kind       TransferKind
	from, to   Account
	amount     decimal.Decimal
	key        string
	campaignID int64 // 0: none
	ref        string
}

// TopUpAssets records money the merchant paid in through WeChat Pay.
func (s *Service) TopUpAssets(ctx context.Context, tx *sqlx.Tx, merchantID int64, amount decimal.Decimal, key, ref string) (Transfer, error) {
	return s.move(ctx, tx, movement{kind: TopUp, from: worldOf(merchantID), to: availableOf(merchantID), amount: amount, key: key, ref: ref})
}

// FreezeReserve moves assets into a campaign's reserve (publish, stock added).
func (s *Service) FreezeReserve(ctx context.Context, tx *sqlx.Tx, merchantID, campaignID int64, amount decimal.Decimal, key string) (Transfer, error) {
	return s.move(ctx, tx, movement{kind: Freeze, from: availableOf(merchantID), to: ReserveOf(merchantID, campaignID), amount: amount, key: key, campaignID: campaignID})
}

// ReleaseReserve returns reserve to the merchant's assets (stock removed, campaign ended).
func (s *Service) ReleaseReserve(ctx context.Context, tx *sqlx.Tx, merchantID, campaignID int64, amount decimal.Decimal, key string) (Transfer, error) {
	return s.move(ctx, tx, movement{kind: Release, from: ReserveOf(merchantID, campaignID), to: availableOf(merchantID), amount: amount, key: key, campaignID: campaignID})
}

// Earning is a commission a sharer earned on an order.
type Earning struct {
	MerchantID, CampaignID, SharerID int64
	Amount                           decimal.Decimal
	Key                              string // one per order, e.g. "commission:order:42"
	Ref                              string // the order, for statements
	Held                             bool   // pending until settled or voided (hold period)
}

// EarnCommission moves a commission from the campaign reserve to the sharer's vault, or to the
// pending vault when held.
func (s *Service) EarnCommission(ctx context.Context, tx *sqlx.Tx, e Earning) (Transfer, error) {
	return s.move(ctx, tx, earning(e))
}

// SettleCommission makes a held commission claimable once its hold period has passed.
func (s *Service) SettleCommission(ctx context.Context, tx *sqlx.Tx, e Earning) (Transfer, error) {
	return s.move(ctx, tx, movement{kind: CommissionSettle, from: PendingOf(e.MerchantID, e.SharerID), to: VaultOf(e.MerchantID, e.SharerID),
		amount: e.Amount, key: e.Key, campaignID: e.CampaignID, ref: e.Ref})
}

// VoidCommission returns a held commission to the campaign reserve (the order was refunded
// within the hold period).
func (s *Service) VoidCommission(ctx context.Context, tx *sqlx.Tx, e Earning) (Transfer, error) {
	return s.move(ctx, tx, movement{kind: CommissionVoid, from: PendingOf(e.MerchantID, e.SharerID), to: ReserveOf(e.MerchantID, e.CampaignID),
		amount: e.Amount, key: e.Key, campaignID: e.CampaignID, ref: e.Ref})
}

// ClaimPayout moves money from a sharer's vault to "in flight" for one red packet; ref is the
// packet's bill number.
func (s *Service) ClaimPayout(ctx context.Context, tx *sqlx.Tx, merchantID, sharerID int64, amount decimal.Decimal, key, ref string) (Transfer, error) {
	return s.move(ctx, tx, movement{kind: Claim, from: VaultOf(merchantID, sharerID), to: InFlightOf(merchantID, sharerID), amount: amount, key: key, ref: ref})
}

// PayoutReceived records that a red packet landed in the sharer's WeChat wallet.
func (s *Service) PayoutReceived(ctx context.Context, tx *sqlx.Tx, merchantID, sharerID int64, amount decimal.Decimal, key, ref string) (Transfer, error) {
	return s.move(ctx, tx, movement{kind: PayoutReceived, from: InFlightOf(merchantID, sharerID), to: worldOf(merchantID), amount: amount, key: key, ref: ref})
}

// PayoutReturned puts the money of a failed or refunded red packet back in the sharer's vault.
func (s *Service) PayoutReturned(ctx context.Context, tx *sqlx.Tx, merchantID, sharerID int64, amount decimal.Decimal, key, ref string) (Transfer, error) {
	return s.move(ctx, tx, movement{kind: PayoutReturned, from: InFlightOf(merchantID, sharerID), to: VaultOf(merchantID, sharerID), amount: amount, key: key, ref: ref})
}

func worldOf(m int64) Account     { return Account{MerchantID: m, Kind: World} }
func availableOf(m int64) Account { return Account{MerchantID: m, Kind: Available} }

// ReserveOf is a campaign's reserve account.
func ReserveOf(m, campaignID int64) Account {
	return Account{MerchantID: m, Kind: Reserve, RefID: campaignID}
}

// VaultOf is a sharer's claimable vault.
func VaultOf(m, sharerID int64) Account { return Account{MerchantID: m, Kind: Vault, RefID: sharerID} }

// PendingOf is a sharer's vault of held commissions.
func PendingOf(m, sharerID int64) Account {
	return Account{MerchantID: m, Kind: VaultPending, RefID: sharerID}
}

// InFlightOf is a sharer's money being paid out as red packets.
func InFlightOf(m, sharerID int64) Account {
	return Account{MerchantID: m, Kind: InFlight, RefID: sharerID}
}

// AvailableOf is the merchant's red-packet assets.
func AvailableOf(m int64) Account { return availableOf(m) }

// check refuses a movement no account may make: an amount out of range, an account without
// its merchant or reference, no idempotency key.
func (m movement) check() error {
	if err := checkPositive(m.amount); err != nil {
		return fmt.Errorf("%s %s: %w", m.kind, m.key, err)
	}
	for _, a := range []Account{m.from, m.to} {
		if a.MerchantID <= 0 || (a.RefID <= 0) != (a.Kind == World || a.Kind == Available) {
			return fmt.Errorf("%s %s: %s account needs a merchant and a %s", m.kind, m.key, a.Kind, refName(a.Kind))
		}
	}
	if m.key == "" {
		return fmt.Errorf("%s: empty idempotency key", m.kind)
	}
	return nil
}

// move records one transfer, in tx (inside a savepoint) or in a transaction of its own.
func (s *Service) move(ctx context.Context, tx *sqlx.Tx, m movement) (Transfer, error) {
	if err := m.check(); err != nil {
		return Transfer{}, fmt.Errorf("wallet: %w", err)
	}
	var t Transfer
	attempt := func(tx *sqlx.Tx) error {
		var err error
		t, err = record(ctx, tx, m)
		return err
	}
	err := inSavepoint(ctx, s.db, tx, attempt)
	if errors.Is(err, errMissingAccounts) {
		// First use of an account: create it, outside our own transaction when we have one.
		var q sqlx.ExecerContext = s.db
		if tx != nil {
			q = tx
		}
		if err = createAccounts(ctx, q, m.from, m.to); err == nil {
			err = inSavepoint(ctx, s.db, tx, attempt)
		}
	}
	if err != nil {
		return Transfer{}, fmt.Errorf("wallet: %s %s: %w", m.kind, m.key, err)
	}
	return t, nil
}

func record(ctx context.Context, tx *sqlx.Tx, m movement) (Transfer, error) {
	from, to, err := lockAccounts(ctx, tx, m.from, m.to)
	if err != nil {
		return Transfer{}, err
	}
	t, inserted, err := insertTransfer(ctx, tx, m, from.ID, to.ID)
	if err != nil {
		return Transfer{}, err
	}
	if !inserted {
		if t.Kind != m.kind || t.FromAccount != from.ID || t.ToAccount != to.ID || !t.Amount.Equal(m.amount) {
			return Transfer{}, fmt.Errorf("%w (first: %s %s from %d to %d)", ErrKeyReused, t.Kind, t.Amount, t.FromAccount, t.ToAccount)
		}
		t.Replayed = true
		return t, nil
	}
	if from.Kind != World && from.Balance.LessThan(m.amount) {
		return Transfer{}, fmt.Errorf("%w: %s account %d holds %s, needs %s", ErrInsufficientFunds, from.Kind, from.ID, from.Balance, m.amount)
	}
	if err := apply(ctx, tx, t); err != nil {
		return Transfer{}, err
	}
	return t, nil
}

// inSavepoint runs fn in tx under a savepoint, or in a new transaction when tx is nil. On error
// everything fn did is undone and tx stays usable.
func inSavepoint(ctx context.Context, db *sqlx.DB, tx *sqlx.Tx, fn func(*sqlx.Tx) error) error {
	if tx == nil {
		return Transact(ctx, db, fn)
	}
	if _, err := tx.ExecContext(ctx, `SAVEPOINT wallet_move`); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT wallet_move`); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	_, err := tx.ExecContext(ctx, `RELEASE SAVEPOINT wallet_move`)
	return err
}

// Beginner starts transactions: a pool (*sqlx.DB) or one connection of it (*sqlx.Conn).
type Beginner interface {
	BeginTxx(ctx context.Context, opts *sql.TxOptions) (*sqlx.Tx, error)
}

// Transact runs fn in a transaction, committing when it returns nil.
func Transact(ctx context.Context, db Beginner, fn func(*sqlx.Tx) error) (err error) {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			tx.Rollback() //nolint:errcheck
			panic(p)
		}
		if err != nil {
			tx.Rollback() //nolint:errcheck
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// isNoRows reports whether err is sql.ErrNoRows.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

func refName(k AccountKind) string {
	switch k {
	case Reserve:
		return "campaign id"
	case World, Available:
		return "no reference id"
	default:
		return "sharer id"
	}
}
