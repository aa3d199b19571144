package merchant

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"time"

	"github.com/lib/pq"
)

// throttleRule is how one kind of key slows down: free attempts without a wait, then a wait
// of base that doubles with every further attempt up to max; the count starts again once the
// key has seen no attempt for forget.
type throttleRule struct {
	kind                   string
	free                   int
	base, max, forgetAfter time.Duration
}

// The console's throttles (issue 14, points 5 and 8). A log-in attempt takes three keys:
//
//   - its (email, address) pair: 3 tries, then 2 s, 4 s, … up to 5 minutes between tries.
//     This is what stops one attacker guessing one merchant's password, and it slows only
//     that attacker: the owner at another address has a pair of their own.
//   - the email, from any address the account never signed in from: 10 tries, then up to one
//     minute between tries. It bounds many addresses guessing together, and its short cap
//     means they can make the owner wait a minute at most, never lock them out.
//   - the address: 30 tries, then 1 minute doubling up to 15 minutes. One address trying
//     many emails (password spraying) is stopped here.
//
// Every attempt is counted before its password is checked and a right password gives the
// counts back, so parallel attempts cannot all slip past one read of the count.
var (
	rulePair   = throttleRule{kind: "pair", free: 3, base: 2 * time.Second, max: 5 * time.Minute, forgetAfter: time.Hour}
	ruleEmail  = throttleRule{kind: "email", free: 10, base: 2 * time.Second, max: time.Minute, forgetAfter: time.Hour}
	ruleIP     = throttleRule{kind: "ip", free: 30, base: time.Minute, max: 15 * time.Minute, forgetAfter: 15 * time.Minute}
	ruleSignUp = throttleRule{kind: "signup", free: 5, base: time.Hour, max: time.Hour, forgetAfter: time.Hour}
	// knownFor is how long an address an account signed in from stays exempt from the
	// email's throttle.
	knownFor = 30 * 24 * time.Hour
)

// throttleKey is one key an attempt takes.
type throttleKey struct {
	rule throttleRule
	key  string
}

func keyOf(r throttleRule, parts ...string) throttleKey {
	k := r.kind
	for _, p := range parts {
		k += "|" + p
	}
	return throttleKey{rule: r, key: k}
}

// throttled is the outcome of taking keys: the attempt may go ahead (wait == 0) or must wait.
type throttled struct {
	id   string        // the attempt, to give its counts back
	keys []string      // every key the attempt counted on
	wait time.Duration // > 0: refused; the longest wait of the keys that refused
	by   string        // the kind of key that refused
}

// n is the count after an attempt on row t (old values), as SQL: a refused attempt leaves it,
// a key quiet for its forget period starts again at 1.
const throttleN = `CASE WHEN t.free_at > $2::timestamptz THEN t.fails
	WHEN t.updated_at <= $2::timestamptz - make_interval(secs => t.forget_secs) THEN 1 ELSE t.fails + 1 END`

// throttleWait is the wait set after the n-th attempt (n < free: none), in seconds.
func throttleWait(n, free, base, cap string) string {
	return fmt.Sprintf(`(CASE WHEN %[1]s < %[2]s THEN 0 ELSE LEAST(%[4]s::float8, %[3]s * power(2, LEAST(%[1]s - %[2]s, 30))) END)`, n, free, base, cap)
}

