// Package campaign is the product's engine: campaigns and their lifecycle, stock-linked
// reserves, gates, orders, attribution, refunds, fulfilment, jobs and stats. It moves money
// only through package wallet and reaches a merchant's WeChat only through the client the
// merchant side builds (package merchant, which also keeps accounts, WeChat settings, top-ups
// and uploads). The region data (package region) and the poster's drawing (package poster)
// are rooms of their own.
//
// Stock is reserved by conditional updates of the campaign row, the reservations that reach a
// replica for one campaign within a couple of milliseconds in one transaction (batch.go,
// reserve.go), so no concurrency can oversell. Every state change that moves money runs in one
// transaction with its ledger transfer, under an idempotency key derived from the row it
// changes (the order, the stock change, the campaign), so retries, duplicate notifications and
// a second replica running the same job change nothing twice.
package campaign

import (
	"errors"
	"time"

	"fenxiao/campaign/merchant"

	"github.com/shopspring/decimal"
)

// The merchant side's errors, the very same values: errors.Is finds them whichever side
// answered.
var (
	ErrNotFound     = merchant.ErrNotFound     // the row does not exist for this merchant
	ErrInvalid      = merchant.ErrInvalid      // a validation failure: see *ValidationError
	ErrConflict     = merchant.ErrConflict     // the request contradicts the current state
	ErrTooManyTries = merchant.ErrTooManyTries // too many wrong passwords lately
	ErrNoWeChat     = merchant.ErrNoWeChat     // the merchant has no WeChat settings
)

var (
	// ErrSoldOut means not enough stock is left for the order.
	ErrSoldOut = errors.New("campaign: sold out")
	// ErrBuyerLimit means the campaign has as many buyers as it allows.
	ErrBuyerLimit = errors.New("campaign: buyer limit reached")
	// ErrNotOpen means the campaign is not accepting orders (not started, ended, draft).
	ErrNotOpen = errors.New("campaign: not open")
	// ErrSettingsChanged means the campaign changed how it hands over the product after the
	// buyer's page was read: the page must be reloaded.
	ErrSettingsChanged = errors.New("campaign: settings changed since the page was read")
	// ErrWrongPassword means the campaign password did not match.
	ErrWrongPassword = errors.New("campaign: wrong password")
	// ErrReplayed means an OA callback reuses the timestamp, nonce and signature of one
	// already handled, with another body: a forgery built on a captured push.
	ErrReplayed = errors.New("campaign: OA callback replayed with another body")
)

// Status is a campaign's stored state. "Running" is not stored: a published campaign runs
// between its start and end time.
type Status string

// Statuses.
const (
	Draft     Status = "draft"
	Published Status = "published"
	Ended     Status = "ended"
)

// Button is a custom link at the bottom of the landing page.
type Button struct {
	Label string `json:"label"`
	Link  string `json:"link"`
}

// Campaign is one single-product share-to-earn campaign.
type Campaign struct {
	ID         int64  `db:"id"`
	MerchantID int64  `db:"merchant_id"`
	Status     Status `db:"status"`
	Settings
	Stock       int        `db:"stock"`
	Held        int        `db:"held"`
	Sold        int        `db:"sold"`
	Earned      int        `db:"earned"`
	Buyers      int        `db:"buyers"`
	Version     int        `db:"version"`
	PublishedAt *time.Time `db:"published_at"`
	ReleasedAt  *time.Time `db:"released_at"`
	CreatedAt   time.Time  `db:"created_at"`
	UpdatedAt   time.Time  `db:"updated_at"`
}

// Left is the stock still for sale.
func (c *Campaign) Left() int { return c.Stock - c.Sold - c.Held }

// Phase is what a visitor experiences now: draft, upcoming, running or ended.
func (c *Campaign) Phase(now time.Time) string {
	switch {
	case c.Status == Draft:
		return "draft"
	case c.Status == Ended || !now.Before(c.EndsAt):
		return "ended"
	case now.Before(c.StartsAt):
		return "upcoming"
	default:
		return "running"
	}
}

