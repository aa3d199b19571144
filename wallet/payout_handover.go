package wallet

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// One process at a time sends a merchant's red packets (the send lock), and a process taking
// over waits out the calls of the one before it, so the merchant's rate is kept across
// replicas and restarts.

// handover is how long after another process let go of a merchant's send lock this one may
// call: its calls all started before it let go, so none shares a sliding second (and its
// guard) with ours. Our own earlier calls are in the merchant's sendRate.
const handover = rateWindow + rateGuard

// takeOver records this process as the merchant's sender, under the send lock, and returns how
// long to wait before its first call: until handover has passed since another process let go,
// or a whole handover from now when the last holder never said it let go (it died holding the
// lock: its last calls may be a moment old). Times are the database's, so replicas' clocks need
// not agree.
func (p *Payouts) takeOver(ctx context.Context, conn *sqlx.Conn, merchantID int64) (time.Duration, error) {
	var secs float64
	err := conn.GetContext(ctx, &secs, `
WITH prev AS (SELECT sender, released_at FROM payout_senders WHERE merchant_id = $1),
up AS (
    INSERT INTO payout_senders (merchant_id, sender, released_at) VALUES ($1, $2, NULL)
    ON CONFLICT (merchant_id) DO UPDATE SET sender = EXCLUDED.sender, released_at = NULL)
SELECT COALESCE((
    SELECT CASE
        WHEN sender = $2 THEN 0
        WHEN released_at IS NULL THEN $3
        ELSE greatest(0, $3 - extract(epoch FROM clock_timestamp() - released_at)::float8)
    END FROM prev), 0)`, merchantID, p.sender, handover.Seconds())
	if err != nil {
		return 0, fmt.Errorf("wallet: take over sending of merchant %d: %w", merchantID, err)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// letGo records when this process stopped sending the merchant's packets; every call it made
// has started (sendMerchant waits for its workers first).
func (p *Payouts) letGo(conn *sqlx.Conn, merchantID int64) {
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	if _, err := conn.ExecContext(ctx, `UPDATE payout_senders SET released_at = clock_timestamp() WHERE merchant_id = $1 AND sender = $2`,
		merchantID, p.sender); err != nil {
		// The next process to send waits a whole handover instead.
		p.cfg.Log.Error("record the end of sending", "merchant_id", merchantID, "err", err)
	}
}
