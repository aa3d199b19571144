package campaign

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"fenxiao/campaign/merchant"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Rate limits for what a follower can do many times: placing orders, trying a campaign's
// password, reporting shares. Counts live in PostgreSQL (rate_windows) so that every replica
// counts against the same limit, on fixed windows.

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
// long the window still runs. The events of all keys arriving on this replica within the
// batch window are counted by one upsert (countBatch): in a flash sale every order attempt
// is counted, and one statement per attempt cost more than the reservation itself.
func (s *Service) allow(ctx context.Context, key string, r rate) (bool, time.Duration, error) {
	now := s.now()
	start := now.Truncate(r.Window)
	ev := &event{key: key, start: start, done: make(chan struct{})}
	s.counts.add(0, ev)
	select {
	case <-ev.done:
	case <-ctx.Done():
		return false, 0, ctx.Err()
	}
	if ev.err != nil {
		return false, 0, fmt.Errorf("campaign: rate limit %s: %w", key, ev.err)
	}
	return ev.n <= r.Max, start.Add(r.Window).Sub(now), nil
}

// event is one event to count, waiting for its batch; n is the window's count with it.
type event struct {
	key   string
	start time.Time
	n     int
	err   error
	done  chan struct{} // closed once n or err is set
}

// countBatch counts a batch of events: one upsert adds each window's events, in (key,
// window) order so that replicas counting the same keys at once never wait for each other
// in a circle, and each event learns the count up to and including itself.
func (s *Service) countBatch(db conn, batch []*event) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	type window struct {
		key   string
		start int64
	}
	of := map[window][]*event{}
	var windows []window
	for _, ev := range batch {
		w := window{ev.key, ev.start.Unix()}
		if of[w] == nil {
			windows = append(windows, w)
		}
		of[w] = append(of[w], ev)
	}
	slices.SortFunc(windows, func(a, b window) int { return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.start, b.start)) })
	keys, starts, adds := make([]string, len(windows)), make([]string, len(windows)), make([]int64, len(windows))
	for i, w := range windows {
		keys[i], adds[i] = w.key, int64(len(of[w]))
		starts[i] = time.Unix(w.start, 0).UTC().Format(time.RFC3339)
	}
	var rows []struct {
		Key   string    `db:"key"`
		Start time.Time `db:"window_start"`
		N     int       `db:"n"`
	}
	err := sqlx.SelectContext(ctx, db, &rows, `
INSERT INTO rate_windows (key, window_start, n)
SELECT w.key, w.start, w.n FROM unnest($1::text[], $2::timestamptz[], $3::int[]) WITH ORDINALITY AS w(key, start, n, i) ORDER BY w.i
ON CONFLICT (key, window_start) DO UPDATE SET n = rate_windows.n + EXCLUDED.n
RETURNING key, window_start, n`, pq.Array(keys), pq.Array(starts), pq.Array(adds))
	for _, r := range rows {
		evs := of[window{r.Key, r.Start.Unix()}]
		for i, ev := range evs {
			ev.n = r.N - len(evs) + 1 + i
		}
	}
	for _, ev := range batch {
		if err == nil && ev.n == 0 {
			err = fmt.Errorf("window %s at %s not counted", ev.key, ev.start)
		}
		ev.err = err
		close(ev.done)
	}
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
	return err == nil && merchant.PublicAddress(a)
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
