package campaign

import (
	"context"
	"crypto/hmac"
	"fmt"

	"fenxiao/wechat"
)

const userCols = `id, merchant_id, openid, nickname, avatar_url, subscribed, snapshot, created_at`

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

func (s *Service) upsertFan(ctx context.Context, merchantID int64, openid string, subscribed bool) (*User, error) {
	var u User
	err := s.db.GetContext(ctx, &u, `
INSERT INTO wechat_users (merchant_id, openid, subscribed, fan_checked_at) VALUES ($1, $2, $3, now())
ON CONFLICT (merchant_id, openid) DO UPDATE SET subscribed = EXCLUDED.subscribed, fan_checked_at = now(), updated_at = now()
RETURNING `+userCols, merchantID, openid, subscribed)
	if err != nil {
		return nil, fmt.Errorf("campaign: fan %s: %w", openid, err)
	}
	return &u, nil
}

// refreshFan asks WeChat whether a user not known as a fan follows the OA now (they may just
// have followed). Known fans are trusted: an unfollow event clears the flag.
func (s *Service) refreshFan(ctx context.Context, u *User) error {
	if u.Subscribed || u.Snapshot {
		return nil
	}
	wx, err := s.WeChatFor(ctx, u.MerchantID)
	if err != nil {
		return err
	}
	info, err := wx.User(ctx, u.OpenID)
	if err != nil {
		return err
	}
	if _, err := s.upsertFan(ctx, u.MerchantID, u.OpenID, info.Subscribed); err != nil {
		return err
	}
	u.Subscribed = info.Subscribed
	return nil
}

func hmacEqual(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }
