package campaign

import (
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lib/pq"
	"github.com/shopspring/decimal"

	"fenxiao/wallet"
)

// StringList is a text[] column.
type StringList []string

// Scan implements sql.Scanner.
func (l *StringList) Scan(src any) error {
	var a pq.StringArray
	if err := a.Scan(src); err != nil {
		return err
	}
	*l = StringList(a)
	return nil
}

// Value implements driver.Valuer.
func (l StringList) Value() (driver.Value, error) {
	if l == nil {
		return "{}", nil
	}
	return pq.StringArray(l).Value()
}

// Buttons is the jsonb list of custom bottom buttons.
type Buttons []Button

// Scan implements sql.Scanner.
func (b *Buttons) Scan(src any) error {
	switch v := src.(type) {
	case []byte:
		return json.Unmarshal(v, b)
	case string:
		return json.Unmarshal([]byte(v), b)
	case nil:
		*b = nil
		return nil
	}
	return fmt.Errorf("campaign: buttons from %T", src)
}

// Value implements driver.Valuer.
func (b Buttons) Value() (driver.Value, error) {
	if b == nil {
		return "[]", nil
	}
	j, err := json.Marshal(b)
	return string(j), err
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

func isUnique(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == "23505"
}

func isInsufficient(err error) bool { return errors.Is(err, wallet.ErrInsufficientFunds) }

func decimalInt(n int) decimal.Decimal { return decimal.NewFromInt(int64(n)) }

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
