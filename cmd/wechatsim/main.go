// Command wechatsim runs the WeChat simulator (package wechat/sim) on its own, for pointing a
// Fenxiao server (WECHAT_API_BASE) or any other WeChat client at it.
//
//	wechatsim [-addr 127.0.0.1:8090] [-notify-factor 60] [-refund-after 24h] [-rate 30]
//	          [-merchants 1] [-demo=true] [-base-url URL] [-state FILE]
//
// With -state the simulator keeps its state (merchants, users, payments, red packets) in FILE
// and starts from it the next time: -merchants and -demo then apply only to a new file.
// It prints the simulator's URL and, one JSON line each, the credentials of the merchants it
// registered (the client certificate in base64). The admin API is under /sim/admin.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"fenxiao/wechat"
	"fenxiao/wechat/sim"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wechatsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8090", "address to listen on")
	baseURL := fs.String("base-url", "", "public URL of the simulator (default http://ADDR)")
	factor := fs.Float64("notify-factor", 60, "divide WeChat's payment-notification retry schedule by this")
	refundAfter := fs.Duration("refund-after", 24*time.Hour, "unopened red packets are refunded after this")
	rate := fs.Int("rate", 30, "sendredpack calls per second per merchant (negative: no limit)")
	merchants := fs.Int("merchants", 0, "extra merchants to register with generated credentials")
	demo := fs.Bool("demo", true, "register the demo merchant make dev uses")
	state := fs.String("state", "", "keep the state in this file and start from it (default: memory only)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *factor <= 0 || *refundAfter <= 0 || *rate == 0 || *merchants < 0 {
		fmt.Fprintln(stderr, "wechatsim: -notify-factor and -refund-after must be positive, -rate not 0, -merchants not negative")
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "wechatsim: cannot listen on %s: %v\n", *addr, err)
		return 1
	}
	if *baseURL == "" {
		*baseURL = "http://" + ln.Addr().String()
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	cfg := sim.Config{NotifyFactor: *factor, RefundAfter: *refundAfter, RateLimit: *rate, BaseURL: *baseURL, Log: log, StateFile: *state}
	s := sim.New(cfg)
	if *state != "" {
		if s, err = sim.Open(cfg); err != nil {
			fmt.Fprintf(stderr, "wechatsim: -state: %v\n", err)
			return 1
		}
	}
	defer s.Close()
	if s.Restored() {
		fmt.Fprintf(stdout, "simulator: %s/sim/\n", *baseURL)
		for _, m := range s.Merchants() {
			creds, _ := s.Credentials(m.AppID)
			printCredentials(stdout, creds)
		}
		return serveUntilSignal(s, ln, stderr)
	}
	var all []sim.MerchantConfig
	if *demo {
		all = append(all, sim.DemoMerchant())
	}
	for range *merchants {
		all = append(all, sim.MerchantConfig{})
	}
	fmt.Fprintf(stdout, "simulator: %s/sim/\n", *baseURL)
	for _, mc := range all {
		creds, err := s.AddMerchant(mc)
		if err != nil {
			fmt.Fprintf(stderr, "wechatsim: %v\n", err)
			return 1
		}
		printCredentials(stdout, creds)
	}
	return serveUntilSignal(s, ln, stderr)
}

// serveUntilSignal serves s on ln until SIGINT or SIGTERM.
func serveUntilSignal(s *sim.Server, ln net.Listener, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		fmt.Fprintf(stderr, "wechatsim: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if srv.Shutdown(sctx) != nil {
		srv.Close() //nolint:errcheck // exiting anyway
	}
	return 0 // the deferred s.Close writes the state file
}

func printCredentials(w io.Writer, c wechat.Credentials) {
	b, _ := json.Marshal(map[string]string{
		"appid": c.AppID, "appsecret": c.AppSecret, "token": c.Token, "encoding_aes_key": c.EncodingAESKey,
		"mch_id": c.MchID, "api_key": c.APIKey, "cert_p12_base64": base64.StdEncoding.EncodeToString(c.CertP12),
	})
	fmt.Fprintf(w, "merchant: %s\n", b)
}
