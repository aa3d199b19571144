package sim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"fenxiao/wechat"
)

// MerchantConfig describes a merchant to add. Empty credentials are generated.
type MerchantConfig struct {
	Name           string // the official account's and the shop's name
	AppID          string
	AppSecret      string
	Token          string
	EncodingAESKey string
	MchID          string
	APIKey         string
	// BalanceFen is the merchant's WeChat Pay balance that red packets are paid from;
	// 0 means 1,000,000 yuan. Set it low (SetBalance) to see NOTENOUGH.
	BalanceFen int64
	// CallbackURL receives the official account's events (subscribe, SCAN).
	CallbackURL string
	// MessageMode is the callback's 消息加解密方式 chosen in the OA console: ModeSafe (the
	// default), ModeCompat (plaintext and encrypted copies) or ModePlain.
	MessageMode string
}

// Message modes of the official account's callback.
const (
	ModeSafe   = "safe"   // 安全模式: the body is encrypted, the query carries msg_signature
	ModeCompat = "compat" // 兼容模式: plaintext fields and the encrypted copy side by side
	ModePlain  = "plain"  // 明文模式: signature covers only the token, timestamp and nonce
)

// merchant is one official account with its WeChat Pay merchant number.
type merchant struct {
	name                                        string
	appID, secret, token, aesKey, mchID, apiKey string
	callbackURL, mode                           string
	certP12                                     []byte // the client certificate handed out
	lastPush                                    *Push  // the latest callback pushed, for Redeliver
	balanceFen                                  int64
	rateSecond                                  int64 // the wall-clock second being counted
	rateCalls                                   int
}

// Errors of the Go API.
var (
	ErrUnknownMerchant = errors.New("sim: unknown merchant")
	ErrUnknownUser     = errors.New("sim: unknown user")
	ErrDuplicate       = errors.New("sim: merchant appid or mch_id already registered")
	ErrNotFound        = errors.New("sim: not found")
	ErrState           = errors.New("sim: not possible in this state")
)

// DemoMerchant is the merchant make dev registers: fixed credentials so that a database
// seeded with them stays valid across restarts of the in-memory simulator. Dev only.
func DemoMerchant() MerchantConfig {
	return MerchantConfig{
		Name:           "分销宝演示店",
		AppID:          "wxd0e1f2a3b4c5d6e7",
		AppSecret:      "5f0c1ad1e1f9a0c2b3d4e5f60718293a",
		Token:          "fenxiaodemotoken",
		EncodingAESKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
		MchID:          "1900000109",
		APIKey:         "fenxiaoDemoApiKey0123456789abcde",
	}
}

// AddMerchant registers a merchant and returns its credentials, with a freshly generated
// client certificate (.p12, password = mch_id) that the SDK and the adapter can load.
func (s *Server) AddMerchant(mc MerchantConfig) (wechat.Credentials, error) {
	s.mu.Lock()
	n := s.id()
	s.mu.Unlock()
	if mc.AppID == "" {
		mc.AppID = "wx" + randomHex(16)
	}
	if mc.MchID == "" {
		mc.MchID = fmt.Sprintf("19%08d", n)
	}
	if mc.AppSecret == "" {
		mc.AppSecret = randomHex(32)
	}
	if mc.Token == "" {
		mc.Token = randomString(32)
	}
	if mc.EncodingAESKey == "" {
		mc.EncodingAESKey = randomString(43)
	}
	switch mc.MessageMode {
	case "":
		mc.MessageMode = ModeSafe
	case ModeSafe, ModeCompat, ModePlain:
	default:
		return wechat.Credentials{}, fmt.Errorf("sim: unknown message mode %q", mc.MessageMode)
	}
	if mc.APIKey == "" {
		mc.APIKey = randomString(32)
	}
	if mc.Name == "" {
		mc.Name = fmt.Sprintf("测试商户%d", n)
	}
	if mc.BalanceFen == 0 {
		mc.BalanceFen = 100_000_000
	}
	p12, err := newCertP12(mc.MchID) // outside the lock: key generation takes a while
	if err != nil {
		return wechat.Credentials{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.merchants[mc.AppID] != nil || s.byMch[mc.MchID] != nil {
		return wechat.Credentials{}, ErrDuplicate
	}
	m := &merchant{
		name: mc.Name, appID: mc.AppID, secret: mc.AppSecret, token: mc.Token, aesKey: mc.EncodingAESKey,
		mchID: mc.MchID, apiKey: mc.APIKey, callbackURL: mc.CallbackURL, mode: mc.MessageMode, balanceFen: mc.BalanceFen,
		certP12: p12,
	}
	s.merchants[m.appID] = m
	s.byMch[m.mchID] = m
	return m.credentials(), nil
}

// SetCallbackURL sets where the official account's events go.
func (s *Server) SetCallbackURL(appID, url string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.merchants[appID]
	if m == nil {
		return ErrUnknownMerchant
	}
	m.callbackURL = url
	return nil
}

// SetBalance sets the WeChat Pay balance red packets are paid from.
func (s *Server) SetBalance(mchID string, fen int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.byMch[mchID]
	if m == nil {
		return ErrUnknownMerchant
	}
	m.balanceFen = fen
	return nil
}

// Balance returns the WeChat Pay balance red packets are paid from.
func (s *Server) Balance(mchID string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.byMch[mchID]
	if m == nil {
		return 0, ErrUnknownMerchant
	}
	return m.balanceFen, nil
}

// newCertP12 makes a self-signed client certificate like apiclient_cert.p12, encoded with
// the legacy 3DES algorithms that golang.org/x/crypto/pkcs12 (used by the SDK) decodes.
func newCertP12(mchID string) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "Tenpay.com Root CA simulator " + mchID, Organization: []string{"Tenpay.com"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(5 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return pkcs12.LegacyDES.Encode(key, cert, nil, mchID)
}

// credentialsJSON is how the admin API hands out credentials (the .p12 in base64).
func credentialsJSON(c wechat.Credentials) map[string]string {
	return map[string]string{
		"appid": c.AppID, "appsecret": c.AppSecret, "token": c.Token, "encoding_aes_key": c.EncodingAESKey,
		"mch_id": c.MchID, "api_key": c.APIKey, "cert_p12_base64": base64.StdEncoding.EncodeToString(c.CertP12),
	}
}
