package wallet

import (
	"fmt"
	"regexp"
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
	d, err := ParseAmount(s)
	if err != nil {
		return decimal.Zero, err
	}
	if err := checkPositive(d); err != nil {
		return decimal.Zero, err
	}
	return d, nil
}

// amountPattern is how people write an amount of yuan: digits, then optionally a point and
// decimals. Nothing else: decimal.NewFromString alone also takes signs and exponents, and
// "1e999999999" then costs a billion-digit number the moment it is compared or printed.
var amountPattern = regexp.MustCompile(`^([0-9]+)(?:\.([0-9]*))?$`)

// ParseAmount reads an amount typed by a person, zero allowed: "12", "12.5", "12.50", ".5".
// It refuses a sign, an exponent, separators, more than two decimals and more than 12 digits
// before the point (NUMERIC(14,2)); the error's reason (after ErrInvalidAmount) is a sentence
// for the merchant.
func ParseAmount(s string) (decimal.Decimal, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, ".") {
		s = "0" + s
	}
	m := amountPattern.FindStringSubmatch(s)
	switch {
	case s == "":
		return decimal.Zero, fmt.Errorf("%w: 请输入金额", ErrInvalidAmount)
	case m == nil && strings.HasPrefix(s, "-") && amountPattern.MatchString(s[1:]):
		return decimal.Zero, fmt.Errorf("%w: 金额不能为负数", ErrInvalidAmount)
	case m == nil:
		return decimal.Zero, fmt.Errorf("%w: 不是有效的金额，请输入数字，如 12.50", ErrInvalidAmount)
	case len(strings.TrimRight(m[2], "0")) > 2:
		return decimal.Zero, fmt.Errorf("%w: 金额最多两位小数", ErrInvalidAmount)
	case len(strings.TrimLeft(m[1], "0")) > 12 || len(m[1]) > 15:
		return decimal.Zero, fmt.Errorf("%w: 金额过大", ErrInvalidAmount)
	case len(m[2]) > 16:
		return decimal.Zero, fmt.Errorf("%w: 金额最多两位小数", ErrInvalidAmount)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Zero, fmt.Errorf("%w: 不是有效的金额，请输入数字，如 12.50", ErrInvalidAmount)
	}
	return d.Truncate(2), nil // only zeros were cut: "1.500" is 1.50
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

// Yuan formats an amount of yuan for people, with two decimals and thousands separators:
// 12,345.60, -214.00. Every message and page that shows money uses it.
func Yuan(d decimal.Decimal) string {
	s := d.StringFixed(2)
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return sign + b.String() + "." + frac
}
