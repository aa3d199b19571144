package merchant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"

	"fenxiao/wechat"
)

// WeChat is what the campaign engine needs from a merchant's WeChat (package wechat's Client).
type WeChat interface {
	AppID() string
	AuthorizeURL(redirectURI, scope, state string) string
	ExchangeCode(ctx context.Context, code string) (wechat.OAuthToken, error)
	OAuthUserInfo(ctx context.Context, t wechat.OAuthToken) (wechat.User, error)
	User(ctx context.Context, openid string) (wechat.User, error)
	TempQR(ctx context.Context, scene string, ttl time.Duration) (wechat.QR, error)
	PrepayJSAPI(ctx context.Context, p wechat.Prepay) (wechat.PayRequest, error)
	ParsePayNotify(body []byte) (wechat.PayNotify, error)
	ParseRefundNotify(body []byte) (wechat.RefundNotify, error)
	QueryOrder(ctx context.Context, outTradeNo string) (wechat.OrderState, error)
	CloseOrder(ctx context.Context, outTradeNo string) error
	Refund(ctx context.Context, r wechat.Refund) (wechat.RefundResult, error)
	QueryRefund(ctx context.Context, outTradeNo string) (wechat.RefundState, error)
	OpenCallback(query url.Values, body []byte, now time.Time) (wechat.Callback, error)
	CallbackReply(cb wechat.Callback, text string, now time.Time) ([]byte, error)
	JSConfig(ctx context.Context, pageURL string) (wechat.JSConfig, error)
	SendRedPacket(ctx context.Context, p wechat.RedPacket) (wechat.SendResult, error)
	RedPacketInfo(ctx context.Context, billNo string) (wechat.PacketInfo, error)
	SendTemplate(ctx context.Context, m wechat.TemplateMessage) (int64, error)
}

// CreateMerchant adds a merchant (tenant).
func (s *Service) CreateMerchant(ctx context.Context, name string) (int64, error) {
	var id int64
	if err := s.db.GetContext(ctx, &id, `INSERT INTO merchants (name) VALUES ($1) RETURNING id`, name); err != nil {
		return 0, fmt.Errorf("campaign: create merchant: %w", err)
	}
	return id, nil
}

// secrets is the sealed part of a merchant's WeChat credentials.
type secrets struct {
	AppSecret      string `json:"app_secret"`
	Token          string `json:"token"`
	EncodingAESKey string `json:"aes_key"`
	APIKey         string `json:"api_key"`
	CertP12        []byte `json:"cert_p12"`
}

// SetWeChat validates the credentials (a client is built, which checks the certificate),
// verifies them with WeChat (verifyWeChat) and only then stores them, with the secrets sealed
// under SECRET_KEY and verified_at set. An AppID bound to another merchant is answered exactly
// like a wrong secret, and only after WeChat answered, so nobody learns which AppIDs are
// registered here.
func (s *Service) SetWeChat(ctx context.Context, merchantID int64, c wechat.Credentials) error {
	cl, err := wechat.NewClient(c, s.wechatOpts)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	fields := s.verifyWeChat(ctx, cl)
	cl.Close() //nolint:errcheck
	if len(fields) > 0 {
		return &ValidationError{Fields: fields}
	}
	plain, err := json.Marshal(secrets{c.AppSecret, c.Token, c.EncodingAESKey, c.APIKey, c.CertP12})
	if err != nil {
		return err
	}
	sealed, err := sealBytes(s.sealKey, plain, merchantAAD(merchantID))
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `
INSERT INTO merchant_wechat (merchant_id, app_id, mch_id, sealed, updated_at, verified_at) VALUES ($1, $2, $3, $4, now(), $5)
ON CONFLICT (merchant_id) DO UPDATE SET app_id = EXCLUDED.app_id, mch_id = EXCLUDED.mch_id,
    sealed = EXCLUDED.sealed, updated_at = EXCLUDED.updated_at, verified_at = EXCLUDED.verified_at`, merchantID, c.AppID, c.MchID, sealed, s.now())
	if isUnique(err) {
		return &ValidationError{Fields: map[string]string{"app_secret": msgWrongSecret}}
	}
	if err != nil {
		return fmt.Errorf("campaign: save WeChat settings of merchant %d: %w", merchantID, err)
	}
	return nil
}

func merchantAAD(id int64) []byte { return []byte("merchant:" + strconv.FormatInt(id, 10)) }

// clientCache builds one WeChat client per merchant and rebuilds it when the merchant's
// credentials change (any replica may have changed them: updated_at tells).
type clientCache struct {
	mu      sync.Mutex
	clients map[int64]cachedClient
	// retired are clients replaced by newer credentials: a call that took one before may
	// still be using it (a refund reads its certificate file), so each is closed only
	// retireAfter later, or by Close.
	retired []retiredClient
}

