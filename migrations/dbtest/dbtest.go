// Package dbtest gives each test package its own freshly migrated PostgreSQL database.
//
// TestMain calls Main; tests call DB(t). The server comes from TEST_DATABASE_URL (make test
// starts a private one). Without it the database tests skip on a laptop, but under CI=true
// the package fails: CI must never pass by skipping.
package dbtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the PostgreSQL driver

	"fenxiao/migrations"
)

var (
	db      *sqlx.DB
	dbURL   string
	skipMsg string
)

var unsafeName = regexp.MustCompile(`[^a-z0-9_]`)

// Main creates database fenxiao_test_<name>_<pid>, migrates it, runs the tests and drops it.
// Use it as: func TestMain(m *testing.M) { os.Exit(dbtest.Main(m, "wallet")) }
func Main(m *testing.M, name string) int {
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "dbtest: TEST_DATABASE_URL is not set and CI=true: database tests must run in CI (use make test)")
			return 1
		}
		skipMsg = "TEST_DATABASE_URL not set (make test starts a PostgreSQL for you)"
		return m.Run()
	}
	dbName := unsafeName.ReplaceAllString(strings.ToLower(fmt.Sprintf("fenxiao_test_%s_%d", name, os.Getpid())), "_")
	admin, err := sqlx.Open("postgres", base)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dbtest:", err)
		return 1
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+dbName+` WITH (FORCE)`); err != nil {
		fmt.Fprintln(os.Stderr, "dbtest: drop old database:", err)
		return 1
	}
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+dbName); err != nil {
		fmt.Fprintln(os.Stderr, "dbtest: create database:", err)
		return 1
	}
	defer admin.ExecContext(context.Background(), `DROP DATABASE IF EXISTS `+dbName+` WITH (FORCE)`) //nolint:errcheck

	dbURL, err = withDatabase(base, dbName)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dbtest:", err)
		return 1
	}
	db, err = migrations.Open(dbURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dbtest:", err)
		return 1
	}
	db.SetMaxOpenConns(40)
	db.SetMaxIdleConns(40) // as the server does: no connection churn in benchmarks
	if _, err := migrations.Up(ctx, db.DB); err != nil {
		fmt.Fprintln(os.Stderr, "dbtest: migrate:", err)
		db.Close()
		return 1
	}
	code := m.Run()
	db.Close()
	return code
}

// DB returns the package's test database, or skips the test when there is none.
func DB(t testing.TB) *sqlx.DB {
	t.Helper()
	if db == nil {
		t.Skip("dbtest: " + skipMsg)
	}
	return db
}

// URL returns the connection URL of the package's test database (skipping like DB).
func URL(t testing.TB) string {
	t.Helper()
	DB(t)
	return dbURL
}

// NewDatabase creates another empty database (not migrated) for tests that need one of their
// own, such as migration tests, and drops it when the test ends. It returns its URL.
func NewDatabase(t testing.TB, suffix string) string {
	t.Helper()
	DB(t)
	name := unsafeName.ReplaceAllString(strings.ToLower(fmt.Sprintf("fenxiao_test_%s_%d", suffix, os.Getpid())), "_")
	admin, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if a, err := sqlx.Open("postgres", dbURL); err == nil {
			a.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`) //nolint:errcheck
			a.Close()
		}
	})
	u, err := withDatabase(dbURL, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Truncate empties the given tables (and what references them) between tests that write.
func Truncate(t testing.TB, tables ...string) {
	t.Helper()
	if _, err := DB(t).Exec(`TRUNCATE ` + strings.Join(tables, ", ") + ` RESTART IDENTITY CASCADE`); err != nil {
		t.Fatal(err)
	}
}

func withDatabase(base, name string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("TEST_DATABASE_URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// Fresh creates another database, migrates it and returns a connection that closes (and a
// database that is dropped) when the test ends: for tests that must see an otherwise empty
// ledger, such as audits.
func Fresh(t testing.TB, suffix string) *sqlx.DB {
	t.Helper()
	u := NewDatabase(t, suffix)
	fresh, err := migrations.Open(u)
	if err != nil {
		t.Fatal(err)
	}
	fresh.SetMaxOpenConns(20)
	t.Cleanup(func() { fresh.Close() })
	if _, err := migrations.Up(context.Background(), fresh.DB); err != nil {
		t.Fatal(err)
	}
	return fresh
}
