package web

import (
	"net/netip"
	"testing"
)

// Behind trusted load balancers the client is the rightmost address they did not add;
// anything else the header says is the client's own claim.
func TestForwardedFor(t *testing.T) {
	lb := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32")}
	cases := []struct {
		peer, header string
		trusted      []netip.Prefix
		want         string
	}{
		{"113.108.81.189", "", nil, "113.108.81.189"},
		{"113.108.81.189", "8.8.8.8", nil, "113.108.81.189"},            // no trusted proxy: the header is ignored
		{"113.108.81.189", "8.8.8.8", lb, "113.108.81.189"},             // the peer is not a proxy
		{"10.1.2.3", "123.125.71.38", lb, "123.125.71.38"},              // one load balancer
		{"10.1.2.3", "8.8.8.8, 123.125.71.38", lb, "123.125.71.38"},     // a forged left entry
		{"10.1.2.3", "123.125.71.38, 192.168.1.7", lb, "123.125.71.38"}, // two proxies
		{"10.1.2.3", "10.9.9.9", lb, "10.9.9.9"},                        // only proxies: the last seen
		{"10.1.2.3", "garbage, 123.125.71.38", lb, "123.125.71.38"},     // junk further left
		{"10.1.2.3", "123.125.71.38, garbage", lb, "10.1.2.3"},          // junk from a proxy: stop there
		{"10.1.2.3", "::ffff:123.125.71.38", lb, "123.125.71.38"},       // IPv4-mapped
	}
	for _, tc := range cases {
		if got := forwardedFor(netip.MustParseAddr(tc.peer), tc.header, tc.trusted); got != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", tc.peer, tc.header, got, tc.want)
		}
	}
}
