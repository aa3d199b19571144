package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"fenxiao/migrations/dbtest"
)

// make dev (fenxiao dev) prints one line per entry point, and each works: the in-process WeChat
// simulator with the demo merchant, the demo campaign's page, the console with the demo login.
func TestDevPrintsWorkingEntryPoints(t *testing.T) {
	db := dbtest.NewDatabase(t, "dev")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := command(t, []string{"DATABASE_URL=" + db, "SECRET_KEY=" + testSecret, "HTTP_ADDR=" + addr,
		"BASE_URL=http://" + addr, "WECHAT_SIM_ADDR=127.0.0.1:0"}, "dev")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) //nolint:errcheck

	lines := devLines(t, stdout, "health", "simulator", "campaign", "console", "console login")
	if want := fmt.Sprintf("http://%s/console/", addr); lines["console"] != want {
		t.Errorf("console: %s, want %s", lines["console"], want)
	}

	status, body := plainGet(t, lines["health"])
	if status != 200 || body != "ok" {
		t.Fatalf("health: %d %q", status, body)
	}
	status, body = plainGet(t, lines["simulator"])
	if status != 200 || !strings.Contains(body, "分销宝演示店") || !strings.Contains(body, "张三") {
		t.Fatalf("simulator home %d:\n%.500s", status, body)
	}
	// The campaign page sends a new visitor to WeChat's (the simulator's) sign-in.
	resp, err := noFollow.Get(lines["campaign"])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "oauth2/authorize") {
		t.Fatalf("campaign page: %d to %q, want a redirect to the OAuth page", resp.StatusCode, loc)
	}

	email, password, ok := strings.Cut(lines["console login"], " / ")
	if !ok {
		t.Fatalf("console login: %q", lines["console login"])
	}
	b := newBrowserClient(t, "http://"+addr)
	resp, body = b.post("/console/login", url.Values{"email": {email}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("demo log-in: %d\n%.500s", resp.StatusCode, body)
	}
	resp, body = b.get("/console/campaigns")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "明前龙井") {
		t.Fatalf("the demo merchant's campaigns: %d\n%.500s", resp.StatusCode, body)
	}
}

// devLines reads "name: value" lines from make dev's output until every wanted name has come.
func devLines(t *testing.T, out io.Reader, want ...string) map[string]string {
	t.Helper()
	lines := make(chan string, 32)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	got := map[string]string{}
	deadline := time.After(60 * time.Second)
	for {
		missing := ""
		for _, w := range want {
			if got[w] == "" {
				missing = w
			}
		}
		if missing == "" {
			return got
		}
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("dev exited before printing %q (got %v)", missing, got)
			}
			if name, value, found := strings.Cut(l, ": "); found {
				got[name] = value
			}
		case <-deadline:
			t.Fatalf("dev never printed %q (got %v)", missing, got)
		}
	}
}

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func plainGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
