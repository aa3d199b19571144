package wallet

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"fenxiao/wechat"
)

// Claiming commissions as WeChat cash red packets (DESIGN.md, "Claiming commissions").
//
// A claim turns the sharer's whole available vault into packets of 1 to 200 yuan, each with
// its bill number, in the same transaction that moves their money to in-flight. WeChat lets a
// user receive 10 packets and 1000 yuan a day, so packets beyond that wait for a later day
// (send_after). A job sends due packets, reusing the bill number on every retry; another polls
// sent packets until the user opens them (money leaves to the world) or WeChat refunds them
// (money back in the vault).

var (
	// ErrClaimTooSmall means the vault holds less than one red packet's minimum (1 yuan);
	// the error is a *ClaimTooSmallError saying how much is missing.
	ErrClaimTooSmall = errors.New("wallet: claim below 1 yuan")
	// ErrNothingToClaim means the vault is empty.
	ErrNothingToClaim = errors.New("wallet: nothing to claim")
)

// ClaimTooSmallError says how much a sharer is missing to withdraw.
type ClaimTooSmallError struct {
	Available, Missing decimal.Decimal
}

func (e *ClaimTooSmallError) Error() string {
	return fmt.Sprintf("满 1 元才能提现，还差 %s 元", e.Missing.StringFixed(2))
}

// Is makes errors.Is(err, ErrClaimTooSmall) true.
func (e *ClaimTooSmallError) Is(target error) bool { return target == ErrClaimTooSmall }

// WeChat's red-packet limits.
var (
	packetMin      = decimal.NewFromInt(1)
	packetMax      = decimal.NewFromInt(200)
	dailyAmountMax = decimal.NewFromInt(1000)
)

const dailyPacketsMax = 10

// PacketStatus is a red packet's state; see migrations/0004_payouts.sql.
type PacketStatus string

// Packet statuses.
const (
	PacketQueued   PacketStatus = "queued"
	PacketSending  PacketStatus = "sending"
	PacketSent     PacketStatus = "sent"
	PacketReceived PacketStatus = "received"
	PacketRefunded PacketStatus = "refunded"
	PacketFailed   PacketStatus = "failed"
)

// Packet is one red packet.
type Packet struct {
	ID         int64           `db:"id"`
	MerchantID int64           `db:"merchant_id"`
	SharerID   int64           `db:"sharer_id"`
	OpenID     string          `db:"openid"`
	BillNo     string          `db:"bill_no"`
	Amount     decimal.Decimal `db:"amount"`
	Status     PacketStatus    `db:"status"`
	SendAfter  time.Time       `db:"send_after"`
	NextAt     time.Time       `db:"next_at"`
	Attempts   int             `db:"attempts"`
	SendListID string          `db:"send_list_id"`
	LastError  string          `db:"last_error"` // WeChat's last answer, for operators
	// Reason is what the sharer reads about a packet WeChat refused or held back, in Chinese.
	Reason     string     `db:"reason"`
	CheckedAt  *time.Time `db:"checked_at"` // when WeChat was last asked about it (sent)
	CreatedAt  time.Time  `db:"created_at"`
	SentAt     *time.Time `db:"sent_at"`
	FinishedAt *time.Time `db:"finished_at"`
}

const packetCols = `id, merchant_id, sharer_id, openid, bill_no, amount, status, send_after, next_at, attempts,
send_list_id, last_error, reason, checked_at, created_at, sent_at, finished_at`

// RedPackets is what payouts need from a merchant's WeChat (package wechat's Client).
type RedPackets interface {
	SendRedPacket(ctx context.Context, p wechat.RedPacket) (wechat.SendResult, error)
	RedPacketInfo(ctx context.Context, billNo string) (wechat.PacketInfo, error)
	SendTemplate(ctx context.Context, m wechat.TemplateMessage) (int64, error)
}

// PayoutConfig wires Payouts. Zero values take the defaults in brackets.
type PayoutConfig struct {
	// Clients returns a merchant's WeChat client.
	Clients func(ctx context.Context, merchantID int64) (RedPackets, error)
	// Rate is sendredpack calls per second per merchant, across all replicas [30].
	Rate float64
	// Workers is how many sends per merchant may be in flight at once [4].
	Workers int
	// Merchants is how many merchants' packets are sent at once, each holding a database
	// connection for its advisory lock while it sends [16].
	Merchants int
	// Lease is how long a packet handed to a sender is left alone before another run may
	// retry it (same bill number) — a crashed sender's packets wait this long [2m].
	Lease time.Duration
	// FirstCheck is how soon after sending a packet's status is first polled; the checks then
	// back off, each due its packet's age plus FirstCheck later (30 s, 1 m, 2 m, 4 m, …) up
	// to CheckEvery [30s].
	FirstCheck time.Duration
	// CheckEvery is the longest wait between two polls of a sent packet's status [10m].
	CheckEvery time.Duration
	// RefreshEvery is how often a sharer opening their claim records may have a sent packet
	// asked about (Refresh) [30s].
	RefreshEvery time.Duration
	// ServerIP is sent as client_ip on sendredpack [127.0.0.1].
	ServerIP string
	Now      func() time.Time
	Log      *slog.Logger

	// crash, when set (tests), is asked at the two dangerous moments of a send — "leased"
	// (committed, not yet sent) and "sent" (WeChat answered, not yet recorded) — and makes the
	// sender abandon the packet as if its process died there.
	crash func(point, billNo string) bool
}

