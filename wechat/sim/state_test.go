package sim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sendPacket(s *Server, appID, billNo, openID string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.merchants[appID]
	ans, _ := s.sendRedPack(m, map[string]string{"wxappid": appID, "re_openid": openID, "total_amount": "300", "total_num": "1",
		"send_name": "店", "wishing": "恭喜", "act_name": "活动", "client_ip": "10.0.0.1", "mch_billno": billNo})
	return ans
}

func getJSON(t *testing.T, h http.Handler, path string) map[string]any {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s: %v: %s", path, err, rec.Body)
	}
	return out
}

// A simulator started again from its state file answers as the one that wrote it: the
// merchant's credentials (certificate included) and access token still valid, users with
// their client IPs, the OA callback, red packets with their status, bill-number replays.
func TestStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "wechatsim.json")
	s1, err := Open(Config{StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	if s1.Restored() {
		t.Fatal("a missing file restored something")
	}
	creds, err := s1.AddMerchant(MerchantConfig{Name: "持久店"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.SetCallbackURL(creds.AppID, "http://127.0.0.1:9/wechat/oa/1"); err != nil {
		t.Fatal(err)
	}
	beijing, _ := s1.AddUser(User{AppID: creds.AppID, Nickname: "李四", ClientIP: "123.125.71.38", Subscribed: true})
	abroad, _ := s1.AddUser(User{AppID: creds.AppID, Nickname: "Tom", ClientIP: "8.8.8.8"})
	first := sendPacket(s1, creds.AppID, "BILL1", beijing.OpenID)
	sendPacket(s1, creds.AppID, "BILL2", beijing.OpenID)
	if err := s1.OpenPacket(creds.MchID, "BILL1"); err != nil {
		t.Fatal(err)
	}
	tok := getJSON(t, s1, "/cgi-bin/token?grant_type=client_credential&appid="+creds.AppID+"&secret="+creds.AppSecret)["access_token"].(string)
	s1.Close()

	s2, err := Open(Config{StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if !s2.Restored() {
		t.Fatal("not restored from the file")
	}
	got, err := s2.Credentials(creds.AppID)
	if err != nil || got.AppSecret != creds.AppSecret || got.APIKey != creds.APIKey || got.Token != creds.Token ||
		got.EncodingAESKey != creds.EncodingAESKey || got.MchID != creds.MchID || !bytes.Equal(got.CertP12, creds.CertP12) {
		t.Fatalf("credentials after restart: %v %+v", err, got)
	}
	if ip, ok := s2.ClientIP(creds.AppID, beijing.OpenID); !ok || ip != "123.125.71.38" {
		t.Fatalf("client IP of 李四: %q %v", ip, ok)
	}
	if ip, _ := s2.ClientIP(creds.AppID, abroad.OpenID); ip != "8.8.8.8" {
		t.Fatalf("client IP of Tom: %q", ip)
	}
	if us := s2.Users(creds.AppID); len(us) != 2 || us[0].Nickname != "李四" || !us[0].Subscribed || us[1].Subscribed {
		t.Fatalf("users: %+v", us)
	}
	if ms := s2.merchantList(); len(ms) != 1 || ms[0].CallbackURL != "http://127.0.0.1:9/wechat/oa/1" {
		t.Fatalf("merchants: %+v", ms)
	}
	info := getJSON(t, s2, "/cgi-bin/user/info?access_token="+tok+"&openid="+beijing.OpenID)
	if info["nickname"] != "李四" {
		t.Fatalf("user info with the token from before the restart: %v", info)
	}
	status := map[string]string{}
	for _, p := range s2.Ledger().Packets {
		status[p.BillNo] = p.Status
	}
	if status["BILL1"] != "RECEIVED" || status["BILL2"] != "SENT" {
		t.Fatalf("packets: %v", status)
	}
	if again := sendPacket(s2, creds.AppID, "BILL1", beijing.OpenID); again["send_listid"] != first["send_listid"] {
		t.Fatalf("a replay of BILL1 after the restart: %v, first answer %v", again, first)
	}
	// New ids never repeat the old ones.
	if u, _ := s2.AddUser(User{AppID: creds.AppID}); u.OpenID == beijing.OpenID || u.OpenID == abroad.OpenID {
		t.Fatal("openid repeated")
	}

	// A change through the HTTP API reaches the file without waiting for Close.
	rec := httptest.NewRecorder()
	body := `{"appid":"` + creds.AppID + `","url":"http://127.0.0.1:9/changed"}`
	s2.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/sim/admin/callback", strings.NewReader(body)))
	if rec.Code != 200 {
		t.Fatalf("callback: %d %s", rec.Code, rec.Body)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		b, _ := os.ReadFile(file)
		if bytes.Contains(b, []byte("http://127.0.0.1:9/changed")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("waited 3 s for the new callback URL to be written to the state file")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.tmp*")); len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

// A state file that is not the simulator's is refused, not silently replaced.
func TestStateFileUnreadableIsAnError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "wechatsim.json")
	os.WriteFile(file, []byte("{half"), 0o600) //nolint:errcheck
	if _, err := Open(Config{StateFile: file}); err == nil {
		t.Fatal("a broken state file was accepted")
	}
	if b, _ := os.ReadFile(file); string(b) != "{half" {
		t.Fatalf("the broken file was overwritten: %q", b)
	}
}
