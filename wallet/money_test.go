package wallet_test

import (
	"errors"
	"testing"

	"fenxiao/wallet"
)

func TestToFen(t *testing.T) {
	for _, tc := range []struct {
		yuan string
		fen  int64
		ok   bool
	}{
		{"0", 0, true}, {"0.01", 1, true}, {"1", 100, true}, {"200.00", 20000, true},
		{"450.3", 45030, true}, {"-3.5", -350, true}, {"0.001", 0, false}, {"1.005", 0, false},
	} {
		fen, err := wallet.ToFen(d(tc.yuan))
		if tc.ok && (err != nil || fen != tc.fen) {
			t.Errorf("ToFen(%s) = %d, %v; want %d", tc.yuan, fen, err, tc.fen)
		}
		if !tc.ok && !errors.Is(err, wallet.ErrInvalidAmount) {
			t.Errorf("ToFen(%s) = %d, %v; want ErrInvalidAmount", tc.yuan, fen, err)
		}
	}
	for _, fen := range []int64{0, 1, 99, 100, 45030, 999999999999} {
		back, err := wallet.ToFen(wallet.FromFen(fen))
		if err != nil || back != fen {
			t.Errorf("round trip of %d fen: %d, %v", fen, back, err)
		}
	}
}

func TestParseYuan(t *testing.T) {
	for _, ok := range []string{"1", "0.30", " 12.5 ", "200"} {
		if _, err := wallet.ParseYuan(ok); err != nil {
			t.Errorf("ParseYuan(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "abc", "0", "-1", "1.234", "1e20", "NaN"} {
		if _, err := wallet.ParseYuan(bad); !errors.Is(err, wallet.ErrInvalidAmount) {
			t.Errorf("ParseYuan(%q): %v, want ErrInvalidAmount", bad, err)
		}
	}
}
