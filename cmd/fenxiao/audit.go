package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"fenxiao/campaign"
	"fenxiao/wallet"
)

// cmdAudit checks every invariant of the ledger and of the campaigns and prints each violation with the ids of
// the rows involved. Exit 0 when all hold, 1 otherwise.
func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	cfg, code := parseConfig(fs, args, stderr, "db")
	if cfg == nil {
		return code
	}
	db, err := openDB(ctx, cfg.DatabaseURL)
	if err != nil {
		fmt.Fprintf(stderr, "fenxiao audit: %v\n", err)
		return exitFailed
	}
	defer db.Close()
	violations := 0
	err = campaign.AuditAll(ctx, db, func(v wallet.Violation) error {
		violations++
		_, err := fmt.Fprintln(stdout, "VIOLATION", v)
		return err
	})
	if err != nil {
		fmt.Fprintf(stderr, "fenxiao audit: %v\n", err)
		return exitFailed
	}
	if violations > 0 {
		fmt.Fprintf(stdout, "audit: %d violation(s)\n", violations)
		return exitFailed
	}
	fmt.Fprintln(stdout, "audit: every invariant holds")
	return exitOK
}
