package main

import (
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"fenxiao/migrations/dbtest"
	"fenxiao/wechat/sim"
)

// One WeChat simulator for the whole test binary: the SDK's base URL is process-wide.
var (
	simOnce   sync.Once
	simServer *sim.Server
	simBase   string
)

func testSim() (*sim.Server, string) {
	simOnce.Do(func() {
		simServer = sim.New(sim.Config{NotifyFactor: 1000})
		simBase = httptest.NewServer(simServer).URL
	})
	return simServer, simBase
}

// startStack runs the whole server (services, WeChat endpoints, pages) on a loopback port
// against the package's test database and the simulator, and returns it with its base URL.
func startStack(t testing.TB, h *hooks) (*server, string) {
	t.Helper()
	return startStackWith(t, h, nil)
}

// startStackWith is startStack with configure changing the configuration first.
func startStackWith(t testing.TB, h *hooks, configure func(*Config)) (*server, string) {
	t.Helper()
	db := dbtest.DB(t)
	_, simURL := testSim()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := hex.DecodeString(testSecret)
	cfg := &Config{BaseURL: "http://" + ln.Addr().String(), SecretKey: key, WeChatAPIBase: simURL, TimeZone: time.UTC}
	if configure != nil {
		configure(cfg)
	}
	srv, err := newServer(cfg, db, newLogger(io.Discard, 0))
	if err != nil {
		t.Fatal(err)
	}
	app := srv.app(h)
	if h != nil && h.ready != nil {
		if err := h.ready(context.Background(), srv); err != nil {
			t.Fatal(err)
		}
	}
	go app.Listener(ln) //nolint:errcheck
	t.Cleanup(func() {
		app.ShutdownWithTimeout(5 * time.Second) //nolint:errcheck
		srv.Merchants.Close()                    //nolint:errcheck // its clients' certificate files
	})
	return srv, cfg.BaseURL
}

// startTestServer is startStack for tests that only need the URL.
func startTestServer(t *testing.T) string {
	t.Helper()
	_, base := startStack(t, nil)
	return base
}
