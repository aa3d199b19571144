package main

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is everything the server needs to know, read once from flags and the environment and
// validated before anything starts. A flag wins over its environment variable.
type Config struct {
	DatabaseURL string
	HTTPAddr    string
	BaseURL     string
	SecretKey   []byte // 32 bytes: signs share tokens and sessions, encrypts WeChat secrets
	TimeZone    *time.Location
	LogLevel    slog.Level
	Migrate     bool // serve: apply pending migrations before starting
	// WeChatAPIBase, when set, replaces api.weixin.qq.com and api.mch.weixin.qq.com for
	// every SDK call, and the browser pages (OAuth, cashier) too: a simulator's URL.
	WeChatAPIBase string
	WeChatSimAddr string // dev: where the in-process WeChat simulator listens
	// WeChatSimState is the dev simulator's state file (make dev: .data/wechatsim.json), so a
	// restart keeps its merchants, users and red packets; empty: in memory only.
	WeChatSimState string
	// TrustedProxies are the load balancers in front of the server: only from them is
	// X-Forwarded-For believed (client IPs decide region gates). Empty: the TCP peer is the client.
	TrustedProxies []netip.Prefix
	// PosterDraws is how many posters one server draws at once (each may hold the 64 MB
	// pixel budget); past it, requests wait briefly and are then told 海报生成中.
	PosterDraws int
	// PayoutClientIP is this server's public IPv4 address, sent to WeChat Pay as client_ip of
	// every red packet (WeChat records it, and a merchant may allow only listed addresses).
	// Empty: 127.0.0.1, which only a simulator accepts; serve requires it with the real WeChat.
	PayoutClientIP string

	now func() time.Time // tests: the services' clock (nil: time.Now)
	// tests: how long a poster request waits for a drawing slot (0: 2 s), loopback servers
	// standing in for WeChat's avatar hosts, and for other websites a merchant's pasted image
	// addresses point to.
	posterWait time.Duration
	// snapshotEvery is how often the landing page's shared numbers are read (tests; 0: 1 s).
	snapshotEvery time.Duration
	// sessionReuse is how long a follower session read is reused (tests; 0: 1 s, <0: never).
	sessionReuse  time.Duration
	avatarOrigins []string
	fetchOrigins  []string
}

// setting is one configuration value: its flag, its environment variable and its check.
type setting struct {
	flag, env, def, help string
	value                *string
}

