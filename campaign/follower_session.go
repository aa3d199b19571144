package campaign

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"fenxiao/wechat"
)

// Followers sign in through the official account's web OAuth; their sessions live in
// PostgreSQL (h5_sessions) so any replica serves any request. The cookie carries a random
// token and the table only its SHA-256. An OAuth round trip is bound to the browser that
// started it: the state is random, stored in that browser's session, single-use and valid
// for ten minutes, so a code cannot be replayed into someone else's session.

var (
	// ErrSignInState means an OAuth answer does not match a round trip this browser started
	// (expired, used, or started elsewhere): start again from the campaign page.
	ErrSignInState = errors.New("campaign: sign-in state does not match")
	// ErrSignInDenied means the user declined the authorization (snsapi_userinfo).
	ErrSignInDenied = errors.New("campaign: sign-in declined")
)

const (
	followerIdle  = 30 * 24 * time.Hour // signed in: until 30 days after the last visit
	followerAnon  = time.Hour           // anonymous: long enough for one OAuth round trip
	followerTouch = time.Hour           // seen_at is written at most this often
	oauthWindow   = 10 * time.Minute
)

// FollowerSession is a browser's sign-in. User is nil while it is anonymous.
type FollowerSession struct {
	MerchantID int64
	User       *User
	Scope      string // the OAuth scope of the last sign-in
}

// followerHash is what the database keeps of a follower's cookie token.
func followerHash(token string) []byte {
	sum := sha256.Sum256([]byte("h5:" + token))
	return sum[:]
}

func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// SignInURL starts an OAuth round trip for merchantID with scope, coming back to next (a path
// on this server). token is the browser's session token; when it names no live session a
// new one is made. It returns the session token to set and the authorize URL to redirect to.
func (s *Service) SignInURL(ctx context.Context, token string, merchantID int64, scope, next string) (string, string, error) {
	wx, err := s.wechatFor(ctx, merchantID)
	if err != nil {
		return "", "", err
	}
	b, err := randomToken(18)
	if err != nil {
		return "", "", err
	}
	// The SDK does not escape state: keep it to [A-Za-z0-9].
	state := strings.NewReplacer("-", "", "_", "").Replace(b)
	now := s.now()
	res, err := s.db.ExecContext(ctx, `
UPDATE h5_sessions SET oauth_state = $2, oauth_scope = $3, oauth_next = $4, oauth_expires = $5
WHERE id = $1 AND expires_at > $6`, followerHash(token), state, scope, next, now.Add(oauthWindow), now)
	if err != nil {
		return "", "", fmt.Errorf("campaign: start sign-in: %w", err)
	}
	if n, _ := res.RowsAffected(); token == "" || n == 0 {
		if token, err = randomToken(32); err != nil {
			return "", "", err
		}
		_, err = s.db.ExecContext(ctx, `
INSERT INTO h5_sessions (id, oauth_state, oauth_scope, oauth_next, oauth_expires, created_at, seen_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $6, $7)`, followerHash(token), state, scope, next, now.Add(oauthWindow), now, now.Add(followerAnon))
		if err != nil {
			return "", "", fmt.Errorf("campaign: new session: %w", err)
		}
	}
	redirect := fmt.Sprintf("%s/h5/oauth/%d", s.baseURL, merchantID)
	return token, wx.AuthorizeURL(redirect, scope, state), nil
}

// FinishSignIn completes the round trip the browser's session started: the state must match
// (once), the code is exchanged for the openid, a snsapi_userinfo grant also reads nickname
// and avatar, and the session is signed in as that user under a new token (a token someone
// planted in the browser before the sign-in is worth nothing after it). It returns the path
// to go back to and the new token for the cookie. Snapshot-mode users are signed in as such:
// the gates show them the guidance and they never earn.
func (s *Service) FinishSignIn(ctx context.Context, token string, merchantID int64, code, state string) (next, newToken string, err error) {
	var pending struct {
		Scope string `db:"oauth_scope"`
		Next  string `db:"oauth_next"`
	}
	err = s.db.GetContext(ctx, &pending, `
UPDATE h5_sessions SET oauth_state = '', oauth_expires = NULL
WHERE id = $1 AND oauth_state <> '' AND oauth_state = $2 AND oauth_expires > $3 AND expires_at > $3
RETURNING oauth_scope, oauth_next`, followerHash(token), state, s.now())
	if isNoRows(err) || token == "" || state == "" {
		return "", "", ErrSignInState
	}
	if err != nil {
		return "", "", fmt.Errorf("campaign: finish sign-in: %w", err)
	}
	if code == "" {
		return pending.Next, "", ErrSignInDenied
	}
	wx, err := s.wechatFor(ctx, merchantID)
	if err != nil {
		return "", "", err
	}
	tok, err := wx.ExchangeCode(ctx, code)
	if err != nil {
		return "", "", fmt.Errorf("campaign: OAuth code of merchant %d: %w", merchantID, err)
	}
	var profile *wechat.User
	if pending.Scope == wechat.ScopeUserInfo && !tok.Snapshot {
		p, err := wx.OAuthUserInfo(ctx, tok)
		if err != nil {
			return "", "", fmt.Errorf("campaign: OAuth profile: %w", err)
		}
		profile = &p
	}
	u, err := s.SignIn(ctx, merchantID, tok, profile)
	if err != nil {
		return "", "", err
	}
	s.followers.sessions.remove(followerKey(followerHash(token), merchantID))
	if newToken, err = randomToken(32); err != nil {
		return "", "", err
	}
	now := s.now()
	_, err = s.db.ExecContext(ctx, `
UPDATE h5_sessions SET id = $7, merchant_id = $2, user_id = $3, scope = $4, seen_at = $5, expires_at = $6 WHERE id = $1`,
		followerHash(token), merchantID, u.ID, pending.Scope, now, now.Add(followerIdle), followerHash(newToken))
	if err != nil {
		return "", "", fmt.Errorf("campaign: sign in session: %w", err)
	}
	return pending.Next, newToken, nil
}

