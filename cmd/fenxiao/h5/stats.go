package h5

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"fenxiao/campaign"
)

// recorder writes page views and shares for the stats off the request path: a page only
// puts an event on a bounded queue and never waits for the database. The writer gathers what
// comes within a quarter second and writes its views in one statement, so a busy landing
// page costs the database a few writes a second, not one per visitor. When the queue is full
// (the database is slow or down) events are dropped and counted: stats may lose a view, a
// page must not lose a visitor.
type recorder struct {
	svc     visitSink
	log     *slog.Logger
	q       chan visitEvent
	done    chan struct{}
	once    sync.Once
	pending atomic.Int64 // events queued and not written yet (flush)
	dropped atomic.Int64
	writes  atomic.Int64 // batches written (tests)
}

// visitSink is where the recorder writes: campaign.Service (RecordViews adds a batch's views
// up per visitor; RecordShare rate-limits each sharer and channel).
type visitSink interface {
	RecordViews(ctx context.Context, views []campaign.View) error
	RecordShare(ctx context.Context, c *campaign.Campaign, sharerID int64, channel string) error
}

type visitEvent struct {
	campaignID, merchantID, userID int64
	channel                        string // "" for a page view, else the share's channel
}

// recorderQueue bounds the events waiting: at a few thousand views a second it is a second
// or two of traffic, a few hundred KB of memory.
const recorderQueue = 4096

// recorderBatch bounds the events one write takes; recorderGather is how long the writer
// gathers them after the first. A view shows in the stats within about that.
const (
	recorderBatch  = 8192
	recorderGather = 250 * time.Millisecond
)

func newRecorder(svc visitSink, log *slog.Logger) *recorder {
	r := &recorder{svc: svc, log: log, q: make(chan visitEvent, recorderQueue), done: make(chan struct{})}
	go r.run()
	return r
}

// view records that u opened a page of c.
func (r *recorder) view(c *campaign.Campaign, u *campaign.User) {
	r.put(visitEvent{campaignID: c.ID, merchantID: c.MerchantID, userID: u.ID})
}

// share records that u shared c through channel (appmessage, timeline, link, poster).
func (r *recorder) share(c *campaign.Campaign, u *campaign.User, channel string) {
	r.put(visitEvent{campaignID: c.ID, merchantID: c.MerchantID, userID: u.ID, channel: channel})
}

func (r *recorder) put(e visitEvent) {
	r.pending.Add(1)
	select {
	case r.q <- e:
	default:
		r.pending.Add(-1)
		if n := r.dropped.Add(1); n == 1 || n%1000 == 0 {
			r.log.Warn("stats queue full: events dropped", "dropped", n)
		}
	}
}

func (r *recorder) run() {
	defer close(r.done)
	batch := make([]visitEvent, 0, recorderBatch)
	for e := range r.q {
		batch = append(batch[:0], e)
		// Whatever comes within recorderGather goes in the same write: a busy page writes a
		// few times a second, each visitor's views of the batch added up in one row update.
		gather := time.NewTimer(recorderGather)
	more:
		for len(batch) < recorderBatch {
			select {
			case e, ok := <-r.q:
				if !ok {
					break more
				}
				batch = append(batch, e)
			case <-gather.C:
				break more
			}
		}
		gather.Stop()
		r.write(batch)
		r.writes.Add(1)
		r.pending.Add(-int64(len(batch)))
	}
}

// write records a batch: its views in one statement, its shares one by one (each is
// rate-limited per sharer and channel).
func (r *recorder) write(batch []visitEvent) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var views []campaign.View
	for _, e := range batch {
		if e.channel == "" {
			views = append(views, campaign.View{CampaignID: e.campaignID, MerchantID: e.merchantID, VisitorID: e.userID})
			continue
		}
		c := &campaign.Campaign{ID: e.campaignID, MerchantID: e.merchantID}
		if err := r.svc.RecordShare(ctx, c, e.userID, e.channel); err != nil {
			r.log.Warn("record share", "campaign_id", e.campaignID, "err", err)
		}
	}
	if err := r.svc.RecordViews(ctx, views); err != nil {
		r.log.Warn("record views", "views", len(views), "err", err)
	}
}

// close stops taking events and waits up to timeout for the queue to drain. Call it once no
// request can arrive any more.
func (r *recorder) close(timeout time.Duration) {
	if r == nil {
		return
	}
	r.once.Do(func() { close(r.q) })
	select {
	case <-r.done:
	case <-time.After(timeout):
		r.log.Warn("stats queue not drained at shutdown", "left", len(r.q))
	}
}

// flush waits until every event queued so far is written (tests and benchmarks).
func (r *recorder) flush(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for r.pending.Load() > 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}
