package region

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// Place allow-lists and addresses: any text a merchant types as an entry and any address a
// request comes from is answered without a panic; an entry that validates admits exactly the
// visitors of its province (and city), and an error message is one a merchant can read.
func FuzzRegionEntry(f *testing.F) {
	r, err := Load()
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{"广东省", "广东省/深圳市", "广东", "广东省/", "/深圳市", "广东省/深圳市/南山区", " 北京市 / 北京市 ",
		"云南省/大理", "纽约", "", "/", "\x00", "广东省/纽约", strings.Repeat("省", 300)} {
		f.Add(seed, "113.108.81.189")
	}
	f.Add("上海市", "::ffff:101.226.103.106")
	f.Add("上海市", "999.1.1.1")
	f.Add("上海市", "2001:db8::1")
	f.Fuzz(func(t *testing.T, entry, ip string) {
		reg, _ := r.Lookup(ip) // bad addresses are errors with the unknown region, never a panic
		if reg != (Place{}) && reg.Country == "" {
			t.Fatalf("Lookup(%q) = %+v: a known region without a country", ip, reg)
		}
		if err := r.ValidEntry(entry); err != nil {
			if msg := err.Error(); msg == "" || !utf8.ValidString(msg) && utf8.ValidString(entry) {
				t.Fatalf("ValidEntry(%q): unreadable message %q", entry, msg)
			}
			return
		}
		prov, city, hasCity := splitEntry(entry)
		visitor := Place{Country: China, Province: prov, City: city}
		if !Allowed([]string{entry}, visitor) {
			t.Fatalf("valid entry %q refuses a visitor of %+v", entry, visitor)
		}
		if Allowed([]string{entry}, Place{}) {
			t.Fatalf("valid entry %q admits the unknown region", entry)
		}
		if hasCity && Allowed([]string{entry}, Place{Country: China, Province: prov, City: city + "x"}) {
			t.Fatalf("city entry %q admits another city", entry)
		}
	})
}
