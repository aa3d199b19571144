package campaign

import (
	"context"
	"crypto/hmac"
	"fmt"
	"time"

	"fenxiao/wechat"
)

const userCols = `id, merchant_id, openid, nickname, avatar_url, subscribed, snapshot, fan_checked_at, created_at`

// SignIn records the user an OAuth sign-in returned. A profile (snsapi_userinfo) updates the
// nickname and avatar; a silent sign-in keeps what is known.
func (s *Service) SignIn(ctx context.Context, merchantID int64, tok wechat.OAuthToken, profile *wechat.User) (*User, error) {
	nickname, avatar := "", ""
	if profile != nil {
		nickname, avatar = profile.Nickname, profile.AvatarURL
	}
	var u User
	err := s.db.GetContext(ctx, &u, `
INSERT INTO wechat_users (merchant_id, openid, nickname, avatar_url, snapshot) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (merchant_id, openid) DO UPDATE SET
    nickname = CASE WHEN EXCLUDED.nickname <> '' THEN EXCLUDED.nickname ELSE wechat_users.nickname END,
    avatar_url = CASE WHEN EXCLUDED.avatar_url <> '' THEN EXCLUDED.avatar_url ELSE wechat_users.avatar_url END,
    snapshot = EXCLUDED.snapshot, updated_at = now()
RETURNING `+userCols, merchantID, tok.OpenID, nickname, avatar, tok.Snapshot)
	if err != nil {
		return nil, fmt.Errorf("campaign: sign in %s: %w", tok.OpenID, err)
	}
	s.userChanged(u.ID)
	return &u, nil
}

// User returns a merchant's WeChat user.
func (s *Service) User(ctx context.Context, merchantID, id int64) (*User, error) {
	var u User
	err := s.db.GetContext(ctx, &u, `SELECT `+userCols+` FROM wechat_users WHERE merchant_id = $1 AND id = $2`, merchantID, id)
	if isNoRows(err) {
		return nil, fmt.Errorf("user %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("campaign: user %d: %w", id, err)
	}
	return &u, nil
}

// fanTrust is how long a "follows" answer of WeChat's user-info API is reused by the fans-only
// gate. A "does not follow" answer is never reused: the visitor may have just followed.
const fanTrust = 5 * time.Minute

// refreshFan asks WeChat's user-info API whether the user follows the official account,
// unless it said so less than fanTrust ago. Only that API sets a user subscribed: a subscribe
// event can be forged or replayed and proves nothing; an unsubscribe event only clears the
// flag (see handleOAEvent), which at worst costs one more question to WeChat.
func (s *Service) refreshFan(ctx context.Context, u *User) error {
	if u.Snapshot {
		return nil
	}
	now := s.now()
	if u.Subscribed && u.FanCheckedAt != nil && !u.FanCheckedAt.After(now) && now.Sub(*u.FanCheckedAt) < fanTrust {
		return nil
	}
	wx, err := s.wechatFor(ctx, u.MerchantID)
	if err != nil {
		return err
	}
	info, err := wx.User(ctx, u.OpenID)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE wechat_users SET subscribed = $3, fan_checked_at = $4, updated_at = now()
WHERE merchant_id = $1 AND openid = $2`, u.MerchantID, u.OpenID, info.Subscribed, now); err != nil {
		return fmt.Errorf("campaign: fan %s: %w", u.OpenID, err)
	}
	s.userChanged(u.ID)
	u.Subscribed, u.FanCheckedAt = info.Subscribed, &now
	return nil
}

func hmacEqual(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }
