// Package merchant is the merchant's side of Fenxiao: the tenants themselves, their console
// accounts and sessions with log-in throttling, their WeChat settings (verified with WeChat,
// secrets sealed under SECRET_KEY) and the WeChat client built from them, top-ups of their
// red-packet assets, and their uploaded images. The campaign engine (package campaign) uses
// it; it never uses the engine.
package merchant

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"
	"golang.org/x/sync/semaphore"

	"fenxiao/wallet"
	"fenxiao/wechat"
)

// Config wires a Service.
type Config struct {
	DB      *sqlx.DB
	Wallet  *wallet.Service
	Secret  []byte // SECRET_KEY: the WeChat secrets are sealed under a key derived from it
	BaseURL string // public URL of the server, for the top-up notification address
	WeChat  wechat.Options
	Log     *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Clients, when set, replaces the WeChat clients built from stored credentials (tests).
	Clients func(ctx context.Context, merchantID int64) (WeChat, error)
	// FetchAllow lists origins (http://IP:port) the image fetcher may connect to although
	// their address is not public: the WeChat simulator in development, a test's server.
	// Every other loopback, private, link-local or reserved address is refused.
	FetchAllow []string
}

// Service is the merchant side. It is safe for concurrent use, and several replicas may run
// it on one database.
type Service struct {
	db              *sqlx.DB
	wallet          *wallet.Service
	sealKey         []byte
	baseURL         string
	wechatOpts      wechat.Options
	log             *slog.Logger
	now             func() time.Time
	clients         clientCache
	clientsOverride func(ctx context.Context, merchantID int64) (WeChat, error)
	fetch           *fetcher
	decodes         *semaphore.Weighted // decodes of arriving images (upload.go)
}

// NewService checks cfg and returns a Service.
func NewService(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Wallet == nil {
		return nil, errors.New("merchant: NewService needs DB and Wallet")
	}
	key, err := deriveSealKey(cfg.Secret)
	if err != nil {
		return nil, err
	}
	s := &Service{
		db: cfg.DB, wallet: cfg.Wallet, sealKey: key, baseURL: cfg.BaseURL, wechatOpts: cfg.WeChat,
		log: cfg.Log, now: cfg.Now, clients: clientCache{clients: map[int64]cachedClient{}}, clientsOverride: cfg.Clients,
		decodes: semaphore.NewWeighted(2),
	}
	if s.fetch, err = newFetcher(cfg.FetchAllow); err != nil {
		return nil, err
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// The errors every part of Fenxiao answers a merchant with; package campaign uses the same.
var (
	// ErrNotFound means the row does not exist for this merchant.
	ErrNotFound = errors.New("campaign: not found")
	// ErrInvalid wraps a validation failure; see *ValidationError for the fields.
	ErrInvalid = errors.New("campaign: invalid")
	// ErrConflict means the request contradicts the current state (publishing twice, editing a
	// frozen field, removing sold stock, a notification WeChat does not confirm).
	ErrConflict = errors.New("campaign: conflict")
	// ErrTooManyTries means too many wrong passwords lately.
	ErrTooManyTries = errors.New("campaign: too many password attempts")
	// ErrNoWeChat means the merchant has not configured its WeChat credentials.
	ErrNoWeChat = errors.New("campaign: merchant has no WeChat settings")
)

// ValidationError says, per form field, what is wrong, in words a merchant understands.
type ValidationError struct {
	Fields map[string]string
	// Shortfall is what the merchant's available assets lack when the refusal is theirs
	// (wallet.ErrInsufficientFunds): the console links to a top-up of this amount.
	Shortfall decimal.Decimal
	// Cause, when set, is an error errors.Is finds through this one (ErrTooManyTries,
	// wallet.ErrInsufficientFunds).
	Cause error
}

func (e *ValidationError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + e.Fields[k]
	}
	return "campaign: invalid: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) true, and the cause visible too.
func (e *ValidationError) Is(target error) bool {
	return target == ErrInvalid || (e.Cause != nil && target == e.Cause)
}

// Invalid is a *ValidationError of one field.
func Invalid(field, msg string) error {
	return &ValidationError{Fields: map[string]string{field: msg}}
}

// transact runs fn in a transaction.
func (s *Service) transact(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	return wallet.Transact(ctx, s.db, fn)
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

func isUnique(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == "23505"
}
