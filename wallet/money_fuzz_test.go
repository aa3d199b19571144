package wallet_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"fenxiao/wallet"
)

// FuzzMoney: whatever a person types as an amount (price, commission, top-up), ParseAmount
// never panics and answers quickly; what it accepts is non-negative, has at most two
// decimals, fits NUMERIC(14,2), converts to fen and back unchanged, and parses again from its
// own StringFixed(2) to the same value; what it refuses is ErrInvalidAmount with a reason.
// ParseYuan accepts exactly the positive amounts ParseAmount accepts.
func FuzzMoney(f *testing.F) {
	for _, s := range []string{"12", "12.5", "12.50", ".5", "1.", "0", "0.00", "0.01", "999999999999.99", "1000000000000",
		"-1", "+1", "1e3", "1e999999999", "1E-7", "NaN", "Inf", "0x10", "1,000", "1 000", " 7 ", "1.234", "1.230",
		"１２", "٣", "9" + strings.Repeat("9", 40), "." + strings.Repeat("0", 30) + "1", "00000000000000012", "-", ".", "--1", "1..2"} {
		f.Add(s)
	}
	max := decimal.RequireFromString("999999999999.99")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := wallet.ParseAmount(s)
		y, yerr := wallet.ParseYuan(s)
		if err != nil {
			if !errors.Is(err, wallet.ErrInvalidAmount) || !strings.Contains(err.Error(), wallet.ErrInvalidAmount.Error()+": ") {
				t.Fatalf("ParseAmount(%q): %v, want ErrInvalidAmount with a reason", s, err)
			}
			if yerr == nil {
				t.Fatalf("ParseYuan(%q) accepted %s, ParseAmount refused: %v", s, y, err)
			}
			return
		}
		if d.IsNegative() || !d.Equal(d.Truncate(2)) || d.GreaterThan(max) {
			t.Fatalf("ParseAmount(%q) accepted %s", s, d)
		}
		fen, ferr := wallet.ToFen(d)
		if ferr != nil || !wallet.FromFen(fen).Equal(d) {
			t.Fatalf("%q: %s yuan → %d fen (%v) → %s", s, d, fen, ferr, wallet.FromFen(fen))
		}
		again, aerr := wallet.ParseAmount(d.StringFixed(2))
		if aerr != nil || !again.Equal(d) {
			t.Fatalf("%q: %s does not parse back from %q: %s, %v", s, d, d.StringFixed(2), again, aerr)
		}
		if d.IsPositive() != (yerr == nil) || (yerr == nil && !y.Equal(d)) {
			t.Fatalf("%q: ParseAmount %s, ParseYuan %s %v", s, d, y, yerr)
		}
	})
}
