package h5

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"fenxiao/campaign"
)

// countingSink is a visitSink that keeps what it was given. (campaign.Service.RecordViews
// adding up a batch per visitor has its own test against the database, TestRecordViewsBatch.)
type countingSink struct {
	mu       sync.Mutex
	views    int
	visitors map[int64]bool
	shares   []string
}

func (s *countingSink) RecordViews(_ context.Context, views []campaign.View) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range views {
		s.views++
		s.visitors[v.VisitorID] = true
	}
	return nil
}

func (s *countingSink) RecordShare(_ context.Context, _ *campaign.Campaign, _ int64, channel string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shares = append(s.shares, channel)
	return nil
}

func (s *countingSink) counts() (views, visitors, shares int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.views, len(s.visitors), len(s.shares)
}

func newTestRecorder(t *testing.T) (*recorder, *countingSink) {
	sink := &countingSink{visitors: map[int64]bool{}}
	r := newRecorder(sink, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { r.close(5 * time.Second) })
	return r, sink
}

func testVisitors(n int) []*campaign.User {
	users := make([]*campaign.User, n)
	for i := range users {
		users[i] = &campaign.User{ID: int64(100 + i), MerchantID: 1}
	}
	return users
}

// A burst of page views is written whole, in batches, with the shares among it: 3,000 views
// by three visitors and one share queued at once are all written after a flush, in a few
// writes, and nothing is dropped.
func TestRecorderWritesBurstsInBatches(t *testing.T) {
	r, sink := newTestRecorder(t)
	c := &campaign.Campaign{ID: 7, MerchantID: 1}
	users := testVisitors(3)
	const views = 3000
	for i := range views {
		r.view(c, users[i%len(users)])
		if i == views/2 {
			r.share(c, users[0], "link")
		}
	}
	if !r.flush(10 * time.Second) {
		t.Fatal("the recorder did not drain its queue in 10 s")
	}
	v, visitors, shares := sink.counts()
	if v != views || visitors != len(users) || shares != 1 || r.dropped.Load() != 0 {
		t.Fatalf("after %d views and a share: %d views by %d visitors, %d shares, %d dropped", views, v, visitors, shares, r.dropped.Load())
	}
	if w := r.writes.Load(); w > 10 {
		t.Errorf("a burst of %d events took %d writes, want a few batches", views+1, w)
	}
}

// A steady stream of page views, as a busy landing page sends them, is written a few times a
// second, not once per millisecond: 600 views by 64 visitors over 0.6 s take at most 10
// writes (before, the writer wrote whatever a millisecond brought: hundreds of write
// transactions a second, each updating the same visitors' rows), and every view counts.
func TestRecorderWritesAStreamAFewTimesASecond(t *testing.T) {
	r, sink := newTestRecorder(t)
	c := &campaign.Campaign{ID: 7, MerchantID: 1}
	users := testVisitors(64)
	const views = 600
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for i := range views {
		<-tick.C
		r.view(c, users[i%len(users)])
	}
	if !r.flush(10 * time.Second) {
		t.Fatal("the recorder did not drain its queue in 10 s")
	}
	if n := r.writes.Load(); n > 10 {
		t.Errorf("%d views over %v took %d writes, want ≤ 10", views, views*time.Millisecond, n)
	}
	if v, visitors, _ := sink.counts(); v != views || visitors != len(users) {
		t.Fatalf("after %d views by %d visitors: %d views by %d visitors", views, len(users), v, visitors)
	}
}
