package sim

import "testing"

// The simulator's own signing reproduces WeChat Pay's published vector, independently of
// the SDK the adapter signs with.
func TestPaySignPublishedVector(t *testing.T) {
	m := map[string]string{"appid": "wxd930ea5d5a258f4f", "mch_id": "10000100", "device_info": "1000",
		"body": "test", "nonce_str": "ibuaiVcKdpRxkhJA"}
	const key = "192006250b4c09247ec02edce69f6a2d"
	if got := paySign(m, key, "MD5"); got != "9A0A8659F005D6984697E2CA0A9CF3B7" {
		t.Fatalf("MD5 %s", got)
	}
	if got := paySign(m, key, "HMAC-SHA256"); got != "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6" {
		t.Fatalf("HMAC-SHA256 %s", got)
	}
	m["sign"] = "9a0a8659f005d6984697e2ca0a9cf3b7"
	if !checkSign(m, key) {
		t.Fatal("lower-case sign")
	}
	m["sign_type"] = "SHA1"
	if checkSign(m, key) {
		t.Fatal("unknown sign_type accepted")
	}
}

func TestRequestRootMayBeRequest(t *testing.T) {
	m, err := parseXML([]byte(`<request><mch_billno>b1</mch_billno><total_amount>100</total_amount></request>`))
	if err != nil || m["mch_billno"] != "b1" || m["total_amount"] != "100" {
		t.Fatalf("%v %v", m, err)
	}
}
