package campaign

import (
	"strings"
	"testing"
)

// Fuzz targets of the follower-facing parsers (issue 14). Their seeds run with the ordinary
// tests; `go test -run '^$' -fuzz '^FuzzShareToken$' ./campaign/` searches further. They need
// no database.

// A share token is accepted only if this server made it for that campaign and sharer:
// whatever the input, a token that parses is exactly the one ShareToken gives back.
func FuzzShareToken(f *testing.F) {
	k, err := deriveShareKey([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		f.Fatal(err)
	}
	s := &Service{shareKey: k, baseURL: "https://fx.example"}
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
