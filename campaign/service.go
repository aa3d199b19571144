package campaign

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"fenxiao/campaign/merchant"
	"fenxiao/campaign/poster"
	"fenxiao/campaign/region"
	"fenxiao/wallet"
)

// Config wires a Service.
type Config struct {
	DB        *sqlx.DB
	Wallet    *wallet.Service
	Merchants *merchant.Service // the merchants' WeChat clients, settings and uploads
	Regions   *region.DB
	Secret    []byte // SECRET_KEY: share tokens
	BaseURL   string // public URL of the server, for links in WeChat
	Log       *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OrderTimeout closes unpaid orders; 0 means 15 minutes.
	OrderTimeout time.Duration
	// AvatarHosts are the hosts (host or host:port) a sharer's avatar is fetched from for the
	// poster; nil means WeChat's own (DefaultAvatarHosts). Any other avatar URL is not fetched.
	AvatarHosts []string
	// PosterDraws is how many posters are drawn at once (0 means 2), PosterWait how long a
	// request waits for a turn (0 means 2 s) before it is told 海报生成中.
	PosterDraws int
	PosterWait  time.Duration
	// SnapshotEvery is how often a campaign's landing-page snapshot (stock left, participants,
	// ticker) is read again; 0 means one second (snapshot.go).
	SnapshotEvery time.Duration
	// SessionReuse is how long a replica reuses a signed-in follower session it has read;
	// 0 means one second, a negative value never (follower_cache.go).
	SessionReuse time.Duration
}

// DefaultAvatarHosts serve WeChat users' avatars (the headimgurl of the user-info API).
var DefaultAvatarHosts = []string{"thirdwx.qlogo.cn", "wx.qlogo.cn"}

// Service runs campaigns. It is safe for concurrent use, and several replicas may run it on
// one database.
type Service struct {
	db           *sqlx.DB
	wallet       *wallet.Service
	merchants    *merchant.Service
	regions      *region.DB
	shareKey     []byte
	baseURL      string
	log          *slog.Logger
	now          func() time.Time
	orderTimeout time.Duration
	avatarHosts  map[string]bool
	posterSlots  slots // poster drawings
	posterWait   time.Duration
	posters      *lru[[]byte]          // finished posters by fingerprint (poster.go)
	posterCards  *lru[*poster.Card]    // the part every sharer's poster of a campaign shares
	reservations batcher[*reservation] // group commit of reservations (reserve.go)
	payments     batcher[*payment]     // group commit of payments (payment.go)
	counts       batcher[*event]       // rate limit counts, all keys together (ratelimit.go)
	snapshots    snapshots             // what every visitor of a campaign sees alike (snapshot.go)
	inviters     inviters              // sharers' masked nicknames for the landing page (inviter.go)
	followerStmt *prepared             // the session of every follower's page (follower_session.go)
	followers    followerCache         // signed-in sessions read within the last second (follower_cache.go)
}

// NewService checks cfg and returns a Service.
func NewService(cfg Config) (*Service, error) {
	k, err := deriveShareKey(cfg.Secret)
	if err != nil {
		return nil, err
	}
	if cfg.DB == nil || cfg.Wallet == nil || cfg.Merchants == nil || cfg.Regions == nil {
		return nil, fmt.Errorf("campaign: NewService needs DB, Wallet, Merchants and Regions")
	}
	s := &Service{
		db: cfg.DB, wallet: cfg.Wallet, merchants: cfg.Merchants, regions: cfg.Regions, shareKey: k, baseURL: cfg.BaseURL,
		log: cfg.Log, now: cfg.Now, orderTimeout: cfg.OrderTimeout,
		followerStmt: &prepared{query: followerSQL}, inviters: newInviters(), followers: newFollowerCache(cfg.SessionReuse),
	}
	held := make(slots, flusherConns)
	s.reservations = batcher[*reservation]{take: takeBatch, run: s.reserveBatch, db: s.db, held: held}
	s.payments = batcher[*payment]{take: firstN[*payment], run: s.payBatch, db: s.db, held: held}
	s.counts = batcher[*event]{take: firstN[*event], run: s.countBatch, db: s.db, held: held}
	hosts := cfg.AvatarHosts
	if hosts == nil {
		hosts = DefaultAvatarHosts
	}
	s.avatarHosts = map[string]bool{}
	for _, h := range hosts {
		s.avatarHosts[strings.ToLower(h)] = true
	}
	draws := cfg.PosterDraws
	if draws <= 0 {
		draws = 2
	}
	s.posterSlots = make(slots, draws)
	s.posterWait = cfg.PosterWait
	s.posters, s.posterCards = newPosterCaches()
	if s.posterWait <= 0 {
		s.posterWait = 2 * time.Second
	}
	s.snapshots.m, s.snapshots.every = map[int64]snapshotEntry{}, cfg.SnapshotEvery
	if s.snapshots.every <= 0 {
		s.snapshots.every = defaultSnapshotEvery
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.orderTimeout == 0 {
		s.orderTimeout = 15 * time.Minute
	}
	return s, nil
}

// Merchants is the merchant side this engine runs campaigns for.
func (s *Service) Merchants() *merchant.Service { return s.merchants }

// Regions is the IP-to-region database the service checks region gates with.
func (s *Service) Regions() *region.DB { return s.regions }

// transact runs fn in a transaction.
func (s *Service) transact(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	return wallet.Transact(ctx, s.db, fn)
}
