package main

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"fenxiao/migrations/dbtest"
)

// make dev runs the WeChat simulator in process, prints its URL and serves the bridge script.
func TestDevStartsTheWeChatSimulator(t *testing.T) {
	url := dbtest.NewDatabase(t, "dev_sim")
	cmd := command(t, []string{"DATABASE_URL=" + url, "SECRET_KEY=" + testSecret, "HTTP_ADDR=127.0.0.1:0",
		"BASE_URL=http://127.0.0.1:1", "WECHAT_SIM_ADDR=127.0.0.1:0"}, "dev")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) //nolint:errcheck
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var simURL string
	deadline := time.After(30 * time.Second)
	for simURL == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("dev exited without printing the simulator")
			}
			if v, found := strings.CutPrefix(l, "simulator: "); found {
				simURL = v
			}
		case <-deadline:
			t.Fatal("no simulator line")
		}
	}
	resp, err := http.Get(simURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "分销宝演示店") || !strings.Contains(string(body), "张三") {
		t.Fatalf("simulator home %d:\n%s", resp.StatusCode, body)
	}
}
