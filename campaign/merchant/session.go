package merchant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Console sessions end after sessionIdle without a request, and sessionMax after log-in
// whatever happens.
const (
	sessionIdle  = 12 * time.Hour
	sessionMax   = 7 * 24 * time.Hour
	sessionTouch = time.Minute // last_seen_at is written at most this often
)

// ConsoleSession is a signed-in console visitor.
type ConsoleSession struct {
	Account
	LastSeen time.Time `db:"last_seen_at"`
	Created  time.Time `db:"session_created_at"`
}

// newConsoleSession stores a session for acc and returns its token; the session of oldToken, if
// any, is deleted in the same transaction.
func (s *Service) newConsoleSession(ctx context.Context, tx *sqlx.Tx, acc *Account, oldToken string) (string, error) {
	if oldToken != "" {
		if _, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE id = $1`, tokenID(oldToken)); err != nil {
			return "", err
		}
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	now := s.now()
	_, err := tx.ExecContext(ctx, `
INSERT INTO console_sessions (id, merchant_id, account_id, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $4, $5)`,
		tokenID(token), acc.MerchantID, acc.ID, now, sessionExpiry(now, now))
	if err != nil {
		return "", err
	}
	return token, nil
}

func sessionExpiry(created, seen time.Time) time.Time {
	idle, max := seen.Add(sessionIdle), created.Add(sessionMax)
	if idle.Before(max) {
		return idle
	}
	return max
}

// tokenID is what the database keeps of a session token: its SHA-256.
func tokenID(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// ConsoleSession returns the live session of a cookie token, or ErrNotFound. It extends the idle
// timeout, writing at most once a minute per session.
func (s *Service) ConsoleSession(ctx context.Context, token string) (*ConsoleSession, error) {
	if token == "" {
		return nil, fmt.Errorf("session: %w", ErrNotFound)
	}
	var ses ConsoleSession
	id := tokenID(token)
	now := s.now()
	err := s.db.GetContext(ctx, &ses, `
SELECT a.id, a.merchant_id, a.email, a.created_at, m.name AS merchant_name, s.last_seen_at,
       s.created_at AS session_created_at
FROM console_sessions s JOIN merchant_accounts a ON a.id = s.account_id JOIN merchants m ON m.id = s.merchant_id
WHERE s.id = $1 AND s.expires_at > $2`, id, now)
	if isNoRows(err) {
		return nil, fmt.Errorf("session: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("campaign: session: %w", err)
	}
	if now.Sub(ses.LastSeen) >= sessionTouch {
		if _, err := s.db.ExecContext(ctx, `UPDATE console_sessions SET last_seen_at = $2, expires_at = $3 WHERE id = $1`,
			id, now, sessionExpiry(ses.Created, now)); err != nil {
			return nil, fmt.Errorf("campaign: touch session: %w", err)
		}
	}
	return &ses, nil
}

// EndConsoleSession signs a session out (log out). Ending an unknown session is not an error.
func (s *Service) EndConsoleSession(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM console_sessions WHERE id = $1 OR expires_at < $2`, tokenID(token), s.now()); err != nil {
		return fmt.Errorf("campaign: end session: %w", err)
	}
	return nil
}

// PurgeConsole deletes expired console sessions and throttle keys whose wait is over and
// which have been quiet for their forget period (a count that would start again anyway); a
// job runs it.
func (s *Service) PurgeConsole(ctx context.Context) (int, error) {
	now := s.now()
	res, err := s.db.ExecContext(ctx, `DELETE FROM console_sessions WHERE expires_at < $1`, now)
	if err != nil {
		return 0, fmt.Errorf("campaign: purge console sessions: %w", err)
	}
	sessions, _ := res.RowsAffected()
	res, err = s.db.ExecContext(ctx, `DELETE FROM console_throttle WHERE free_at < $1 AND updated_at < $1 - make_interval(secs => forget_secs)`, now)
	if err != nil {
		return 0, fmt.Errorf("campaign: purge console throttles: %w", err)
	}
	attempts, _ := res.RowsAffected()
	return int(sessions + attempts), nil
}