// Payouts pays sharers' vaults out as red packets. Safe for concurrent use and for several
// replicas on one database.
type Payouts struct {
	db     *sqlx.DB
	ledger *Service
	cfg    PayoutConfig
	rates  rates  // each merchant's sendredpack pace, across runs
	sender string // this process, in payout_senders
}

// NewPayouts returns Payouts moving money through ledger.
func NewPayouts(db *sqlx.DB, ledger *Service, cfg PayoutConfig) *Payouts {
	if cfg.Rate <= 0 {
		cfg.Rate = 30
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Merchants <= 0 {
		cfg.Merchants = 16
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.CheckEvery <= 0 {
		cfg.CheckEvery = 10 * time.Minute
	}
	if cfg.FirstCheck <= 0 {
		cfg.FirstCheck = 30 * time.Second
	}
	cfg.FirstCheck = min(cfg.FirstCheck, cfg.CheckEvery)
	if cfg.RefreshEvery <= 0 {
		cfg.RefreshEvery = 30 * time.Second
	}
	if cfg.ServerIP == "" {
		cfg.ServerIP = "127.0.0.1"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Payouts{db: db, ledger: ledger, cfg: cfg, sender: newSenderID()}
}

// newSenderID names this process (this Payouts) among the replicas sending red packets.
func newSenderID() string {
	b := make([]byte, 8)
	rand.Read(b) //nolint:errcheck // never fails (crypto/rand)
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%x", truncateRunes(host, 40), os.Getpid(), b)
}

// ClaimResult is what a claim created.
type ClaimResult struct {
	Packets []Packet
	Total   decimal.Decimal
	Queued  int // packets waiting for a later day (WeChat's daily limits)
}

// splitPackets cuts total into packets of at most 200 yuan, none below 1 yuan: 450.30 →
// 200, 200, 50.30; 400.50 → 200, 199.50, 1.00.
func splitPackets(total decimal.Decimal) []decimal.Decimal {
	var out []decimal.Decimal
	for rest := total; rest.IsPositive(); {
		p := decimal.Min(rest, packetMax)
		out = append(out, p)
		rest = rest.Sub(p)
	}
	if n := len(out); n > 1 && out[n-1].LessThan(packetMin) {
		short := packetMin.Sub(out[n-1])
		out[n-2], out[n-1] = out[n-2].Sub(short), packetMin
	}
	return out
}

// Claim turns the sharer's whole available vault into red packets. Under 1 yuan it is refused
// with how much is missing; nothing at all is ErrNothingToClaim.
func (p *Payouts) Claim(ctx context.Context, merchantID, sharerID int64, openID string) (ClaimResult, error) {
	if openID == "" || sharerID <= 0 {
		return ClaimResult{}, fmt.Errorf("wallet: claim needs the sharer and their openid")
	}
	var res ClaimResult
	err := Transact(ctx, p.db, func(tx *sqlx.Tx) error {
		var vault decimal.Decimal
		err := sqlx.GetContext(ctx, tx, &vault, `SELECT balance FROM accounts WHERE merchant_id = $1 AND kind = 'vault' AND ref_id = $2 FOR UPDATE`,
			merchantID, sharerID)
		if isNoRows(err) || (err == nil && vault.IsZero()) {
			return ErrNothingToClaim
		}
		if err != nil {
			return err
		}
		if vault.LessThan(packetMin) {
			return &ClaimTooSmallError{Available: vault, Missing: packetMin.Sub(vault)}
		}
		now := p.cfg.Now()
		days, err := p.dailyUsage(ctx, tx, merchantID, sharerID, now)
		if err != nil {
			return err
		}
		for _, amount := range splitPackets(vault) {
			day := days.place(amount)
			sendAfter := now
			if day.After(now) {
				sendAfter = day
				res.Queued++
			}
			var id int64
			if err := sqlx.GetContext(ctx, tx, &id, `SELECT nextval('packets_id_seq')`); err != nil {
				return err
			}
			// mch_billno: ≤28 of [0-9A-Za-z]; unique because the id is.
			bill := fmt.Sprintf("FX%s%010d", now.In(wechatDay).Format("20060102"), id)
			var pk Packet
			if err := sqlx.GetContext(ctx, tx, &pk, `
INSERT INTO packets (id, merchant_id, sharer_id, openid, bill_no, amount, send_after, next_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) RETURNING `+packetCols, id, merchantID, sharerID, openID, bill, amount, sendAfter, now); err != nil {
				return err
			}
			if _, err := p.ledger.ClaimPayout(ctx, tx, merchantID, sharerID, amount, "packet:"+bill, bill); err != nil {
				return err
			}
			res.Packets = append(res.Packets, pk)
			res.Total = res.Total.Add(amount)
		}
		return nil
	})
	if err != nil {
		return ClaimResult{}, fmt.Errorf("wallet: claim of sharer %d: %w", sharerID, err)
	}
	return res, nil
}

// wechatDay is where WeChat's day starts, for the per-user daily packet limits and the dates in
// bill numbers: Beijing time (UTC+8, no daylight saving), whatever the server's TIME_ZONE.
var wechatDay = time.FixedZone("Asia/Shanghai", 8*60*60)

// dayUsage is how many packets and how much a sharer has (or will have) received per
// WeChat day, starting today.
type dayUsage struct {
	loc   *time.Location
	today time.Time
	count map[time.Time]int
	sum   map[time.Time]decimal.Decimal
}

func (p *Payouts) dailyUsage(ctx context.Context, tx *sqlx.Tx, merchantID, sharerID int64, now time.Time) (*dayUsage, error) {
	loc := wechatDay
	y, m, d := now.In(loc).Date()
	u := &dayUsage{loc: loc, today: time.Date(y, m, d, 0, 0, 0, 0, loc), count: map[time.Time]int{}, sum: map[time.Time]decimal.Decimal{}}
	var rows []struct {
		SendAfter time.Time       `db:"send_after"`
		SentAt    *time.Time      `db:"sent_at"`
		Amount    decimal.Decimal `db:"amount"`
	}
	// Failed packets never reached the user; everything else counts on the day it went (or
	// will go) out.
	if err := sqlx.SelectContext(ctx, tx, &rows, `
SELECT send_after, sent_at, amount FROM packets
WHERE merchant_id = $1 AND sharer_id = $2 AND status <> 'failed' AND COALESCE(sent_at, send_after) >= $3`,
		merchantID, sharerID, u.today); err != nil {
		return nil, err
	}
	for _, r := range rows {
		at := r.SendAfter
		if r.SentAt != nil {
			at = *r.SentAt
		}
		day := u.dayOf(at)
		u.count[day]++
		u.sum[day] = u.sum[day].Add(r.Amount)
	}
	return u, nil
}

func (u *dayUsage) dayOf(t time.Time) time.Time {
	y, m, d := t.In(u.loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, u.loc)
}

// place books a packet on the first day, from today, with room under both limits.
func (u *dayUsage) place(amount decimal.Decimal) time.Time {
	for day := u.today; ; day = day.AddDate(0, 0, 1) {
		if u.count[day] < dailyPacketsMax && !u.sum[day].Add(amount).GreaterThan(dailyAmountMax) {
			u.count[day]++
			u.sum[day] = u.sum[day].Add(amount)
			return day
		}
	}
}

// Packets returns a sharer's red packets, newest first.
func (p *Payouts) Packets(ctx context.Context, merchantID, sharerID int64, limit int) ([]Packet, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	var ps []Packet
	err := p.db.SelectContext(ctx, &ps, `SELECT `+packetCols+` FROM packets WHERE merchant_id = $1 AND sharer_id = $2 ORDER BY id DESC LIMIT $3`,
		merchantID, sharerID, limit)
	if err != nil {
		return nil, fmt.Errorf("wallet: packets of sharer %d: %w", sharerID, err)
	}
	return ps, nil
}

// Problem is why a merchant's red packets are not going out.
type Problem struct {
	Code    string    `db:"code"`
	Message string    `db:"message"`
	Since   time.Time `db:"since"`
}

// Problem returns the merchant's payout problem, or nil when sending runs normally.
func (p *Payouts) Problem(ctx context.Context, merchantID int64) (*Problem, error) {
	var pr Problem
	err := p.db.GetContext(ctx, &pr, `SELECT code, message, since FROM payout_pauses WHERE merchant_id = $1`, merchantID)
	if isNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("wallet: payout problem of merchant %d: %w", merchantID, err)
	}
	return &pr, nil
}

// Resume restarts a merchant's paused sending once they have fixed the problem.
func (p *Payouts) Resume(ctx context.Context, merchantID int64) error {
	_, err := p.db.ExecContext(ctx, `DELETE FROM payout_pauses WHERE merchant_id = $1`, merchantID)
	return err
}
