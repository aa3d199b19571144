package merchant

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// The server requests other hosts' images in two cases only: an image address a merchant
// pastes into the campaign form, fetched once when the form is saved and stored as an upload;
// and a sharer's WeChat avatar, from WeChat's avatar hosts only. Both go through fetcher,
// which refuses internal addresses when it dials (so a DNS name that resolves to one, or a
// redirect to one, is refused too), follows few redirects and reads at most MaxUploadSize+1
// bytes within a time limit.

const (
	fetchTimeout   = 10 * time.Second
	fetchRedirects = 3
)

// errInternalAddress means a fetch was about to connect to an address that is not public.
var errInternalAddress = errors.New("address not public")

// blockedPrefixes are ranges that IsGlobalUnicast and IsPrivate let through but that are not
// the public internet.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: reaches IPv4, internal ones included
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4: embeds any IPv4 address
}

// PublicAddress says whether a fetch may connect to addr: not loopback, private, link-local,
// unspecified, multicast, CGNAT or another reserved range.
func PublicAddress(addr netip.Addr) bool {
	addr = addr.Unmap()
	if !addr.IsValid() || !addr.IsGlobalUnicast() || addr.IsPrivate() {
		return false
	}
	for _, p := range blockedPrefixes {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}

// fetcher gets images from other hosts. allow lists exact addresses that may be dialled
// although they are not public: the WeChat simulator in development, a test's server.
type fetcher struct {
	client *http.Client
	allow  map[netip.AddrPort]bool
}

func newFetcher(allow []string) (*fetcher, error) {
	f := &fetcher{allow: map[netip.AddrPort]bool{}}
	for _, a := range allow {
		u, err := url.Parse(a)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("campaign: fetch allow %q: not a URL", a)
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		host := u.Hostname()
		if host == "localhost" {
			host = "127.0.0.1"
		}
		ap, err := netip.ParseAddrPort(net.JoinHostPort(host, port))
		if err != nil {
			return nil, fmt.Errorf("campaign: fetch allow %q: only IP addresses may be allowed: %w", a, err)
		}
		f.allow[ap] = true
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: f.control}
	f.client = &http.Client{
		Timeout: fetchTimeout,
		Transport: &http.Transport{
			Proxy:                  nil, // a proxy would make the dial check look at the proxy
			DialContext:            dialer.DialContext,
			TLSHandshakeTimeout:    5 * time.Second,
			ResponseHeaderTimeout:  5 * time.Second,
			MaxResponseHeaderBytes: 16 << 10,
			MaxIdleConns:           4,
			IdleConnTimeout:        30 * time.Second,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > fetchRedirects {
				return refuse("图片地址跳转次数过多")
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return refuse("图片地址跳转到了不支持的地址")
			}
			return nil // the address it leads to is checked when it is dialled
		},
	}
	return f, nil
}

// control runs for every connection, after DNS: the address actually dialled is checked.
func (f *fetcher) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", errInternalAddress, address)
	}
	if f.allow[netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())] || PublicAddress(ap.Addr()) {
		return nil
	}
	return fmt.Errorf("%w: %s", errInternalAddress, address)
}

// get downloads an image, at most MaxUploadSize bytes. Errors are *imageError, for the
// merchant.
func (f *fetcher) get(ctx context.Context, raw string) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, refuse("图片地址须以 http:// 或 https:// 开头")
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, refuse("图片地址无效")
	}
	req.Header.Set("Accept", "image/png,image/jpeg,image/gif,image/webp")
	resp, err := f.client.Do(req)
	if err != nil {
		var ie *imageError
		switch {
		case errors.As(err, &ie):
			return nil, ie
		case errors.Is(err, errInternalAddress):
			return nil, refuse("图片地址指向内部网络，已拒绝；请下载图片后上传")
		case errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Timeout"):
			return nil, refuse("下载图片超时，请下载后上传")
		}
		return nil, refuse("无法下载图片，请检查地址或下载后上传")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, refuse("无法下载图片（对方回答 %d），请检查地址或下载后上传", resp.StatusCode)
	}
	if resp.ContentLength > MaxUploadSize {
		return nil, refuse("图片不能超过 %d MB，请压缩后再上传", MaxUploadSize>>20)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxUploadSize+1))
	if err != nil {
		return nil, refuse("下载图片中断，请重试或下载后上传")
	}
	if len(data) > MaxUploadSize {
		return nil, refuse("图片不能超过 %d MB，请压缩后再上传", MaxUploadSize>>20)
	}
	return data, nil
}

// Fetch reads the image at address (a sharer's avatar, for the poster) through the same
// checks as a pasted image address: public addresses only, size-limited.
func (s *Service) Fetch(ctx context.Context, address string) ([]byte, error) {
	return s.fetch.get(ctx, address)
}