// takeThrottle counts one attempt on every key in one statement and says whether it may go
// ahead. Each key's row is updated under its row lock, so parallel attempts are counted one
// after another: of 80 at once on a key allowing 30, exactly 30 go ahead. A key in its wait
// refuses without being counted; when any key refuses, the keys that did count the attempt
// are given back, so an attempt refused by one key does not push the others.
func (s *Service) takeThrottle(ctx context.Context, keys []throttleKey) (throttled, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return throttled{}, err
	}
	th := throttled{id: hex.EncodeToString(b)}
	if len(keys) == 0 {
		return th, nil
	}
	var names []string
	var free, base, maxs, forget []int64
	for _, k := range keys {
		names = append(names, k.key)
		free = append(free, int64(k.rule.free))
		base = append(base, int64(k.rule.base/time.Second))
		maxs = append(maxs, int64(k.rule.max/time.Second))
		forget = append(forget, int64(k.rule.forgetAfter/time.Second))
	}
	now := s.now().Truncate(time.Microsecond) // PostgreSQL's precision: waits come back exact
	// Rows are taken in key order, so two attempts on the same keys never deadlock.
	rows, err := s.db.QueryxContext(ctx, `
INSERT INTO console_throttle AS t (key, fails, free_n, base_secs, cap_secs, forget_secs, free_at, prev_free, attempt, updated_at)
SELECT k.key, 1, k.free, k.base, k.cap, k.forget,
       $2::timestamptz + make_interval(secs => `+throttleWait("1", "k.free", "k.base", "k.cap")+`), '-infinity', $1, $2::timestamptz
FROM unnest($3::text[], $4::int[], $5::int[], $6::int[], $7::int[]) AS k(key, free, base, cap, forget)
ORDER BY k.key
ON CONFLICT (key) DO UPDATE SET
    fails = `+throttleN+`,
    free_n = EXCLUDED.free_n, base_secs = EXCLUDED.base_secs, cap_secs = EXCLUDED.cap_secs, forget_secs = EXCLUDED.forget_secs,
    free_at = CASE WHEN t.free_at > $2::timestamptz THEN t.free_at
        ELSE $2::timestamptz + make_interval(secs => `+throttleWait("("+throttleN+")", "EXCLUDED.free_n", "EXCLUDED.base_secs", "EXCLUDED.cap_secs")+`) END,
    prev_free = CASE WHEN t.free_at > $2::timestamptz THEN t.prev_free ELSE t.free_at END,
    attempt = CASE WHEN t.free_at > $2::timestamptz THEN t.attempt ELSE EXCLUDED.attempt END,
    updated_at = CASE WHEN t.free_at > $2::timestamptz THEN t.updated_at ELSE $2::timestamptz END
RETURNING key, free_at, attempt = $1 AS taken`,
		th.id, now, pq.Array(names), pq.Array(free), pq.Array(base), pq.Array(maxs), pq.Array(forget))
	if err != nil {
		return th, fmt.Errorf("campaign: throttle: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r struct {
			Key    string    `db:"key"`
			FreeAt time.Time `db:"free_at"`
			Taken  bool      `db:"taken"`
		}
		if err := rows.StructScan(&r); err != nil {
			return th, fmt.Errorf("campaign: throttle: %w", err)
		}
		if r.Taken {
			th.keys = append(th.keys, r.Key)
			continue
		}
		if w := r.FreeAt.Sub(now); w > th.wait {
			th.wait = w
			for _, k := range keys {
				if k.key == r.Key {
					th.by = k.rule.kind
				}
			}
		}
	}
	if err := rows.Err(); err != nil {
		return th, fmt.Errorf("campaign: throttle: %w", err)
	}
	if th.wait > 0 {
		err = s.giveBack(ctx, th, th.keys...)
	}
	return th, err
}

// giveBack undoes the attempt's count on keys (a refused attempt's, a right password's on its
// address), unless a later attempt counted on them since.
func (s *Service) giveBack(ctx context.Context, th throttled, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	_, err := s.db.ExecContext(ctx, `
UPDATE console_throttle SET fails = GREATEST(fails - 1, 0), free_at = prev_free
WHERE key = ANY($1) AND attempt = $2`, pq.Array(keys), th.id)
	if err != nil {
		return fmt.Errorf("campaign: throttle: give back: %w", err)
	}
	return nil
}

// waitWords says a wait the way a person reads it: seconds up to two minutes, then minutes,
// always rounded up so that trying again at the time said works.
func waitWords(d time.Duration) string {
	if d <= 2*time.Minute {
		return fmt.Sprintf("%d 秒", int(math.Ceil(d.Seconds())))
	}
	return fmt.Sprintf("%d 分钟", int(math.Ceil(d.Minutes())))
}
