package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/jmoiron/sqlx"

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
	// One snapshot for every check, so a busy server cannot make a consistent ledger look broken.
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		fmt.Fprintf(stderr, "fenxiao audit: %v\n", err)
		return exitFailed
	}
	defer tx.Rollback() //nolint:errcheck
	if _, err := tx.ExecContext(ctx, `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`); err != nil {
		fmt.Fprintf(stderr, "fenxiao audit: %v\n", err)
		return exitFailed
	}
	var violations []wallet.Violation
	for _, check := range []func(context.Context, sqlx.QueryerContext) ([]wallet.Violation, error){wallet.Audit, campaign.Audit} {
		vs, err := check(ctx, tx)
		if err != nil {
			fmt.Fprintf(stderr, "fenxiao audit: %v\n", err)
			return exitFailed
		}
		violations = append(violations, vs...)
	}
	for _, v := range violations {
		fmt.Fprintln(stdout, "VIOLATION", v)
	}
	if len(violations) > 0 {
		fmt.Fprintf(stdout, "audit: %d violation(s)\n", len(violations))
		return exitFailed
	}
	fmt.Fprintln(stdout, "audit: every invariant holds")
	return exitOK
}
