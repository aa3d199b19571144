package wechat

import (
	"context"
	"fmt"

	"github.com/silenceper/wechat/v2/credential"
	"github.com/silenceper/wechat/v2/officialaccount/user"
)

// OAuth scopes of the official account's web authorization.
const (
	ScopeBase     = "snsapi_base"     // silent: the openid only
	ScopeUserInfo = "snsapi_userinfo" // asks the user: nickname and avatar too
)

// OAuthToken is the answer to a code exchange.
type OAuthToken struct {
	OpenID      string
	AccessToken string // for OAuthUserInfo (snsapi_userinfo only)
	// Snapshot is true for WeChat's "snapshot mode" (a page opened from Moments without
	// authorizing): the openid is virtual and must never carry attribution or commissions.
	Snapshot bool
}

// User is what WeChat tells about a user of the official account.
type User struct {
	OpenID     string
	Nickname   string
	AvatarURL  string
	Subscribed bool   // follows the official account
	SceneStr   string // the parametric QR scene the user followed through, if any
}

// AuthorizeURL is the page to send a browser to for OAuth; WeChat comes back to redirectURI
// with ?code=…&state=…. The SDK does not escape state, so keep it to [A-Za-z0-9].
func (c *Client) AuthorizeURL(redirectURI, scope, state string) string {
	u, _ := c.oa.GetOauth().GetRedirectURL(redirectURI, scope, state) // never fails
	if c.opts.BrowserBase != "" {
		u = c.opts.BrowserBase + u[len(realOpen):]
	}
	return u
}

// ExchangeCode turns the code of an OAuth redirect into the user's openid.
func (c *Client) ExchangeCode(ctx context.Context, code string) (OAuthToken, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	t, err := c.oa.GetOauth().GetUserAccessTokenContext(ctx, code)
	if err != nil {
		return OAuthToken{}, oaError("oauth access_token", err)
	}
	if t.OpenID == "" {
		return OAuthToken{}, &Error{Kind: KindUnknown, Op: "oauth access_token", Message: "answer without openid"}
	}
	return OAuthToken{OpenID: t.OpenID, AccessToken: t.AccessToken, Snapshot: t.IsSnapShotUser == 1}, nil
}

// OAuthUserInfo reads nickname and avatar with a snsapi_userinfo token. Whether the user
// follows the official account is not part of this answer: ask User for that.
func (c *Client) OAuthUserInfo(ctx context.Context, t OAuthToken) (User, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	info, err := c.oa.GetOauth().GetUserInfoContext(ctx, t.AccessToken, t.OpenID, "")
	if err != nil {
		return User{}, oaError("sns userinfo", err)
	}
	return User{OpenID: info.OpenID, Nickname: info.Nickname, AvatarURL: info.HeadImgURL}, nil
}

// User reads cgi-bin/user/info: whether openid follows the official account (the fans-only
// gate) and, for a follower, nickname, avatar and the QR scene they followed through.
func (c *Client) User(ctx context.Context, openid string) (User, error) {
	var info *user.Info
	err := c.withToken(ctx, "user info", func() error {
		var err error
		info, err = bounded(ctx, c, "user info", func() (*user.Info, error) {
			return c.oa.GetUser().GetUserInfo(openid)
		})
		return err
	})
	if err != nil {
		return User{}, err
	}
	return User{
		OpenID: info.OpenID, Nickname: info.Nickname, AvatarURL: info.Headimgurl,
		Subscribed: info.Subscribe == 1, SceneStr: info.QrSceneStr,
	}, nil
}

// withToken runs an access_token call, classifying its error, and runs it once more with a
// fresh token when WeChat says the cached one is stale (the SDK never does).
func (c *Client) withToken(ctx context.Context, op string, call func() error) error {
	err := oaError(op, call())
	if err == nil || !staleToken(oaErrcode(err)) || ctx.Err() != nil {
		return err
	}
	key := fmt.Sprintf("%s_access_token_%s", credential.CacheKeyOfficialAccountPrefix, c.creds.AppID)
	_ = c.tokens.Delete(key) // the memory cache never fails to delete
	return oaError(op, call())
}
