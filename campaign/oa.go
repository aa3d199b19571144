package campaign

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"fenxiao/wechat"
)

// followQRTTL is how long a follow QR code (and the scene it reports) stays valid.
const followQRTTL = 7 * 24 * time.Hour

// followScene is the parametric QR scene issued to one visitor of a campaign:
// "fx<campaign>_<sharer>_<random>" (sharer 0: none). The random part makes it unguessable;
// what the scene means is the follow_scenes row, never the text.
func followScene(campaignID, sharerID int64) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, 10)
	rand.Read(b) //nolint:errcheck // crypto/rand never fails
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return fmt.Sprintf("fx%d_%d_%s", campaignID, sharerID, b)
}

// FollowQR returns the OA's temporary follow QR code for a visitor of a campaign who came
// through sharerID (0: none): following or scanning through it brings them back to this
// campaign and binds them to that sharer. The scene is recorded as issued to the visitor's
// openid; an unexpired QR for the same visitor and sharer is reused.
func (s *Service) FollowQR(ctx context.Context, c *Campaign, visitor *User, sharerID int64) (wechat.QR, error) {
	now := s.now()
	var qr struct {
		Ticket   string    `db:"ticket"`
		URL      string    `db:"qr_url"`
		ImageURL string    `db:"image_url"`
		ExpireAt time.Time `db:"expires_at"`
	}
	err := s.db.GetContext(ctx, &qr, `SELECT ticket, qr_url, image_url, expires_at FROM follow_scenes
WHERE merchant_id = $1 AND campaign_id = $2 AND openid = $3 AND sharer_id = $4 AND expires_at > $5
ORDER BY expires_at DESC LIMIT 1`, c.MerchantID, c.ID, visitor.OpenID, sharerID, now.Add(24*time.Hour))
	if err == nil {
		return wechat.QR{Ticket: qr.Ticket, URL: qr.URL, ImageURL: qr.ImageURL, ExpireAt: qr.ExpireAt}, nil
	}
	if !isNoRows(err) {
		return wechat.QR{}, fmt.Errorf("campaign: follow QR of user %d: %w", visitor.ID, err)
	}
	wx, err := s.wechatFor(ctx, c.MerchantID)
	if err != nil {
		return wechat.QR{}, err
	}
	scene := followScene(c.ID, sharerID)
	code, err := wx.TempQR(ctx, scene, followQRTTL)
	if err != nil {
		return wechat.QR{}, err
	}
	ttl := min(followQRTTL, time.Until(code.ExpireAt)) // WeChat may grant less than asked
	code.ExpireAt = now.Add(ttl)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO follow_scenes
    (merchant_id, scene, openid, campaign_id, sharer_id, ticket, qr_url, image_url, expires_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		c.MerchantID, scene, visitor.OpenID, c.ID, sharerID, code.Ticket, code.URL, code.ImageURL, code.ExpireAt, now); err != nil {
		return wechat.QR{}, fmt.Errorf("campaign: record follow scene of user %d: %w", visitor.ID, err)
	}
	return code, nil
}

// HandleOACallback verifies one push to a merchant's official-account callback, handles it
// once and returns the body to answer with. The wechat adapter checks the signature, the
// timestamp's age and (with an EncodingAESKey) the encryption; here (timestamp, nonce,
// signature) is recorded in PostgreSQL in the same transaction as the event's effects, so
// every replica agrees and a push is processed at most once:
//
//   - the same key with the same body is WeChat retrying a push it got no answer to within
//     5 s (or an eavesdropper replaying it as is): answered "success", not processed again.
//     A retry arriving while the first is still being processed waits for its transaction:
//     when it commits the retry is a duplicate; if it fails the retry processes the push.
//   - the same key with another body is a forgery (plaintext mode signs no body): refused
//     with ErrReplayed, which the route answers 403.
//
// Errors wrap wechat.ErrSignature, ErrStale, ErrPlaintext or ErrMalformed for pushes that do
// not verify, ErrReplayed, ErrNoWeChat, or a database error (answer 500: WeChat retries).
func (s *Service) HandleOACallback(ctx context.Context, merchantID int64, query url.Values, body []byte) ([]byte, error) {
	wx, err := s.wechatFor(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	cb, err := wx.OpenCallback(query, body, now)
	if err != nil {
		return nil, fmt.Errorf("campaign: OA callback of merchant %d: %w", merchantID, err)
	}
	if cb.Echo != "" {
		return wx.CallbackReply(cb, "", now)
	}
	var (
		text      string
		duplicate bool
		changed   []int64 // users the event changed, marked once committed
	)
	err = s.transact(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO oa_callbacks_seen (merchant_id, ts, nonce, signature, body_sha256, received_at)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, merchantID, cb.Timestamp, cb.Nonce, cb.Signature, cb.BodySum[:], now)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			var sum []byte
			if err := sqlx.GetContext(ctx, tx, &sum, `SELECT body_sha256 FROM oa_callbacks_seen
WHERE merchant_id = $1 AND ts = $2 AND nonce = $3 AND signature = $4`, merchantID, cb.Timestamp, cb.Nonce, cb.Signature); err != nil {
				return err
			}
			if !bytes.Equal(sum, cb.BodySum[:]) {
				return ErrReplayed
			}
			duplicate = true
			return nil
		}
		if cb.Event == nil {
			return nil
		}
		text, err = s.handleOAEvent(ctx, tx, merchantID, *cb.Event, &changed)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("campaign: OA callback of merchant %d: %w", merchantID, err)
	}
	s.usersChanged(changed)
	if duplicate {
		s.log.Info("OA callback: duplicate answered without processing", "merchant_id", merchantID, "timestamp", cb.Timestamp)
		return []byte("success"), nil
	}
	return wx.CallbackReply(cb, text, now)
}