// configFlags declares the settings a command uses on fs and returns a function that validates
// them into a Config once fs has parsed the command line.
func configFlags(fs *flag.FlagSet, names ...string) func() (*Config, error) {
	all := map[string]*setting{
		"db":       {flag: "db", env: "DATABASE_URL", help: "PostgreSQL URL, postgres://user@host:port/db"},
		"addr":     {flag: "addr", env: "HTTP_ADDR", def: "127.0.0.1:8080", help: "address the HTTP server listens on"},
		"base-url": {flag: "base-url", env: "BASE_URL", help: "public URL of the server, used in links, QR codes and WeChat callbacks (default http://HTTP_ADDR)"},
		"secret":   {flag: "secret", env: "SECRET_KEY", help: "64 hex characters (32 bytes); generate with: openssl rand -hex 32"},
		"tz":       {flag: "tz", env: "TIME_ZONE", def: "Asia/Shanghai", help: "time zone of campaign times, statements and cron jobs"},
		"log":      {flag: "log-level", env: "LOG_LEVEL", def: "info", help: "debug, info, warn or error"},
		"wxapi":    {flag: "wechat-api", env: "WECHAT_API_BASE", help: "base URL replacing WeChat's API and page hosts, such as a simulator's http://127.0.0.1:8090 (default: the real WeChat; dev: its own simulator)"},
		"wxsim":    {flag: "wechat-sim", env: "WECHAT_SIM_ADDR", def: "127.0.0.1:8090", help: "dev: address the in-process WeChat simulator listens on"},
		"wxstate":  {flag: "wechat-sim-state", env: "WECHAT_SIM_STATE", help: "dev: file the in-process WeChat simulator keeps its state in, so a restart changes nothing (make dev: .data/wechatsim.json; default: memory only)"},
		"posters":  {flag: "poster-draws", env: "POSTER_DRAWS", def: "2", help: "how many sharing posters are drawn at once, 1 to 16 (each may take up to about 70 MB)"},
		"payip":    {flag: "payout-client-ip", env: "PAYOUT_CLIENT_IP", help: "public IPv4 address of this server, sent to WeChat Pay as client_ip of every red packet and spbill_create_ip of every top-up (required with the real WeChat; with a simulator 127.0.0.1)"},
		"proxies":  {flag: "trusted-proxies", env: "TRUSTED_PROXIES", help: "comma-separated IPs or CIDR ranges of the load balancers in front of the server, whose X-Forwarded-For is believed (default: none)"},
	}
	var used []*setting
	for _, n := range names {
		s := all[n]
		v := ""
		s.value = &v
		fs.StringVar(s.value, s.flag, "", fmt.Sprintf("%s (env %s)", s.help, s.env))
		used = append(used, s)
	}
	return func() (*Config, error) {
		get := func(n string) (string, string, bool) {
			s, ok := all[n]
			if !ok || s.value == nil {
				return "", "", false
			}
			v := *s.value
			if v == "" {
				v = os.Getenv(s.env)
			}
			if v == "" {
				v = s.def
			}
			return strings.TrimSpace(v), s.env, true
		}
		c := &Config{}
		if v, env, ok := get("db"); ok {
			if err := checkDatabaseURL(v); err != nil {
				return nil, fmt.Errorf("%s: %w", env, err)
			}
			c.DatabaseURL = v
		}
		if v, env, ok := get("addr"); ok {
			if _, _, err := net.SplitHostPort(v); err != nil {
				return nil, fmt.Errorf("%s: must be host:port such as 127.0.0.1:8080, got %q", env, v)
			}
			c.HTTPAddr = v
		}
		if v, env, ok := get("base-url"); ok {
			if v == "" {
				v = "http://" + c.HTTPAddr
			}
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, fmt.Errorf("%s: must be an http:// or https:// URL, got %q", env, v)
			}
			c.BaseURL = strings.TrimRight(v, "/")
		}
		if v, env, ok := get("secret"); ok {
			if v == "" {
				return nil, fmt.Errorf("%s: is not set; generate one with: openssl rand -hex 32", env)
			}
			key, err := hex.DecodeString(v)
			if err != nil || len(key) != 32 {
				return nil, fmt.Errorf("%s: must be 64 hex characters (32 bytes); generate one with: openssl rand -hex 32", env)
			}
			c.SecretKey = key
		}
		if v, env, ok := get("tz"); ok {
			loc, err := time.LoadLocation(v)
			if err != nil {
				return nil, fmt.Errorf("%s: unknown time zone %q (use a name such as Asia/Shanghai)", env, v)
			}
			c.TimeZone = loc
		}
		if v, env, ok := get("log"); ok {
			if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
				return nil, fmt.Errorf("%s: must be debug, info, warn or error, got %q", env, v)
			}
		}
		if v, env, ok := get("wxapi"); ok && v != "" {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
				return nil, fmt.Errorf("%s: must be a base URL without a path, such as http://127.0.0.1:8090, got %q", env, v)
			}
			c.WeChatAPIBase = strings.TrimRight(v, "/")
		}
		if v, env, ok := get("proxies"); ok && v != "" {
			for _, part := range strings.Split(v, ",") {
				part = strings.TrimSpace(part)
				p, err := netip.ParsePrefix(part)
				if err != nil {
					a, aerr := netip.ParseAddr(part)
					if aerr != nil {
						return nil, fmt.Errorf("%s: %q is neither an IP address nor a CIDR range such as 10.0.0.0/8", env, part)
					}
					p = netip.PrefixFrom(a, a.BitLen())
				}
				c.TrustedProxies = append(c.TrustedProxies, p.Masked())
			}
		}
		if v, env, ok := get("posters"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 16 {
				return nil, fmt.Errorf("%s: must be a whole number from 1 to 16, got %q", env, v)
			}
			c.PosterDraws = n
		}
		if v, env, ok := get("payip"); ok && v != "" {
			if err := checkPayoutIP(v); err != nil {
				return nil, fmt.Errorf("%s: %w", env, err)
			}
			c.PayoutClientIP = v
		}
		if v, env, ok := get("wxsim"); ok {
			if _, _, err := net.SplitHostPort(v); err != nil {
				return nil, fmt.Errorf("%s: must be host:port such as 127.0.0.1:8090, got %q", env, v)
			}
			c.WeChatSimAddr = v
		}
		if v, _, ok := get("wxstate"); ok {
			c.WeChatSimState = v
		}
		return c, nil
	}
}

// checkPayoutIP accepts a dotted IPv4 address a server can have: WeChat's client_ip is
// String(15), so no IPv6 address, and neither 0.0.0.0 nor a multicast or broadcast address.
func checkPayoutIP(v string) error {
	a, err := netip.ParseAddr(v)
	if err != nil || !a.Is4() || a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return fmt.Errorf("must be this server's public IPv4 address, such as 203.0.113.7, got %q", v)
	}
	return nil
}

// needPayoutIP is serve's rule: with the real WeChat the server's own address must be known
// (127.0.0.1 is what the simulator takes).
func needPayoutIP(c *Config) error {
	if c.PayoutClientIP == "" && c.WeChatAPIBase == "" {
		return errors.New("PAYOUT_CLIENT_IP: is not set; give this server's public IPv4 address (WeChat Pay records it as client_ip of every red packet), such as 203.0.113.7")
	}
	return nil
}

// payoutClientIP is the client_ip red packets carry.
func (c *Config) payoutClientIP() string {
	if c.PayoutClientIP == "" {
		return "127.0.0.1"
	}
	return c.PayoutClientIP
}

func checkDatabaseURL(v string) error {
	if v == "" {
		return errors.New("is not set; give a PostgreSQL URL such as postgres://user@127.0.0.1:5432/fenxiao")
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return fmt.Errorf("must be a postgres:// URL such as postgres://user@127.0.0.1:5432/fenxiao, got %q", v)
	}
	if strings.Trim(u.Path, "/") == "" {
		return fmt.Errorf("names no database: add /DBNAME to %q", v)
	}
	return nil
}

// parseConfig parses args with the given settings. On failure it prints one line to stderr
// and returns the exit code to use.
func parseConfig(fs *flag.FlagSet, args []string, stderr io.Writer, names ...string) (*Config, int) {
	fs.SetOutput(stderr)
	validate := configFlags(fs, names...)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, exitOK
		}
		return nil, exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fenxiao %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return nil, exitUsage
	}
	cfg, err := validate()
	if err != nil {
		fmt.Fprintf(stderr, "fenxiao %s: %v\n", fs.Name(), err)
		return nil, exitUsage
	}
	return cfg, -1
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
