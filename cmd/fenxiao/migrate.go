package main

import (
	"context"
	"flag"
	"fmt"
	"io"
)

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	cfg, code := parseConfig(fs, args, stderr, "db", "log")
	if cfg == nil {
		return code
	}
	db, err := openDB(ctx, cfg.DatabaseURL)
	if err != nil {
		fmt.Fprintf(stderr, "fenxiao migrate: %v\n", err)
		return exitFailed
	}
	defer db.Close()
	if err := migrateUp(ctx, db, newLogger(stderr, cfg.LogLevel)); err != nil {
		fmt.Fprintf(stderr, "fenxiao migrate: %v\n", err)
		return exitFailed
	}
	fmt.Fprintln(stdout, "database is up to date")
	return exitOK
}
