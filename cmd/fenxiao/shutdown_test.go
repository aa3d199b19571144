package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"fenxiao/migrations/dbtest"
)

// A browser keeps connections open: a used keep-alive one, and a spare one it opened ahead
// of need (Chrome's preconnect) on which no request ever comes. Neither holds the stop: the
// server ends within a couple of seconds of SIGTERM (make dev's Ctrl-C) and exits 0.
func TestStopIsPromptWithOpenConnections(t *testing.T) {
	url := dbtest.NewDatabase(t, "stopconns")
	cmd, base, stderr := startServer(t, []string{"DATABASE_URL=" + url}, "-migrate")

	// A keep-alive connection that served one request and now idles.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body) //nolint:errcheck
	resp.Body.Close()
	// A connection that never sends a request.
	spare, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer spare.Close()
	time.Sleep(200 * time.Millisecond) // both accepted by the server

	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	const bound = 3 * time.Second
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v (after %s)\n%s", err, time.Since(sent), stderr.String())
		}
	case <-time.After(shutdownGrace + 5*time.Second):
		t.Fatalf("still running %s after SIGTERM\n%s", shutdownGrace+5*time.Second, stderr.String())
	}
	if d := time.Since(sent); d > bound {
		t.Fatalf("took %s to stop, want under %s\n%s", d, bound, stderr.String())
	}
	if strings.Contains(stderr.String(), "deadline exceeded") {
		t.Fatalf("shutdown error logged:\n%s", stderr.String())
	}
}
