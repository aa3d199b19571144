package wallet

import (
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// ToFen converts yuan to whole fen for the WeChat boundary. It refuses amounts with more than
// two decimals rather than rounding money away.
func ToFen(yuan decimal.Decimal) (int64, error) {
	if err := checkScale(yuan); err != nil {
		return 0, err
	}
	fen := yuan.Shift(2)
	if !fen.IsInteger() || fen.Abs().GreaterThan(maxAmount.Shift(2)) {
		return 0, fmt.Errorf("%w: %s yuan is not a whole number of fen", ErrInvalidAmount, yuan)
	}
	return fen.IntPart(), nil
}

// FromFen converts whole fen from WeChat to yuan.
func FromFen(fen int64) decimal.Decimal {
	return decimal.New(fen, -2)
}

// ParseYuan reads an amount typed by a person ("12", "12.5", "12.50"): positive, at most two
// decimals, within NUMERIC(14,2). The error says what is wrong in words a merchant understands.
func ParseYuan(s string) (decimal.Decimal, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return decimal.Zero, fmt.Errorf("%w: 请输入金额", ErrInvalidAmount)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Zero, fmt.Errorf("%w: %q 不是有效的金额", ErrInvalidAmount, s)
	}
	if err := checkPositive(d); err != nil {
		return decimal.Zero, err
	}
	return d, nil
}

func checkScale(d decimal.Decimal) error {
	if !d.Equal(d.Truncate(2)) {
		return fmt.Errorf("%w: %s 最多两位小数", ErrInvalidAmount, d)
	}
	return nil
}

func checkPositive(d decimal.Decimal) error {
	if err := checkScale(d); err != nil {
		return err
	}
	if !d.IsPositive() {
		return fmt.Errorf("%w: 金额必须大于 0", ErrInvalidAmount)
	}
	if d.GreaterThan(maxAmount) {
		return fmt.Errorf("%w: 金额过大", ErrInvalidAmount)
	}
	return nil
}
