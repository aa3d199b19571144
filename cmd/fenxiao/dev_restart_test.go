package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"fenxiao/migrations/dbtest"
	"fenxiao/wechat/sim"
)

// freeAddr is a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// devProcess is a running "fenxiao dev". Its one waiter goroutine owns cmd.Wait: exec.Cmd
// allows a single Wait, so stopping and the test's clean-up both read exited instead.
type devProcess struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has exited and err is set
	err    error
}

// startDev runs "fenxiao dev" and returns it once it printed its entry points.
func startDev(t *testing.T, env []string) (*devProcess, map[string]string) {
	t.Helper()
	cmd := command(t, env, "dev")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &devProcess{cmd: cmd, exited: make(chan struct{})}
	waiting := false
	t.Cleanup(func() { // also when devLines fails: the process must not outlive the test
		cmd.Process.Kill() //nolint:errcheck // already gone after stopDev
		if waiting {
			<-p.exited
		} else {
			cmd.Wait() //nolint:errcheck
		}
	})
	lines := devLines(t, stdout, "simulator", "campaign", "console")
	// Wait closes stdout, so it may start only once the lines above were read; the reader
	// goroutine of devLines sees EOF then.
	waiting = true
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	return p, lines
}

// stopDev sends make dev's Ctrl-C and waits (bounded) for a prompt exit 0.
func stopDev(t *testing.T, p *devProcess) {
	t.Helper()
	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		if p.err != nil {
			t.Fatalf("dev exit after Ctrl-C: %v", p.err)
		}
		if d := time.Since(sent); d > 5*time.Second {
			t.Errorf("dev took %s to stop after Ctrl-C, want at most 5 s", d)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("dev still running 15 s after Ctrl-C")
	}
}

func simJSON(t *testing.T, method, u string, in, out any) {
	t.Helper()
	var body bytes.Buffer
	if in != nil {
		json.NewEncoder(&body).Encode(in) //nolint:errcheck
	}
	req, _ := http.NewRequest(method, u, &body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d", method, u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

// make dev keeps the simulator's state under .data/ (WECHAT_SIM_STATE): after a restart the
// users someone made, with their client IPs, are still there (not the two sample users
// again), and the demo official account's server URL points at Fenxiao from the start.
func TestDevRestartKeepsSimulator(t *testing.T) {
	db := dbtest.NewDatabase(t, "devrestart")
	addr := freeAddr(t)
	env := []string{"DATABASE_URL=" + db, "SECRET_KEY=" + testSecret, "HTTP_ADDR=" + addr, "BASE_URL=http://" + addr,
		"WECHAT_SIM_ADDR=" + freeAddr(t), "WECHAT_SIM_STATE=" + filepath.Join(t.TempDir(), "wechatsim.json")}
	appID := sim.DemoMerchant().AppID

	cmd, lines := startDev(t, env)
	simBase := strings.TrimSuffix(lines["simulator"], "/sim/")
	var ms []sim.MerchantInfo
	simJSON(t, "GET", simBase+"/sim/admin/merchants", nil, &ms)
	if len(ms) != 1 || !strings.HasPrefix(ms[0].CallbackURL, "http://"+addr+"/wechat/oa/") {
		t.Fatalf("the demo merchant's callback URL: %+v", ms)
	}
	var u sim.User
	simJSON(t, "POST", simBase+"/sim/admin/users", map[string]any{"appid": appID, "nickname": "王五", "client_ip": "8.8.8.8"}, &u)
	stopDev(t, cmd)

	cmd, _ = startDev(t, env)
	var us []sim.User
	simJSON(t, "GET", simBase+"/sim/admin/users?appid="+appID, nil, &us)
	if len(us) != 3 || us[2].OpenID != u.OpenID || us[2].ClientIP != "8.8.8.8" || us[0].Nickname != "张三" {
		t.Fatalf("users after the restart: %+v", us)
	}
	simJSON(t, "GET", simBase+"/sim/admin/merchants", nil, &ms)
	if len(ms) != 1 || ms[0].CallbackURL == "" {
		t.Fatalf("merchants after the restart: %+v", ms)
	}
	// Following the demo account pushes the event to Fenxiao, which accepts it (the simulator
	// answers 400 when the push fails or is refused).
	var reply map[string]string
	simJSON(t, "POST", simBase+"/sim/admin/follow", map[string]string{"appid": appID, "openid": us[1].OpenID}, &reply)
	stopDev(t, cmd)
}