type retiredClient struct {
	client *wechat.Client
	at     time.Time
}

// retireAfter is longer than any call on a client may last, the SDK's own backstop included.
const retireAfter = 2 * time.Minute

type cachedClient struct {
	client  *wechat.Client
	updated time.Time
}

// Close closes the WeChat clients the service built: each keeps its merchant's client
// certificate in a private temporary file (the SDK's refund call reads it from a path), which
// closing removes. Call it once nothing uses the service any more; a later WeChatFor builds
// a new client.
func (s *Service) Close() error {
	s.clients.mu.Lock()
	defer s.clients.mu.Unlock()
	var errs []error
	for id, c := range s.clients.clients {
		errs = append(errs, c.client.Close())
		delete(s.clients.clients, id)
	}
	for _, r := range s.clients.retired {
		errs = append(errs, r.client.Close())
	}
	s.clients.retired = nil
	return errors.Join(errs...)
}

// closeRetired closes the replaced clients no call can be using any more. The caller holds
// the cache's lock.
func (s *Service) closeRetired() {
	if len(s.clients.retired) == 0 {
		return
	}
	kept := s.clients.retired[:0]
	for _, r := range s.clients.retired {
		if s.now().Sub(r.at) < retireAfter {
			kept = append(kept, r)
			continue
		}
		if err := r.client.Close(); err != nil {
			s.log.Warn("close a replaced WeChat client", "err", err)
		}
	}
	s.clients.retired = kept
}

// sealedRow is a merchant's stored WeChat settings, secrets still sealed.
type sealedRow struct {
	AppID   string    `db:"app_id"`
	MchID   string    `db:"mch_id"`
	Sealed  []byte    `db:"sealed"`
	Updated time.Time `db:"updated_at"`
}

// sealedWeChat reads the merchant's stored settings; ErrNoWeChat when there are none.
func (s *Service) sealedWeChat(ctx context.Context, merchantID int64) (sealedRow, error) {
	var row sealedRow
	err := s.db.GetContext(ctx, &row, `SELECT app_id, mch_id, sealed, updated_at FROM merchant_wechat WHERE merchant_id = $1`, merchantID)
	if isNoRows(err) {
		return row, ErrNoWeChat
	}
	if err != nil {
		return row, fmt.Errorf("campaign: WeChat settings of merchant %d: %w", merchantID, err)
	}
	return row, nil
}

// openWeChat opens the secrets of the merchant's stored settings.
func (s *Service) openWeChat(merchantID int64, row sealedRow) (wechat.Credentials, error) {
	plain, err := openBytes(s.sealKey, row.Sealed, merchantAAD(merchantID))
	if err != nil {
		return wechat.Credentials{}, err
	}
	var sec secrets
	if err := json.Unmarshal(plain, &sec); err != nil {
		return wechat.Credentials{}, fmt.Errorf("campaign: WeChat secrets of merchant %d: %w", merchantID, err)
	}
	return wechat.Credentials{AppID: row.AppID, AppSecret: sec.AppSecret, Token: sec.Token, EncodingAESKey: sec.EncodingAESKey,
		MchID: row.MchID, APIKey: sec.APIKey, CertP12: sec.CertP12}, nil
}

// WeChatFor returns the merchant's WeChat client.
func (s *Service) WeChatFor(ctx context.Context, merchantID int64) (WeChat, error) {
	if s.clientsOverride != nil {
		return s.clientsOverride(ctx, merchantID)
	}
	row, err := s.sealedWeChat(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	s.clients.mu.Lock()
	defer s.clients.mu.Unlock()
	s.closeRetired()
	if c, ok := s.clients.clients[merchantID]; ok && c.updated.Equal(row.Updated) {
		return c.client, nil
	}
	creds, err := s.openWeChat(merchantID, row)
	if err != nil {
		return nil, err
	}
	cl, err := wechat.NewClient(creds, s.wechatOpts)
	if err != nil {
		return nil, fmt.Errorf("campaign: WeChat client of merchant %d: %w", merchantID, err)
	}
	if old, ok := s.clients.clients[merchantID]; ok {
		s.clients.retired = append(s.clients.retired, retiredClient{client: old.client, at: s.now()})
	}
	s.clients.clients[merchantID] = cachedClient{client: cl, updated: row.Updated}
	return cl, nil
}

// MerchantByAppID finds the merchant whose official account has this appid.
func (s *Service) MerchantByAppID(ctx context.Context, appID string) (int64, error) {
	var id int64
	err := s.db.GetContext(ctx, &id, `SELECT merchant_id FROM merchant_wechat WHERE app_id = $1`, appID)
	if isNoRows(err) {
		return 0, ErrNotFound
	}
	return id, err
}
