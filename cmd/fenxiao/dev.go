package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
)

// cmdDev is what "make dev" runs: migrate, then serve, printing one line per entry point once
// the server listens. Ctrl-C stops it like serve.
func cmdDev(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	cfg, code := parseConfig(fs, args, stderr, "db", "addr", "base-url", "secret", "tz", "log")
	if cfg == nil {
		return code
	}
	cfg.Migrate = true
	return serve(ctx, cfg, stdout, stderr, nil, func(addr string) {
		fmt.Fprintf(stdout, "\nFenxiao is running (Ctrl-C stops it):\n")
		fmt.Fprintf(stdout, "home: %s/\n", cfg.BaseURL)
		fmt.Fprintf(stdout, "health: %s/healthz\n", cfg.BaseURL)
		fmt.Fprintf(stdout, "database: %s\n", redactURL(cfg.DatabaseURL))
	})
}

// redactURL hides a password in a connection URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return u.Redacted()
}
