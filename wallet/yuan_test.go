package wallet_test

import (
	"testing"

	"github.com/shopspring/decimal"

	"fenxiao/wallet"
)

// Yuan is the one way money is shown: two decimals, thousands separators, the sign kept.
func TestYuanSeparators(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0.00", "0.3": "0.30", "999.99": "999.99", "1000": "1,000.00", "199020": "199,020.00",
		"1234567.8": "1,234,567.80", "-32": "-32.00", "-214748359700": "-214,748,359,700.00",
	} {
		if got := wallet.Yuan(decimal.RequireFromString(in)); got != want {
			t.Errorf("Yuan(%s) = %q, want %q", in, got, want)
		}
	}
}
