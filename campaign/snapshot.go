package campaign

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"
	"golang.org/x/sync/singleflight"

	"fenxiao/wallet"
)

// What every visitor of a campaign sees alike — the campaign with its stock left, the
// participant count, the order ticker — is read from the database at most once per campaign
// per snapshotEvery on each replica and shared by every request meanwhile: a viral campaign's
// landing page costs its visitors' own rows only, however many orders it has. Concurrent
// requests for a stale snapshot wait for one read (singleflight) instead of each starting
// their own. A snapshot is for display: it may be snapshotEvery old, so the order path never
// uses it (Buy re-reads the campaign and the database's conditional reserve is the arbiter).

// defaultSnapshotEvery is how long a campaign's snapshot is served before it is read again.
const defaultSnapshotEvery = time.Second

// snapshotKeep bounds the campaigns kept: past it, snapshots older than their interval go.
const snapshotKeep = 1024

// Snapshot is what the landing page of a campaign shows every visitor alike. It is shared
// between requests: read it, never change it.
type Snapshot struct {
	Campaign     *Campaign
	Participants int             // distinct earners, when the campaign shows them
	Ticker       []TickerItem    // recent purchases, when the campaign shows them
	Reserve      decimal.Decimal // the commission still frozen for the campaign (商家已预存佣金)
	ReadAt       time.Time
}

type snapshots struct {
	every time.Duration
	group singleflight.Group
	mu    sync.Mutex
	m     map[int64]snapshotEntry
	loads atomic.Int64
}

type snapshotEntry struct {
	snap *Snapshot
	err  error // a campaign not found (or not published) is remembered too
	at   time.Time
}

// Snapshot returns the shared view of published campaign id, read again when older than the
// interval. ErrNotFound for drafts and unknown ids, as Public.
func (s *Service) Snapshot(ctx context.Context, id int64) (*Snapshot, error) {
	sn := &s.snapshots
	sn.mu.Lock()
	e, ok := sn.m[id]
	sn.mu.Unlock()
	if ok && time.Since(e.at) < sn.every {
		return e.snap, e.err
	}
	v, err, _ := sn.group.Do(strconv.FormatInt(id, 10), func() (any, error) {
		// Another request may have read it while this one waited for the group.
		sn.mu.Lock()
		e, ok := sn.m[id]
		sn.mu.Unlock()
		if ok && time.Since(e.at) < sn.every {
			return e, nil
		}
		// The read is shared: one visitor giving up must not fail the others.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		e = snapshotEntry{at: time.Now()}
		e.snap, e.err = s.readSnapshot(rctx, id)
		if e.err != nil && !isNotFound(e.err) {
			return nil, e.err // not remembered: the next request tries again
		}
		sn.mu.Lock()
		if len(sn.m) >= snapshotKeep {
			for k, old := range sn.m {
				if time.Since(old.at) >= sn.every {
					delete(sn.m, k)
				}
			}
		}
		sn.m[id] = e
		sn.mu.Unlock()
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	e = v.(snapshotEntry)
	return e.snap, e.err
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// SnapshotReads is how many snapshots this service has read from the database (tests).
func (s *Service) SnapshotReads() int64 { return s.snapshots.loads.Load() }

// participantsSQL counts the distinct sharers who earned, from the index orders_earners alone
// (an index-only scan: no order row is read).
const participantsSQL = `SELECT count(DISTINCT sharer_id) FROM orders WHERE campaign_id = $1 AND commission_status IN ('earned', 'held')`

func (s *Service) readSnapshot(ctx context.Context, id int64) (*Snapshot, error) {
	s.snapshots.loads.Add(1)
	c, err := s.Public(ctx, id)
	if err != nil {
		return nil, err
	}
	snap := &Snapshot{Campaign: c, ReadAt: time.Now()}
	if snap.Reserve, err = s.wallet.Balance(ctx, wallet.ReserveOf(c.MerchantID, c.ID)); err != nil {
		return nil, err
	}
	if c.ShowParticipants {
		if err := s.db.GetContext(ctx, &snap.Participants, participantsSQL, c.ID); err != nil {
			return nil, fmt.Errorf("campaign: participants of %d: %w", c.ID, err)
		}
	}
	if c.OrderTicker {
		if snap.Ticker, err = s.Ticker(ctx, c, tickerSize); err != nil {
			return nil, err
		}
	}
	return snap, nil
}
