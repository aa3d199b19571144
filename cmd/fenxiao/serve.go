package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the PostgreSQL driver
	"github.com/robfig/cron/v3"

	"fenxiao/migrations"
)

// shutdownGrace bounds how long in-flight requests may take once a stop signal arrives.
const shutdownGrace = 10 * time.Second

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer, h *hooks) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	migrate := fs.Bool("migrate", false, "apply pending migrations before starting")
	cfg, code := parseConfig(fs, args, stderr, "db", "addr", "base-url", "secret", "tz", "log", "wxapi", "posters", "proxies", "payip")
	if cfg == nil {
		return code
	}
	if err := needPayoutIP(cfg); err != nil {
		fmt.Fprintf(stderr, "fenxiao serve: %v\n", err)
		return exitUsage
	}
	cfg.Migrate = *migrate
	return serve(ctx, cfg, stdout, stderr, h, nil)
}

// serve runs the server until ctx ends. onListen, when set, is told the listening address.
func serve(ctx context.Context, cfg *Config, stdout, stderr io.Writer, h *hooks, onListen func(addr string)) int {
	log := newLogger(stderr, cfg.LogLevel)
	db, err := openDB(ctx, cfg.DatabaseURL)
	if err != nil {
		fmt.Fprintf(stderr, "fenxiao serve: %v\n", err)
		return exitFailed
	}
	defer db.Close()

	if cfg.Migrate {
		if err := migrateUp(ctx, db, log); err != nil {
			fmt.Fprintf(stderr, "fenxiao serve: %v\n", err)
			return exitFailed
		}
	} else {
		pending, err := migrations.Pending(ctx, db.DB)
		if err != nil {
			fmt.Fprintf(stderr, "fenxiao serve: %v\n", err)
			return exitFailed
		}
		if len(pending) > 0 {
			fmt.Fprintf(stderr, "fenxiao serve: %d migration(s) pending, first %04d_%s: run \"fenxiao migrate\" or start with -migrate\n",
				len(pending), pending[0].Version, pending[0].Name)
			return exitFailed
		}
	}

	srv, err := newServer(cfg, db, log)
	if err != nil {
		fmt.Fprintf(stderr, "fenxiao serve: %v\n", err)
		return exitFailed
	}
	app := srv.app(h)
	if h != nil && h.ready != nil {
		if err := h.ready(ctx, srv); err != nil {
			fmt.Fprintf(stderr, "fenxiao serve: %v\n", err)
			return exitFailed
		}
	}

	jobs := cron.New(cron.WithLocation(cfg.TimeZone), cron.WithChain(
		cron.Recover(cronLogger{log}),
		cron.SkipIfStillRunning(cronLogger{log}),
	))
	srv.schedule(ctx, jobs)
	jobs.Start()

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		fmt.Fprintf(stderr, "fenxiao serve: HTTP_ADDR: cannot listen on %s: %v\n", cfg.HTTPAddr, err)
		<-jobs.Stop().Done()
		return exitFailed
	}
	sl := newSpareListener(ln)
	log.Info("listening", "addr", ln.Addr().String(), "base_url", cfg.BaseURL)
	if onListen != nil {
		onListen(ln.Addr().String())
	} else {
		fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())
	}

	served := make(chan error, 1)
	go func() { served <- app.Listener(sl) }()

	select {
	case err := <-served:
		<-jobs.Stop().Done()
		if err != nil {
			log.Error("server stopped", "err", err)
			return exitFailed
		}
		return exitOK
	case <-ctx.Done():
	}

	log.Info("shutting down: finishing in-flight requests", "grace", shutdownGrace)
	jobsDone := jobs.Stop().Done() // no job starts from now on
	code := exitOK
	shut := make(chan error, 1)
	go func() { shut <- app.ShutdownWithTimeout(shutdownGrace) }()
	// fasthttp closes idle keep-alive connections itself; the connections that never sent a
	// byte are closed here until Shutdown returns (one may still be accepted until fasthttp
	// has closed the listener).
	spare := time.NewTicker(50 * time.Millisecond)
	defer spare.Stop()
	for waiting := true; waiting; {
		select {
		case err := <-shut:
			if err != nil {
				log.Error("shutdown", "err", err)
				code = exitFailed
			}
			waiting = false
		case <-spare.C:
			sl.closeSpare()
		}
	}
	<-jobsDone // waits for running jobs
	<-served
	srv.h5.Close(2 * time.Second) // no request can queue a page view any more
	if err := srv.Merchants.Close(); err != nil {
		log.Warn("remove the WeChat client certificates' files", "err", err)
	}
	log.Info("stopped")
	return code
}

// dbPool is how many connections one server keeps to PostgreSQL at most.
const dbPool = 30

// openDB connects and checks that the database answers within a few seconds.
func openDB(ctx context.Context, url string) (*sqlx.DB, error) {
	db, err := migrations.Open(url)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	// As many idle connections as open ones: with fewer, every burst above the idle count
	// closed its extra connections when they came back to the pool and the next burst opened
	// them again (a TCP and authentication round trip each, issue 15). Connections idle for
	// five minutes close, so a quiet server gives PostgreSQL its backends back.
	db.SetMaxOpenConns(dbPool)
	db.SetMaxIdleConns(dbPool)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("DATABASE_URL: cannot reach the database: %w", err)
	}
	return db, nil
}

func migrateUp(ctx context.Context, db *sqlx.DB, log *slog.Logger) error {
	done, err := migrations.Up(ctx, db.DB)
	for _, m := range done {
		log.Info("migration applied", "version", m.Version, "name", m.Name)
	}
	return err
}

// cronLogger adapts slog to cron's logger interface.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "err", err)...)
}
