package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jmoiron/sqlx"

	"fenxiao/cmd/fenxiao/web"
	"fenxiao/migrations"
	"fenxiao/migrations/dbtest"
)

const testSecret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// TestMain doubles as the fenxiao binary: with FENXIAO_TEST_EXEC=1 the test binary runs the
// command line it was given, so tests can start real processes without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("FENXIAO_TEST_EXEC") == "1" {
		os.Exit(runTestProcess(os.Args[1:]))
	}
	os.Exit(dbtest.Main(m, "cmd"))
}

func runTestProcess(args []string) int {
	ctx, stop := signalContext()
	defer stop()
	return runWith(ctx, args, os.Stdout, os.Stderr, &hooks{routes: func(r router) {
		r.Get("/test/slow", func(c *fiber.Ctx) error {
			time.Sleep(2 * time.Second)
			return c.SendString("slow done")
		})
	}})
}

// command starts the test binary as "fenxiao args..." with env added to the environment.
func command(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), append([]string{"FENXIAO_TEST_EXEC=1"}, env...)...)
	return cmd
}

func TestBadDatabaseURLExits2WithOneLine(t *testing.T) {
	for _, v := range []string{"nonsense", "mysql://x@h/db", "postgres://127.0.0.1:5432"} {
		t.Setenv("DATABASE_URL", v)
		t.Setenv("SECRET_KEY", testSecret)
		var stdout, stderr bytes.Buffer
		code := runWith(context.Background(), []string{"serve"}, &stdout, &stderr, nil)
		if code != exitUsage {
			t.Errorf("DATABASE_URL=%s: exit %d, want %d", v, code, exitUsage)
		}
		out := strings.TrimRight(stderr.String(), "\n")
		if strings.Count(out, "\n") != 0 || !strings.Contains(out, "DATABASE_URL") {
			t.Errorf("DATABASE_URL=%s: want one line naming DATABASE_URL, got %q", v, out)
		}
	}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	cases := []struct{ env, value string }{
		{"SECRET_KEY", ""},
		{"SECRET_KEY", "short"},
		{"HTTP_ADDR", "no-port"},
		{"BASE_URL", "ftp://example.com"},
		{"TIME_ZONE", "Mars/Olympus"},
		{"LOG_LEVEL", "loud"},
		{"WECHAT_API_BASE", "ftp://127.0.0.1:8090"},
		{"TRUSTED_PROXIES", "10.0.0.0/8, load-balancer"},
		{"PAYOUT_CLIENT_IP", ""}, // with the real WeChat, required
		{"PAYOUT_CLIENT_IP", "2001:db8::1"},
		{"PAYOUT_CLIENT_IP", "server.example.com"},
		{"PAYOUT_CLIENT_IP", "0.0.0.0"},
		{"PAYOUT_CLIENT_IP", "203.0.113.7:80"},
	}
	for _, tc := range cases {
		t.Run(tc.env+"="+tc.value, func(t *testing.T) {
			t.Setenv("DATABASE_URL", "postgres://u@127.0.0.1:1/db")
			t.Setenv("SECRET_KEY", testSecret)
			t.Setenv(tc.env, tc.value)
			var stderr bytes.Buffer
			code := runWith(context.Background(), []string{"serve"}, io.Discard, &stderr, nil)
			if code != exitUsage || !strings.Contains(stderr.String(), tc.env) {
				t.Fatalf("exit %d, stderr %q; want exit 2 naming %s", code, stderr.String(), tc.env)
			}
		})
	}
}

