// Package wechat is the only place that speaks WeChat. It wraps the subpackages of
// github.com/silenceper/wechat/v2 (never its root package, whose init turns logrus to debug)
// and writes by hand only what the SDK lacks or gets wrong: gethbinfo, refundquery, scene_id
// on red packets, product_id on Native prepay, notification verification over the raw XML, the
// notification reply, the getBrandWCPayRequest parameters, refund-notification decryption
// and contexts on every call.
//
// A Client serves one merchant (one official account and its WeChat Pay merchant number).
// Amounts cross this boundary as int64 fen; the wallet package converts to decimals.
// Every remote call takes a context and is bounded by Options.Timeout; every error it
// returns is a *Error whose Kind tells retry-with-the-same-bill-number from definitely
// failed from fix-the-configuration (see KindOf).
//
// The SDK keeps its HTTP client and URL rewriting in process globals. NewClient installs
// them once per process: the first client's Options.APIBase wins and a client asking for
// another base is refused, so one process talks to one WeChat (the real one, or the
// simulator in package wechat/sim).
package wechat

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/silenceper/wechat/v2/cache"
	"github.com/silenceper/wechat/v2/officialaccount"
	oaconfig "github.com/silenceper/wechat/v2/officialaccount/config"
	"github.com/silenceper/wechat/v2/pay"
	payconfig "github.com/silenceper/wechat/v2/pay/config"
	"github.com/silenceper/wechat/v2/util"
	"golang.org/x/crypto/pkcs12"
)

// Credentials are one merchant's WeChat secrets: the official account's and WeChat Pay's.
type Credentials struct {
	AppID          string // official account appid (wx…)
	AppSecret      string
	Token          string // signs the OA message callback
	EncodingAESKey string // 43 characters; only for the callback's safe mode
	MchID          string // WeChat Pay merchant number
	APIKey         string // WeChat Pay v2 API key (32 characters)
	CertP12        []byte // apiclient_cert.p12, password = MchID; needed for refunds and red packets
}

// Options are the parts of a client that depend on where it runs rather than on the merchant.
type Options struct {
	// APIBase replaces https://api.weixin.qq.com and https://api.mch.weixin.qq.com, such
	// as the simulator's http://127.0.0.1:8090. Empty means the real WeChat.
	APIBase string
	// BrowserBase replaces the pages a browser opens (open.weixin.qq.com for OAuth,
	// mp.weixin.qq.com for QR images). Empty means the real ones.
	BrowserBase string
	// Timeout bounds each call; 0 means 10 s.
	Timeout time.Duration
}

// Default WeChat hosts.
const (
	realAPI     = "https://api.weixin.qq.com"
	realMchAPI  = "https://api.mch.weixin.qq.com"
	realOpen    = "https://open.weixin.qq.com"
	realMP      = "https://mp.weixin.qq.com"
	defaultWait = 10 * time.Second
	// sdkBackstop bounds SDK calls that have no context: the wrapper returns at the
	// caller's deadline, and the abandoned SDK goroutine ends by this time at the latest.
	sdkBackstop = 60 * time.Second
)

// Client talks to WeChat for one merchant. It is safe for concurrent use.
type Client struct {
	creds    Credentials
	opts     Options
	tokens   cache.Cache // access_token and jsapi_ticket, private to this client
	oa       *officialaccount.OfficialAccount
	pay      *pay.Pay
	certPath string       // the .p12 on disk, for the SDK's refund call
	http     *http.Client // hand-written pay calls, presenting the client certificate
}

// NewClient checks creds and builds a client. A bad certificate is a configuration error
// here, at start-up, rather than a CA_ERROR at the first red packet (the SDK only logs it).
// Close the client to remove its private copy of the certificate.
func NewClient(creds Credentials, opts Options) (*Client, error) {
	if creds.AppID == "" || creds.AppSecret == "" {
		return nil, configErr("appid and appsecret are required")
	}
	if creds.EncodingAESKey != "" && len(creds.EncodingAESKey) != 43 {
		return nil, configErr("EncodingAESKey must be 43 characters")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = defaultWait
	}
	opts.APIBase = strings.TrimRight(opts.APIBase, "/")
	opts.BrowserBase = strings.TrimRight(opts.BrowserBase, "/")
	transport := http.DefaultTransport.(*http.Transport).Clone()
	var cert *tls.Certificate
	if len(creds.CertP12) > 0 {
		if creds.MchID == "" {
			return nil, configErr("a client certificate needs the mch_id (its password)")
		}
		c, err := loadP12(creds.CertP12, creds.MchID)
		if err != nil {
			return nil, err
		}
		cert = &c
		transport.TLSClientConfig = &tls.Config{Certificates: []tls.Certificate{c}}
	}
	if err := installSDKHooks(opts.APIBase); err != nil {
		return nil, err
	}
	c := &Client{creds: creds, opts: opts, tokens: cache.NewMemory()}
	c.oa = officialaccount.NewOfficialAccount(&oaconfig.Config{
		AppID: creds.AppID, AppSecret: creds.AppSecret, Token: creds.Token,
		EncodingAESKey: creds.EncodingAESKey, Cache: c.tokens,
	})
	c.pay = pay.NewPay(&payconfig.Config{AppID: creds.AppID, MchID: creds.MchID, Key: creds.APIKey})
	if cert != nil {
		var err error
		if c.certPath, err = writePrivate(creds.CertP12); err != nil {
			return nil, err
		}
	}
	c.http = &http.Client{Transport: transport, Timeout: opts.Timeout}
	return c, nil
}