// Settings is everything a merchant configures (DESIGN.md, "Campaign rules").
type Settings struct {
	Title            string          `db:"title"`
	StartsAt         time.Time       `db:"starts_at"`
	EndsAt           time.Time       `db:"ends_at"`
	ShowParticipants bool            `db:"show_participants"`
	BuyerLimit       int             `db:"buyer_limit"`
	FansOnly         bool            `db:"fans_only"`
	SplashImage      string          `db:"splash_image"`
	SplashLink       string          `db:"splash_link"`
	OrderTicker      bool            `db:"order_ticker"`
	Regions          StringList      `db:"regions"`
	Password         string          `db:"password"`
	Commission       decimal.Decimal `db:"commission"`
	BuyBeforeShare   bool            `db:"buy_before_share"`
	HoldDays         int             `db:"hold_days"`
	ProductName      string          `db:"product_name"`
	Price            decimal.Decimal `db:"price"`
	ProductImages    StringList      `db:"product_images"`
	Description      string          `db:"description"`
	DetailImages     StringList      `db:"detail_images"` // below the description, up to 9
	Logo             string          `db:"logo"`
	Buttons          Buttons         `db:"buttons"`
	PosterEnabled    bool            `db:"poster_enabled"`
	MaxPerOrder      int             `db:"max_per_order"`
	// How the product reaches the buyer (fulfil.go). Fixed once the campaign has an order.
	Fulfilment       Fulfilment `db:"fulfilment"`
	AskContact       bool       `db:"ask_contact"`        // pickup, virtual: ask name and mobile
	AutoCompleteDays int        `db:"auto_complete_days"` // a shipped order completes after this
	HoldFrom         HoldFrom   `db:"hold_from"`          // HoldDays count from payment or completion
}

// User is a WeChat user of one merchant's official account.
type User struct {
	ID         int64  `db:"id"`
	MerchantID int64  `db:"merchant_id"`
	OpenID     string `db:"openid"`
	Nickname   string `db:"nickname"`
	AvatarURL  string `db:"avatar_url"`
	Subscribed bool   `db:"subscribed"` // as WeChat's user-info API last said
	Snapshot   bool   `db:"snapshot"`
	// FanCheckedAt is when the user-info API last answered (nil: never); a "follows" answer
	// is reused for fanTrust.
	FanCheckedAt *time.Time `db:"fan_checked_at"`
	CreatedAt    time.Time  `db:"created_at"`
}

// OrderStatus is an order's state.
type OrderStatus string

// Order statuses.
const (
	Pending  OrderStatus = "pending"
	Paid     OrderStatus = "paid"
	Closed   OrderStatus = "closed"
	Refunded OrderStatus = "refunded"
	// Oversold: WeChat took the money for an order closed meanwhile whose stock was sold; it
	// holds no stock and is refunded automatically (RefundedAt set once done).
	Oversold OrderStatus = "oversold"
)

// Order is one purchase of a campaign's product.
type Order struct {
	ID               int64           `db:"id"`
	MerchantID       int64           `db:"merchant_id"`
	CampaignID       int64           `db:"campaign_id"`
	BuyerID          int64           `db:"buyer_id"`
	SharerID         *int64          `db:"sharer_id"`
	OutTradeNo       string          `db:"out_trade_no"`
	Qty              int             `db:"qty"`
	Amount           decimal.Decimal `db:"amount"`
	Status           OrderStatus     `db:"status"`
	TransactionID    *string         `db:"transaction_id"`
	Commission       decimal.Decimal `db:"commission"`
	CommissionStatus string          `db:"commission_status"`
	NoCommission     string          `db:"no_commission"`
	ClientIP         string          `db:"client_ip"`
	CreatedAt        time.Time       `db:"created_at"`
	ExpiresAt        time.Time       `db:"expires_at"`
	PaidAt           *time.Time      `db:"paid_at"`
	ClosedAt         *time.Time      `db:"closed_at"`
	RefundedAt       *time.Time      `db:"refunded_at"`
	SettleAt         *time.Time      `db:"settle_at"`
	PaidLate         bool            `db:"paid_late"`  // paid after the order was closed
	Refunded         decimal.Decimal `db:"refunded"`   // refunded so far; partial while below Amount
	VoidedQty        int             `db:"voided_qty"` // units whose held commission a refund voided
	RetryAt          *time.Time      `db:"retry_at"`   // jobs: the next attempt at WeChat
	Attempts         int             `db:"attempts"`
	LastError        string          `db:"last_error"`
	RefundCheckAt    *time.Time      `db:"refund_check_at"` // next refundquery of a paid order
	RefundChecks     int             `db:"refund_checks"`
	// Fulfilment of a paid order (fulfil.go); FulfilState is nil until it is paid.
	FulfilState *FulfilState `db:"fulfil_state"`
	Carrier     string       `db:"carrier"`
	TrackingNo  string       `db:"tracking_no"`
	ShippedAt   *time.Time   `db:"shipped_at"`
	DoneAt      *time.Time   `db:"done_at"`
	DoneHow     string       `db:"done_how"`
	PickupCode  *string      `db:"pickup_code"`
}