func TestUnknownCommand(t *testing.T) {
	var stderr bytes.Buffer
	if code := runWith(context.Background(), []string{"frobnicate"}, io.Discard, &stderr, nil); code != exitUsage {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(stderr.String(), "frobnicate") {
		t.Fatalf("stderr %q does not name the command", stderr.String())
	}
}

// Two migrate processes started together on an empty database: both succeed, each file once.
func TestTwoMigrateProcessesAtOnce(t *testing.T) {
	url := dbtest.NewDatabase(t, "two_migrates")
	var wg sync.WaitGroup
	outs := make([][]byte, 2)
	errs := make([]error, 2)
	start := make(chan struct{})
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := command(t, []string{"DATABASE_URL=" + url}, "migrate")
			<-start
			outs[i], errs[i] = cmd.CombinedOutput()
		}()
	}
	close(start)
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil {
			t.Fatalf("migrate %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	db := sqlx.MustOpen("postgres", url)
	defer db.Close()
	all, _ := migrations.All()
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM schema_migrations`); err != nil {
		t.Fatal(err)
	}
	if n != len(all) {
		t.Fatalf("schema_migrations has %d rows, want %d", n, len(all))
	}
	applied := strings.Count(string(outs[0]), "migration applied") + strings.Count(string(outs[1]), "migration applied")
	if applied != len(all) {
		t.Fatalf("the two processes applied %d files in all, want %d:\n%s\n%s", applied, len(all), outs[0], outs[1])
	}
}

func TestServeRefusesPendingMigrations(t *testing.T) {
	url := dbtest.NewDatabase(t, "pending_serve")
	cmd := command(t, []string{"DATABASE_URL=" + url, "SECRET_KEY=" + testSecret, "HTTP_ADDR=127.0.0.1:0", "PAYOUT_CLIENT_IP=203.0.113.7"}, "serve")
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != exitFailed {
		t.Fatalf("exit %d (%v), want %d:\n%s", code, err, exitFailed, out)
	}
	if !strings.Contains(string(out), "pending") || !strings.Contains(string(out), "-migrate") {
		t.Fatalf("message does not say what to do: %s", out)
	}
}

// startServer runs "fenxiao serve" as a process and returns its base URL.
func startServer(t *testing.T, env []string, args ...string) (*exec.Cmd, string, *bytes.Buffer) {
	t.Helper()
	cmd := command(t, append([]string{"SECRET_KEY=" + testSecret, "HTTP_ADDR=127.0.0.1:0", "PAYOUT_CLIENT_IP=203.0.113.7"}, env...), append([]string{"serve"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) //nolint:errcheck
	lines := bufio.NewScanner(stdout)
	addr := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if a, ok := strings.CutPrefix(lines.Text(), "listening on "); ok {
				addr <- a
			}
		}
	}()
	select {
	case a := <-addr:
		return cmd, "http://" + a, &stderr
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not start:\n%s", stderr.String())
		return nil, "", nil
	}
}

func TestSIGTERMLetsSlowRequestFinish(t *testing.T) {
	url := dbtest.NewDatabase(t, "sigterm")
	cmd, base, stderr := startServer(t, []string{"DATABASE_URL=" + url}, "-migrate")

	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get(base + "/test/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- result{status: resp.StatusCode, body: string(b)}
	}()
	time.Sleep(500 * time.Millisecond) // the request is now in flight
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.err != nil || r.status != 200 || r.body != "slow done" {
		t.Fatalf("in-flight request: %+v", r)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10 s after SIGTERM")
	}
	if d := time.Since(sent); d > 10*time.Second {
		t.Fatalf("took %s to stop", d)
	}
}

func TestHealthz(t *testing.T) {
	cmdURL := dbtest.URL(t)
	db, err := openDB(context.Background(), cmdURL)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{Base: &web.Base{DB: db, Log: newLogger(io.Discard, 0)}, cfg: &Config{}}
	app := s.app(nil)
	resp, err := app.Test(httptestGet("/healthz"), -1)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "ok" {
		t.Fatalf("healthy: %d %q", resp.StatusCode, body)
	}
	if resp.Header.Get(fiber.HeaderXRequestID) == "" {
		t.Fatal("no request id header")
	}
	db.Close() // now the database no longer answers
	resp, err = app.Test(httptestGet("/healthz"), -1)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 {
		t.Fatalf("closed database: status %d, want 503", resp.StatusCode)
	}
}

func TestPanicBecomes500Page(t *testing.T) {
	s := &server{Base: &web.Base{Log: newLogger(io.Discard, 0)}, cfg: &Config{}}
	app := s.app(&hooks{routes: func(r router) {
		r.Get("/boom", func(c *fiber.Ctx) error { panic("boom") })
	}})
	resp, err := app.Test(httptestGet("/boom"), -1)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 500 || !strings.Contains(string(body), "服务器出错了") || strings.Contains(string(body), "boom") {
		t.Fatalf("status %d, body %s", resp.StatusCode, body)
	}
}

func httptestGet(path string) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, path, nil)
	return req
}

// The first pages a fresh replica renders arrive together (a deploy under load). Fiber's own
// Ctx.Render fills a per-app list on its first call without a lock, which the race detector
// caught in CI; pages must render through a path that is safe from the very first request.
func TestFirstRendersOfAFreshAppRunInParallel(t *testing.T) {
	s := &server{Base: &web.Base{Log: newLogger(io.Discard, 0)}, cfg: &Config{}}
	app := s.app(nil)
	const n = 8
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		go func() {
			<-start
			resp, err := app.Test(httptestGet("/"), -1)
			if err != nil {
				errs <- err
				return
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || !strings.Contains(string(body), "首页") {
				errs <- fmt.Errorf("status %d, body %.200s", resp.StatusCode, body)
				return
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				errs <- fmt.Errorf("content type %q", ct)
				return
			}
			errs <- nil
		}()
	}
	close(start)
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