// HandleOAEvent applies one already verified event in its own transaction and returns the
// text reply ("" for none). HandleOACallback is the way in from WeChat.
func (s *Service) HandleOAEvent(ctx context.Context, merchantID int64, e wechat.Event) string {
	var text string
	var changed []int64
	err := s.transact(ctx, func(tx *sqlx.Tx) error {
		var err error
		text, err = s.handleOAEvent(ctx, tx, merchantID, e, &changed)
		return err
	})
	if err != nil {
		s.log.Error("OA event", "merchant_id", merchantID, "event", e.Type, "err", err)
		return ""
	}
	s.usersChanged(changed)
	return text
}

// handleOAEvent applies a follow, scan or unfollow. An unfollow clears the fan flag (the
// fans-only gate then asks WeChat again). A follow or scan never marks anyone a fan — only
// WeChat's user-info API does (refreshFan) — but through a follow QR it binds the follower to
// the QR's sharer and replies with the campaign link, provided the scene was issued to this
// very openid and has not expired: a scene issued to someone else, or made up, binds nothing.
// The users it changes are added to changed, for the caller to mark once the transaction has
// committed (a session read between a mark and the commit would keep the old user).
func (s *Service) handleOAEvent(ctx context.Context, tx *sqlx.Tx, merchantID int64, e wechat.Event, changed *[]int64) (string, error) {
	switch e.Type {
	case wechat.EventUnsubscribe:
		return "", tx.SelectContext(ctx, changed, `UPDATE wechat_users SET subscribed = false, fan_checked_at = NULL, updated_at = now()
WHERE merchant_id = $1 AND openid = $2 RETURNING id`, merchantID, e.OpenID)
	case wechat.EventSubscribe, wechat.EventScan:
	default:
		return "", nil
	}
	if e.Scene == "" {
		return "", nil
	}
	if strings.HasPrefix(e.Scene, receiverScenePrefix) {
		return s.bindReceiver(ctx, tx, merchantID, e)
	}
	var issued struct {
		CampaignID int64 `db:"campaign_id"`
		SharerID   int64 `db:"sharer_id"`
	}
	err := sqlx.GetContext(ctx, tx, &issued, `SELECT campaign_id, sharer_id FROM follow_scenes
WHERE merchant_id = $1 AND scene = $2 AND openid = $3 AND expires_at > $4`, merchantID, e.Scene, e.OpenID, s.now())
	if isNoRows(err) {
		s.log.Info("OA event: scene not issued to this follower, ignored", "merchant_id", merchantID, "event", e.Type)
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var u User
	err = sqlx.GetContext(ctx, tx, &u, `SELECT `+userCols+` FROM wechat_users WHERE merchant_id = $1 AND openid = $2`, merchantID, e.OpenID)
	if isNoRows(err) {
		return "", nil // cannot happen (a scene is issued to a signed-in user); not worth a retry
	}
	if err != nil {
		return "", err
	}
	c, err := s.Public(ctx, issued.CampaignID)
	if err != nil || c.MerchantID != merchantID {
		return "", nil
	}
	link := s.CampaignURL(c.ID)
	if issued.SharerID > 0 && issued.SharerID != u.ID && !u.Snapshot {
		if _, err := s.bind(ctx, tx, c, &u, issued.SharerID); err != nil {
			return "", err
		}
		*changed = append(*changed, u.ID) // their binding may have moved: links opened before count again
		link = s.ShareURL(c.ID, issued.SharerID)
	}
	return fmt.Sprintf("感谢关注！点击继续参加活动「%s」：\n%s", c.Title, link), nil
}

// PurgeOACallbacks deletes replay records whose timestamp the window refuses anyway, and
// follow scenes expired for a day. Safe on several replicas at once.
func (s *Service) PurgeOACallbacks(ctx context.Context) (int, error) {
	now := s.now()
	res, err := s.db.ExecContext(ctx, `DELETE FROM oa_callbacks_seen WHERE ts < $1`, now.Add(-2*wechat.CallbackWindow).Unix())
	if err != nil {
		return 0, fmt.Errorf("campaign: purge OA callbacks: %w", err)
	}
	n, _ := res.RowsAffected()
	res, err = s.db.ExecContext(ctx, `DELETE FROM follow_scenes WHERE expires_at < $1`, now.Add(-24*time.Hour))
	if err != nil {
		return int(n), fmt.Errorf("campaign: purge follow scenes: %w", err)
	}
	m, _ := res.RowsAffected()
	return int(n + m), nil
}
