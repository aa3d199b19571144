package wallet_test

import (
	"errors"
	"strings"
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

func TestParseAmount(t *testing.T) {
	for in, want := range map[string]string{"12": "12", " 12.5 ": "12.5", "12.50": "12.5", ".5": "0.5", "1.": "1", "0": "0",
		"007.10": "7.1", "1.500": "1.5", "999999999999.99": "999999999999.99"} {
		got, err := wallet.ParseAmount(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseAmount(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for in, reason := range map[string]string{
		"": "请输入金额", "abc": "不是有效的金额", "1e3": "不是有效的金额", "1e999999999": "不是有效的金额",
		"+1": "不是有效的金额", "1,000": "不是有效的金额", "1 000": "不是有效的金额", "NaN": "不是有效的金额",
		"0x10": "不是有效的金额", "１２": "不是有效的金额", "-1": "金额不能为负数", "-0.5": "金额不能为负数",
		"1.234": "最多两位小数", "1.00000000000000000001": "最多两位小数", "1000000000000": "金额过大",
		strings.Repeat("9", 400): "金额过大", "0" + strings.Repeat("0", 20) + "1": "金额过大",
	} {
		_, err := wallet.ParseAmount(in)
		if !errors.Is(err, wallet.ErrInvalidAmount) || !strings.Contains(err.Error(), reason) {
			t.Errorf("ParseAmount(%.30q): %v, want ErrInvalidAmount saying %q", in, err, reason)
		}
	}
}
