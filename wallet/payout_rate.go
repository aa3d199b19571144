package wallet

import (
	"context"
	"math"
	"sync"
	"time"
)

// sendRate paces one merchant's sendredpack calls with a margin under the configured rate
// over any sliding second, as WeChat Pay counts them: at most perWindow calls start within
// any rateWindow, where perWindow is 2 % under the rate and at least one call under it (30/s:
// 29 a second, 200/s: 196). A token bucket sitting exactly on the rate lets rate+1 calls
// into a closed second (at 0, 1/30 s, …, 1 s), and a call that sets off late next to one on
// time makes two close together: an outside check saw 31 calls in one second at 30/s.
//
// Two rules together: calls follow an even schedule, one every (rateWindow+rateGuard) /
// perWindow, which catches up after a late call or a pause up to rateCatchUp (a lease, a
// slow answer) without bunching a whole second; and a call
// starts only once the perWindow-th call before it is more than rateWindow+rateGuard old,
// the times being when each call was let go (the guard absorbs the few milliseconds between
// that and WeChat seeing it). Throughput: 30/s gives 28.7 calls a second (96 %), 200/s 194.
type sendRate struct {
	mu    sync.Mutex
	every time.Duration // the schedule's spacing
	next  time.Time     // the schedule's next slot
	last  []time.Time   // ring of the last perWindow calls' start times
	i     int           // the ring's oldest
	now   func() time.Time
}

const (
	rateWindow  = time.Second
	rateGuard   = 10 * time.Millisecond
	rateCatchUp = 100 * time.Millisecond
)

// perWindow is how many calls sendRate lets start in any rateWindow at rate per second.
func perWindow(rate float64) int {
	n := int(math.Floor(rate * 0.98))
	if c := int(math.Ceil(rate)) - 1; c < n {
		n = c
	}
	return max(n, 1)
}

func newSendRate(rate float64) *sendRate {
	n := perWindow(rate)
	every := (rateWindow + rateGuard) / time.Duration(n)
	if slow := time.Duration(float64(time.Second) / rate); slow > every {
		every = slow // under one call a second
	}
	return &sendRate{every: every, last: make([]time.Time, n), now: time.Now}
}

// wait blocks until the next call may start and counts it as started. Callers are served
// one at a time.
func (r *sendRate) wait(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		now := r.now()
		at := r.next
		if oldest := r.last[r.i]; !oldest.IsZero() {
			if free := oldest.Add(rateWindow + rateGuard + time.Nanosecond); free.After(at) {
				at = free
			}
		}
		if !at.After(now) {
			break
		}
		t := time.NewTimer(at.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	now := r.now()
	r.last[r.i] = now
	r.i = (r.i + 1) % len(r.last)
	// The schedule keeps its pace after a call that set off late (the ring bounds the catch-up);
	// after an idle spell it starts again from now rather than owing a burst.
	base := r.next
	if base.Before(now.Add(-rateCatchUp)) {
		base = now
	}
	r.next = base.Add(r.every)
	return nil
}

// notBefore holds the next call back until t (another replica's calls until then).
func (r *sendRate) notBefore(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.After(r.next) {
		r.next = t
	}
}

// rates keeps each merchant's sendRate for the life of the process, so consecutive runs of
// SendDue (every few seconds) share one account of the last second.
type rates struct {
	mu sync.Mutex
	by map[int64]*sendRate
}

func (rs *rates) of(merchantID int64, rate float64) *sendRate {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.by == nil {
		rs.by = map[int64]*sendRate{}
	}
	r, ok := rs.by[merchantID]
	if !ok {
		r = newSendRate(rate)
		rs.by[merchantID] = r
	}
	return r
}
