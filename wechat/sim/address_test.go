package sim_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"fenxiao/wechat/sim"
)

// Every simulated user has a saved address (a sample under their name unless the test gives
// one), and the address book page lists the appid's users with theirs, for the bridge's
// wx.openAddress sheet.
func TestAddressBook(t *testing.T) {
	_, creds := newMerchant(t)
	own := sim.Address{UserName: "收件人甲", TelNumber: "13700001111", ProvinceName: "江苏省", CityName: "南京市", CountryName: "玄武区", DetailInfo: "中山路 1 号"}
	a, err := simulator.AddUser(sim.User{AppID: creds.AppID, Nickname: "甲", Address: &own})
	if err != nil {
		t.Fatal(err)
	}
	b, err := simulator.AddUser(sim.User{AppID: creds.AppID, Nickname: "乙"})
	if err != nil {
		t.Fatal(err)
	}
	if *a.Address != own || b.Address == nil || b.Address.UserName != "乙" || len(b.Address.TelNumber) != 11 || b.Address.CountryName == "" {
		t.Fatalf("addresses: %+v, %+v", a.Address, b.Address)
	}
	resp, err := http.Get(simURL + "/sim/address?appid=" + creds.AppID)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`data-name="收件人甲"`, "玄武区 中山路 1 号", `data-name="乙"`, b.Address.DetailInfo} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the address book lacks %q", want)
		}
	}
	if resp, _ := http.Get(simURL + "/sim/address?appid=wxnobody"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown appid: %d", resp.StatusCode)
	}
}
