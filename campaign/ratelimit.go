package campaign

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Rate limits for what a follower can do many times: placing orders, trying a campaign's
// password, reporting shares. Counts live in PostgreSQL (rate_windows) so that every replica
// counts against the same limit; each check is one upsert on a fixed window.

// RateLimitError refuses a request over a limit; RetryAfter is when the window ends.
type RateLimitError struct {
	What       string // what was limited, in the follower's words: "下单", "密码尝试"
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("campaign: rate limit on %s, retry in %s", e.What, e.RetryAfter)
}

// Is makes every rate limit ErrTooManyRequests.
func (e *RateLimitError) Is(target error) bool { return target == ErrTooManyRequests }

// ErrTooManyRequests is what every RateLimitError is.
var ErrTooManyRequests = errors.New("campaign: too many requests")

// Seconds is RetryAfter rounded up to whole seconds, at least one.
func (e *RateLimitError) Seconds() int { return max(1, int((e.RetryAfter+time.Second-1)/time.Second)) }

// rate is one limit: at most Max events per Window.
type rate struct {
	Max    int
	Window time.Duration
}

// Limits on followers. An order attempt that finds the buyer's unpaid order replays its
// unifiedorder, so attempts are counted, not only new orders.
var (
	ordersPerBuyer    = rate{10, time.Minute}  // per buyer and campaign
	ordersPerAddress  = rate{60, time.Minute}  // per public client address and campaign
	passwordsPerCamp  = rate{100, time.Minute} // wrong passwords per campaign, all users together
	sharesPerUserChan = rate{1, time.Minute}   // counted shares per user, campaign and channel
)

// allow counts one event against key and says whether it is within r, and if not, for how
// long the window still runs.
func (s *Service) allow(ctx context.Context, key string, r rate) (bool, time.Duration, error) {
	now := s.now()
	start := now.Truncate(r.Window)
	var n int
	err := s.db.QueryRowxContext(ctx, `
INSERT INTO rate_windows (key, window_start, n) VALUES ($1, $2, 1)
ON CONFLICT (key, window_start) DO UPDATE SET n = rate_windows.n + 1
RETURNING n`, key, start).Scan(&n)
	if err != nil {
		return false, 0, fmt.Errorf("campaign: rate limit %s: %w", key, err)
	}
	return n <= r.Max, start.Add(r.Window).Sub(now), nil
}

// limit is allow as an error: a *RateLimitError naming what when over.
func (s *Service) limit(ctx context.Context, key string, r rate, what string) error {
	ok, wait, err := s.allow(ctx, key, r)
	if err != nil || ok {
		return err
	}
	return &RateLimitError{What: what, RetryAfter: wait}
}

// limitedAddress reports whether a client address is worth a per-address limit: a public one
// (publicAddress, fetch.go). A loopback or private address is a proxy's, not a follower's (with
// TRUSTED_PROXIES unset behind a load balancer, every follower would share it), so limiting it
// would limit everyone.
func limitedAddress(ip string) bool {
	a, err := netip.ParseAddr(ip)
	return err == nil && publicAddress(a)
}

// PurgeRateWindows deletes windows that ended more than an hour ago (a job).
func (s *Service) PurgeRateWindows(ctx context.Context) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM rate_windows WHERE window_start < $1`, s.now().Add(-time.Hour))
	if err != nil {
		return 0, fmt.Errorf("campaign: purge rate windows: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
