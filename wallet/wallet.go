// Package wallet is the double-entry ledger behind every yuan in Fenxiao: merchants'
// red-packet assets, campaign reserves, sharers' commission vaults and red-packet payouts.
//
// Money moves only as a transfer between two accounts of one merchant: two append-only
// entries summing to zero, recorded under a unique idempotency key. Repeating a movement with
// the same key and the same amount returns the first transfer and moves nothing, so callers
// can retry anything. Balances can never go negative (except the world account, where money
// enters and leaves): a CHECK constraint and a conditional update guard each debit.
//
// Each movement runs in the caller's transaction when given one (inside a savepoint, so a
// refused movement leaves the caller's transaction usable and writes nothing) or in its own.
// Accounts are locked in id order within a movement; a caller that makes several movements
// in one transaction may still meet a deadlock, which PostgreSQL breaks by failing one
// transaction: retry it.
package wallet

import (
	"errors"
	"time"

	"github.com/shopspring/decimal"
)

var (
	// ErrInsufficientFunds means the debited account holds less than the amount; nothing moved.
	ErrInsufficientFunds = errors.New("wallet: insufficient funds")
	// ErrKeyReused means an idempotency key was used before for a different movement.
	ErrKeyReused = errors.New("wallet: idempotency key already used for a different movement")
	// ErrInvalidAmount means an amount is zero, negative, too large or has more than 2 decimals.
	ErrInvalidAmount = errors.New("wallet: invalid amount")
	// ErrNotFound means the requested row does not exist (for this merchant).
	ErrNotFound = errors.New("wallet: not found")
)

// AccountKind names what an account holds.
type AccountKind string

// Account kinds; see migrations/0002_wallet.sql.
const (
	World        AccountKind = "world"
	Available    AccountKind = "available"
	Reserve      AccountKind = "reserve"
	VaultPending AccountKind = "vault_pending"
	Vault        AccountKind = "vault"
	InFlight     AccountKind = "in_flight"
)

// Account identifies one account: a merchant's, of a kind, about a campaign or a sharer.
type Account struct {
	MerchantID int64
	Kind       AccountKind
	RefID      int64 // campaign id for Reserve; sharer id for the vaults and InFlight; 0 otherwise
}

// TransferKind names a money movement of DESIGN.md.
type TransferKind string

// Transfer kinds.
const (
	TopUp            TransferKind = "topup"             // world → available
	Freeze           TransferKind = "freeze"            // available → reserve
	Release          TransferKind = "release"           // reserve → available
	Commission       TransferKind = "commission"        // reserve → vault
	CommissionHeld   TransferKind = "commission_held"   // reserve → vault pending
	CommissionSettle TransferKind = "commission_settle" // vault pending → vault
	CommissionVoid   TransferKind = "commission_void"   // vault pending → reserve
	Claim            TransferKind = "claim"             // vault → in flight
	PayoutReceived   TransferKind = "payout_received"   // in flight → world
	PayoutReturned   TransferKind = "payout_returned"   // in flight → vault
)

// Transfer is one recorded movement.
type Transfer struct {
	ID          int64           `db:"id"`
	MerchantID  int64           `db:"merchant_id"`
	Kind        TransferKind    `db:"kind"`
	Key         string          `db:"idem_key"`
	FromAccount int64           `db:"from_account"`
	ToAccount   int64           `db:"to_account"`
	Amount      decimal.Decimal `db:"amount"`
	CampaignID  *int64          `db:"campaign_id"`
	Ref         string          `db:"ref"`
	CreatedAt   time.Time       `db:"created_at"`
	// Replayed is true when the key had been used before and this is the first result.
	Replayed bool `db:"-"`
}

// maxAmount is the largest amount NUMERIC(14,2) holds.
var maxAmount = decimal.RequireFromString("999999999999.99")
