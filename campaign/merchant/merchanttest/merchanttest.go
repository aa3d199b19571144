// Package merchanttest is test support shared by the tests of the merchant side (package
// merchant) and of the engine (package campaign): the clock both the WeChat simulator and the
// services read, and the checks of a form's field messages. Only tests import it.
package merchanttest

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"fenxiao/campaign/merchant"
)

// Clock is a test's clock, shared by the simulator and the services so that expiries agree
// on both sides. The zero Clock runs with the wall clock.
type Clock struct {
	offset atomic.Int64
	frozen atomic.Int64 // Unix ns the clock stands at (plus offset); 0: it runs
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	if f := c.frozen.Load(); f != 0 {
		return time.Unix(0, f).Add(time.Duration(c.offset.Load()))
	}
	return time.Now().Add(time.Duration(c.offset.Load()))
}

// Advance moves the clock by d (back, when d is negative).
func (c *Clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// Freeze stops the clock at t until the returned func lets it run again: time then moves only
// by Advance, as a deterministic simulation needs.
func (c *Clock) Freeze(t time.Time) (thaw func()) {
	offset := c.offset.Swap(0)
	c.frozen.Store(t.UnixNano())
	return func() { c.frozen.Store(0); c.offset.Store(offset) }
}

// Fields returns the field messages of a validation error, failing the test otherwise.
func Fields(t testing.TB, err error) map[string]string {
	t.Helper()
	var ve *merchant.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v: want a *ValidationError", err)
	}
	return ve.Fields
}

// WantField fails the test unless err is a validation error whose message for field
// contains part.
func WantField(t testing.TB, err error, field, part string) {
	t.Helper()
	f := Fields(t, err)
	if !strings.Contains(f[field], part) {
		t.Fatalf("field %q says %q, want it to mention %q (all: %v)", field, f[field], part, f)
	}
}

var emails atomic.Int64

// Email is an address no other test of the run has used.
func Email() string {
	return fmt.Sprintf("m%d-%d@example.com", time.Now().UnixNano()%1e9, emails.Add(1))
}

// Money fails the test unless got is want (a decimal string such as "12.50").
func Money(t testing.TB, what string, got decimal.Decimal, want string) {
	t.Helper()
	if !got.Equal(decimal.RequireFromString(want)) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}
