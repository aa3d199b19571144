package campaign

import (
	"context"
	"errors"
	"time"
)

// slots bounds how many of something run at once: poster drawings, so memory stays bounded
// whatever the number of requests (each holds at most the pixel budget), and the group-commit
// flushers' connections (batch.go).
type slots chan struct{}

// errBusy means no slot came free within the wait.
var errBusy = errors.New("campaign: busy")

// acquire takes a slot within wait, or answers errBusy (or the context's error).
func (s slots) acquire(ctx context.Context, wait time.Duration) (release func(), err error) {
	select {
	case s <- struct{}{}:
		return func() { <-s }, nil
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case s <- struct{}{}:
		return func() { <-s }, nil
	case <-t.C:
		return nil, errBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
