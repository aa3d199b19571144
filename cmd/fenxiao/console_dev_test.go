package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"fenxiao/migrations/dbtest"
)

// make dev prints the console's URL and the demo merchant's login, and that login works.
func TestDevPrintsTheConsoleAndItsDemoLogin(t *testing.T) {
	db := dbtest.NewDatabase(t, "dev_console")
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
	lines := make(chan string, 32)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var consoleURL, login string
	deadline := time.After(60 * time.Second)
	for consoleURL == "" || login == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("dev exited before printing the console lines")
			}
			if v, found := strings.CutPrefix(l, "console: "); found {
				consoleURL = v
			}
			if v, found := strings.CutPrefix(l, "console login: "); found {
				login = v
			}
		case <-deadline:
			t.Fatalf("no console lines (got %q, %q)", consoleURL, login)
		}
	}
	if consoleURL != fmt.Sprintf("http://%s/console/", addr) {
		t.Errorf("console: %s", consoleURL)
	}
	email, password, ok := strings.Cut(login, " / ")
	if !ok {
		t.Fatalf("console login: %q", login)
	}
	b := newBrowserClient(t, "http://"+addr)
	resp, body := b.post("/console/login", url.Values{"email": {email}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("demo log-in: %d\n%.500s", resp.StatusCode, body)
	}
	resp, body = b.get("/console/campaigns")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "明前龙井") {
		t.Fatalf("the demo merchant's campaigns: %d\n%.500s", resp.StatusCode, body)
	}
}
