package merchant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"

	"fenxiao/wechat"
)

// Jobs over rows that come due — pending top-ups here; unpaid orders, refunds and payouts in
// the engine — share one rule: a tenant's broken WeChat is that tenant's problem.

// JobBatch bounds the rows one run handles; the next run takes the rest.
const JobBatch = 200

// One merchant's WeChat must not hold up the others' jobs: a run takes at most perMerchant
// rows of each merchant, interleaved (every merchant's oldest first); each WeChat call gets
// callTimeout within the run's own deadline; a row that fails is backed off (retry_at) so the
// next run tries the others first; and a merchant whose WeChat times out, limits the rate or
// refuses the configuration is left alone for the rest of the run. A run never stops at its
// first error: it reports them all at the end.
const (
	perMerchant = 20
	callTimeout = 10 * time.Second
)

// RetryIn is how long a row that failed its attempts times waits: 30 s, 1 m, 2 m … 1 h.
func RetryIn(attempts int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < attempts && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// FairBatch is the query for a job's rows of table (aliased t, columns cols) matching where
// ($1 = now): rows backed off until later are left out, at most perMerchant of a merchant are
// taken, and merchants are interleaved, every merchant's oldest first.
func FairBatch(table, cols, where, orderBy string) string {
	return `SELECT ` + cols + ` FROM (
    SELECT t.*, row_number() OVER (PARTITION BY t.merchant_id ORDER BY ` + orderBy + `) AS rn
    FROM ` + table + ` t WHERE ` + where + ` AND (t.retry_at IS NULL OR t.retry_at <= $1)) x
WHERE rn <= ` + fmt.Sprint(perMerchant) + ` ORDER BY rn, merchant_id LIMIT ` + fmt.Sprint(JobBatch)
}

// BackOffRow records a failed attempt on a row of table (orders, topups) at now: it waits
// before the next one (RetryIn), and the console shows what went wrong.
func BackOffRow(ctx context.Context, db sqlx.ExecerContext, now time.Time, table string, id int64, attempts int, cause error) error {
	msg := cause.Error()
	if len(msg) > 300 {
		msg = msg[:300]
	}
	_, err := db.ExecContext(ctx, `UPDATE `+table+` SET attempts = attempts + 1, retry_at = $2, last_error = $3 WHERE id = $1`,
		id, now.Add(RetryIn(attempts+1)), msg)
	return err
}

// merchantDown reports an error after which the rest of a merchant's rows wait for the next
// run: WeChat unreachable or slow, rate-limited, or the merchant's set-up refused.
func merchantDown(err error) bool {
	switch wechat.KindOf(err) {
	case wechat.KindUnknown, wechat.KindRateLimited, wechat.KindConfig:
		return true
	}
	return errors.Is(err, ErrNoWeChat)
}

// EachDue runs fn on each row within the run's deadline, with the isolation above: it returns
// how many fn reported done and every error that is ours (WeChat's are backed off and logged).
func EachDue[T any](ctx context.Context, log *slog.Logger, job string, rows []T, merchant func(*T) int64,
	fn func(ctx context.Context, row *T) (bool, error), backOff func(ctx context.Context, row *T, cause error) error) (int, error) {
	done := 0
	down := map[int64]bool{}
	var errs []error
	for i := range rows {
		r, m := &rows[i], merchant(&rows[i])
		if ctx.Err() != nil {
			break // the run's time is up; the next run goes on
		}
		if down[m] {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		ok, err := fn(cctx, r)
		cancel()
		if err != nil {
			log.Warn(job+": will retry", "merchant_id", m, "err", err)
			if merchantDown(err) {
				down[m] = true
			}
			if berr := backOff(ctx, r, err); berr != nil {
				errs = append(errs, berr)
			}
			if !isWeChat(err) {
				errs = append(errs, err)
			}
			continue
		}
		if ok {
			done++
		}
	}
	return done, errors.Join(errs...)
}

// isWeChat reports an error that WeChat (or its absence) caused, which backing off handles; any
// other error is ours and is reported too.
func isWeChat(err error) bool {
	var we *wechat.Error
	return errors.As(err, &we) || errors.Is(err, ErrNoWeChat)
}