// followerSQL reads a session and its user in one query: a signed-in page costs one round
// trip here. It runs prepared (followerStmt): every page of every follower asks it, and an
// unprepared query costs PostgreSQL a parse and a plan each time. The user is looked up by
// its key for the session found (LATERAL; OFFSET 0 keeps the planner from turning it back
// into a join): a plain join let the cached generic plan pick a merge join that walked
// wechat_users in id order, 25 ms a view once one merchant had 100k users, and for every
// merchant alike (TestFollowerSessionPlanIsKeyLookups).
const followerSQL = `
SELECT s.merchant_id AS session_merchant_id, s.scope, s.seen_at, s.user_id,
       u.id AS "u.id", u.merchant_id AS "u.merchant_id", u.openid AS "u.openid", u.nickname AS "u.nickname",
       u.avatar_url AS "u.avatar_url", u.subscribed AS "u.subscribed", u.snapshot AS "u.snapshot",
       u.fan_checked_at AS "u.fan_checked_at", u.created_at AS "u.created_at"
FROM h5_sessions s
LEFT JOIN LATERAL (SELECT * FROM wechat_users WHERE id = s.user_id AND merchant_id = $3 OFFSET 0) u ON true
WHERE s.id = $1 AND s.expires_at > $2`

// Follower returns the session of a cookie token. Its User is nil when the session is
// anonymous, expired, unknown or signed in with another merchant's official account (openids
// are per account: that visitor must sign in again for this one). The session's expiry
// slides forward, written at most once an hour.
func (s *Service) Follower(ctx context.Context, token string, merchantID int64) (*FollowerSession, error) {
	if token == "" {
		return &FollowerSession{}, nil
	}
	var row struct {
		MerchantID sql.NullInt64 `db:"session_merchant_id"`
		Scope      string        `db:"scope"`
		SeenAt     time.Time     `db:"seen_at"`
		UserID     sql.NullInt64 `db:"user_id"`
		User       struct {
			ID           sql.NullInt64  `db:"id"`
			MerchantID   sql.NullInt64  `db:"merchant_id"`
			OpenID       sql.NullString `db:"openid"`
			Nickname     sql.NullString `db:"nickname"`
			AvatarURL    sql.NullString `db:"avatar_url"`
			Subscribed   sql.NullBool   `db:"subscribed"`
			Snapshot     sql.NullBool   `db:"snapshot"`
			FanCheckedAt *time.Time     `db:"fan_checked_at"`
			CreatedAt    sql.NullTime   `db:"created_at"`
		} `db:"u"`
	}
	hash := followerHash(token)
	key := followerKey(hash, merchantID)
	if fs, ok := s.cachedFollower(key); ok {
		return fs, nil
	}
	readAt := time.Now()
	s.followers.reads.Add(1)
	now := s.now()
	stmt, err := s.followerStmt.get(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("campaign: session: %w", err)
	}
	err = stmt.GetContext(ctx, &row, hash, now, merchantID)
	if isNoRows(err) {
		return &FollowerSession{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("campaign: session: %w", err)
	}
	fs := &FollowerSession{MerchantID: row.MerchantID.Int64, Scope: row.Scope}
	if !row.UserID.Valid || row.MerchantID.Int64 != merchantID {
		return fs, nil
	}
	if !row.User.ID.Valid {
		return nil, fmt.Errorf("campaign: user %d: %w", row.UserID.Int64, ErrNotFound)
	}
	ru := row.User
	fs.User = &User{
		ID: ru.ID.Int64, MerchantID: ru.MerchantID.Int64, OpenID: ru.OpenID.String, Nickname: ru.Nickname.String,
		AvatarURL: ru.AvatarURL.String, Subscribed: ru.Subscribed.Bool, Snapshot: ru.Snapshot.Bool,
		FanCheckedAt: ru.FanCheckedAt, CreatedAt: ru.CreatedAt.Time,
	}
	if now.Sub(row.SeenAt) > followerTouch {
		if _, err := s.db.ExecContext(ctx, `UPDATE h5_sessions SET seen_at = $2, expires_at = $3 WHERE id = $1`,
			hash, now, now.Add(followerIdle)); err != nil {
			s.log.Warn("session touch", "err", err) // the visit goes on; the next one retries
		}
	}
	s.keepFollower(key, fs, readAt)
	return fs, nil
}

// DeleteExpiredSessions removes follower sessions past their expiry (a job).
func (s *Service) DeleteExpiredSessions(ctx context.Context) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM h5_sessions WHERE expires_at < $1`, s.now())
	if err != nil {
		return 0, fmt.Errorf("campaign: delete expired sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
