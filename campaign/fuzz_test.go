package campaign

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// Fuzz targets of the follower-facing parsers (issue 14). Their seeds run with the ordinary
// tests; `go test -run '^$' -fuzz '^FuzzShareToken$' ./campaign/` searches further. They need
// no database.

// A share token is accepted only if this server made it for that campaign and sharer:
// whatever the input, a token that parses is exactly the one ShareToken gives back.
func FuzzShareToken(f *testing.F) {
	k, err := deriveKeys([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		f.Fatal(err)
	}
	s := &Service{keys: k, baseURL: "https://fx.example"}
	good := s.ShareToken(7, 42)
	for _, seed := range []string{good, good + "x", strings.ToUpper(good), "1.2.3", "..", "", "-1.-1.AAAA", "7.16.", "zzzzzzzzzzzzzz.1." + good[4:],
		s.ShareToken(8, 42), s.ShareToken(7, 0), s.ShareToken(7, -5), "7.16." + strings.Repeat("A", 4096)} {
		f.Add(int64(7), seed)
	}
	f.Fuzz(func(t *testing.T, campaignID int64, token string) {
		sharer, ok := s.ParseShareToken(campaignID, token)
		if !ok {
			return
		}
		if sharer <= 0 {
			t.Fatalf("token %q names sharer %d", token, sharer)
		}
		if want := s.ShareToken(campaignID, sharer); want != token {
			t.Fatalf("token %q accepted for campaign %d sharer %d, but this server makes %q", token, campaignID, sharer, want)
		}
	})
}

// Region allow-lists and addresses: any text a merchant types as an entry and any address a
// request comes from is answered without a panic; an entry that validates admits exactly the
// visitors of its province (and city), and an error message is one a merchant can read.
func FuzzRegionEntry(f *testing.F) {
	r, err := LoadRegions()
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
		if reg != (Region{}) && reg.Country == "" {
			t.Fatalf("Lookup(%q) = %+v: a known region without a country", ip, reg)
		}
		if err := r.ValidEntry(entry); err != nil {
			if msg := err.Error(); msg == "" || !utf8.ValidString(msg) && utf8.ValidString(entry) {
				t.Fatalf("ValidEntry(%q): unreadable message %q", entry, msg)
			}
			return
		}
		prov, city, hasCity := splitRegionEntry(entry)
		visitor := Region{Country: China, Province: prov, City: city}
		if !RegionAllowed([]string{entry}, visitor) {
			t.Fatalf("valid entry %q refuses a visitor of %+v", entry, visitor)
		}
		if RegionAllowed([]string{entry}, Region{}) {
			t.Fatalf("valid entry %q admits the unknown region", entry)
		}
		if hasCity && RegionAllowed([]string{entry}, Region{Country: China, Province: prov, City: city + "x"}) {
			t.Fatalf("city entry %q admits another city", entry)
		}
	})
}