// Close removes the client's copy of the certificate. The client must not be used after.
func (c *Client) Close() error {
	if c.certPath == "" {
		return nil
	}
	err := os.Remove(c.certPath)
	c.certPath = ""
	return err
}

// AppID returns the official account's appid.
func (c *Client) AppID() string { return c.creds.AppID }

// MchID returns the WeChat Pay merchant number.
func (c *Client) MchID() string { return c.creds.MchID }

func configErr(msg string) error { return &Error{Kind: KindConfig, Op: "config", Message: msg} }

// loadP12 decodes the merchant certificate the way the SDK will (golang.org/x/crypto/pkcs12,
// password = mch_id), so that what passes here also works in the SDK's cert calls.
func loadP12(p12 []byte, password string) (tls.Certificate, error) {
	blocks, err := pkcs12.ToPEM(p12, password)
	if err != nil {
		return tls.Certificate{}, configErr("client certificate (.p12, password = mch_id) does not decode: " + err.Error())
	}
	var pemData []byte
	for _, b := range blocks {
		pemData = append(pemData, pem.EncodeToMemory(b)...)
	}
	cert, err := tls.X509KeyPair(pemData, pemData)
	if err != nil {
		return tls.Certificate{}, configErr("client certificate has no usable key pair: " + err.Error())
	}
	return cert, nil
}

// writePrivate stores the .p12 in a 0600 temp file: the SDK's refund reads it from a path.
func writePrivate(p12 []byte) (string, error) {
	f, err := os.CreateTemp("", "fenxiao-apiclient-*.p12")
	if err != nil {
		return "", configErr("cannot store the client certificate: " + err.Error())
	}
	if _, err := f.Write(p12); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", configErr("cannot store the client certificate: " + err.Error())
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", configErr("cannot store the client certificate: " + err.Error())
	}
	return f.Name(), nil
}

// The SDK's process globals, installed once. sdkBase is the base its URI modifier rewrites
// to; it cannot differ between clients of one process.
var (
	sdkMu   sync.Mutex
	sdkSet  bool
	sdkBase string
)

// installSDKHooks points the SDK at base (empty: the real WeChat) and gives it an HTTP client
// with timeouts, the first time; later calls only check that base is the same. The
// transport's ResponseHeaderTimeout survives the SDK's cloning for cert calls, which
// otherwise build a client with no timeout at all.
func installSDKHooks(base string) error {
	sdkMu.Lock()
	defer sdkMu.Unlock()
	if sdkSet {
		if base != sdkBase {
			return configErr(fmt.Sprintf("the WeChat SDK of this process already talks to %q, not %q: one API base per process", orReal(sdkBase), orReal(base)))
		}
		return nil
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	transport.ResponseHeaderTimeout = sdkBackstop
	util.DefaultHTTPClient = &http.Client{Transport: transport, Timeout: sdkBackstop}
	if base != "" {
		util.SetURIModifier(func(u string) string {
			for _, host := range []string{realAPI, realMchAPI} {
				if rest, ok := strings.CutPrefix(u, host); ok {
					return base + rest
				}
			}
			return u
		})
	}
	sdkBase, sdkSet = base, true
	return nil
}

func orReal(base string) string {
	if base == "" {
		return "the real WeChat"
	}
	return base
}

// mchURL is the address of a WeChat Pay API path for the hand-written calls.
func (c *Client) mchURL(path string) string {
	if c.opts.APIBase != "" {
		return c.opts.APIBase + path
	}
	return realMchAPI + path
}

// browserURL is the address of a page a person opens (OAuth, QR images).
func (c *Client) browserURL(realHost, path string) string {
	if c.opts.BrowserBase != "" {
		return c.opts.BrowserBase + path
	}
	return realHost + path
}

// bounded runs an SDK call that has no context variant in its own goroutine and returns at
// ctx's end or the client's timeout, whichever comes first; the abandoned call ends by the
// SDK backstop. It also turns an SDK panic (QueryOrder dereferences missing fields) into
// an error of unknown outcome.
func bounded[T any](ctx context.Context, c *Client, op string, f func() (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: &Error{Kind: KindUnknown, Op: op, Message: fmt.Sprintf("SDK panicked on the answer: %v", p)}}
			}
		}()
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, &Error{Kind: KindUnknown, Op: op, Err: ctx.Err()}
	}
}

// needPay refuses pay calls on a client without WeChat Pay credentials.
func (c *Client) needPay(op string, cert bool) error {
	if c.creds.MchID == "" || c.creds.APIKey == "" {
		return &Error{Kind: KindConfig, Op: op, Message: "WeChat Pay mch_id and API key are not configured"}
	}
	if cert && c.certPath == "" {
		return &Error{Kind: KindConfig, Op: op, Message: "the WeChat Pay client certificate (.p12) is not configured"}
	}
	return nil
}

// errTransport wraps a failed HTTP exchange: the request may or may not have been acted on.
func errTransport(op string, err error) error {
	if err == nil {
		return nil
	}
	var we *Error
	if errors.As(err, &we) {
		return err
	}
	return &Error{Kind: KindUnknown, Op: op, Err: err}
}
