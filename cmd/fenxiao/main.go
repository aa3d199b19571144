// Command fenxiao is the Fenxiao server and its operator tools.
//
//	fenxiao serve [-migrate]   run the HTTP server and the jobs
//	fenxiao migrate            apply pending database migrations
//	fenxiao audit              check the ledger's invariants
//	fenxiao seed -campaign ID  fill a campaign with paid orders (benchmarks)
//	fenxiao dev                migrate and serve for development (make dev)
//
// Configuration comes from flags and the environment; see config.go.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // Asia/Shanghai must resolve on machines without zoneinfo
)

func main() { os.Exit(run(os.Args[1:])) }

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // the command ran and failed (or audit found violations)
	exitUsage  = 2 // bad command line or configuration
)

func run(args []string) int {
	ctx, stop := signalContext()
	defer stop()
	return runWith(ctx, args, os.Stdout, os.Stderr, nil)
}

// hooks lets tests add routes to the server they start; production passes nil.
type hooks struct {
	routes func(r router)
	// ready runs once the services exist, before the server listens (dev: demo data).
	ready func(ctx context.Context, srv *server) error
}

func runWith(ctx context.Context, args []string, stdout, stderr io.Writer, h *hooks) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, stdout, stderr, h)
	case "migrate":
		return cmdMigrate(ctx, rest, stdout, stderr)
	case "dev":
		return cmdDev(ctx, rest, stdout, stderr)
	case "audit":
		return cmdAudit(ctx, rest, stdout, stderr)
	case "seed":
		return cmdSeed(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		usage(stdout)
		return exitOK
	default:
		fmt.Fprintf(stderr, "fenxiao: unknown command %q\n", cmd)
		usage(stderr)
		return exitUsage
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: fenxiao COMMAND [flags]

commands:
  serve     run the HTTP server and the background jobs (-migrate applies pending migrations first)
  migrate   apply pending database migrations
  audit     check every ledger invariant; exit 1 and name the rows when one is broken
  seed      fill a published campaign with N paid orders and their ledger (-campaign, -orders)
  dev       migrate and serve for local development, printing the entry points (make dev)

Run "fenxiao COMMAND -h" for the flags of a command. Every flag can also be set through the
environment variable named in its help.
`)
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
}
