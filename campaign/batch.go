package campaign

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
)

// Group commit. In a flash sale every order of a campaign updates the same few rows (the
// campaign's counters, its reserve account, a popular sharer's vault), so one order per
// transaction goes no faster than those rows can be locked, written and committed in turn.
// Instead what arrives on this replica for one key (a campaign's reservations, a merchant's
// payments) within a short window runs together: one transaction that locks and writes each
// hot row once for the whole batch. The database stays the arbiter: batches of several
// replicas, and every other transaction, serialise on the same rows as single orders did.

const (
	gatherWindow = 2 * time.Millisecond // how long the first item of a batch waits for others
	maxBatch     = 256
	batchTimeout = 30 * time.Second // a batch's transaction, whoever is still waiting for it
	flusherConns = 6                // connections flushers may hold at once (of a pool of 30)
)

// batcher gathers items by key; one flusher per key runs their batches one after the other.
type batcher[T any] struct {
	// take splits what is waiting into the next batch (at most maxBatch) and the rest.
	take func(waiting []T) (batch, rest []T)
	// run runs one batch on db and tells each item its outcome.
	run func(db conn, batch []T)
	// db is the pool. A flusher holds one connection of it while its queue lasts: taking one
	// from the pool for every batch made each batch queue behind the very requests it was
	// about to serve (they come back for their next query the moment a batch answers them).
	// held bounds the connections all flushers hold at once (a slot each); past it a flusher
	// uses the pool like any request, so busy campaigns never take the whole pool.
	db   *sqlx.DB
	held slots

	mu     sync.Mutex
	queues map[int64]*[]T // what waits, per key with a running flusher
}

// add queues item under key, starting the key's flusher when none runs.
func (b *batcher[T]) add(key int64, item T) {
	b.mu.Lock()
	if b.queues == nil {
		b.queues = map[int64]*[]T{}
	}
	q, running := b.queues[key]
	if !running {
		q = new([]T)
		b.queues[key] = q
	}
	*q = append(*q, item)
	b.mu.Unlock()
	if !running {
		go b.flush(key, q)
	}
}

// conn is what a batch runs its statements on: the flusher's connection, or the pool.
type conn interface {
	sqlx.QueryerContext
	sqlx.ExecerContext
	BeginTxx(ctx context.Context, opts *sql.TxOptions) (*sqlx.Tx, error)
}

// flush runs the batches of one key until its queue is empty.
func (b *batcher[T]) flush(key int64, q *[]T) {
	var db conn = b.db
	select {
	case b.held <- struct{}{}:
		defer func() { <-b.held }()
		ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
		c, err := b.db.Connx(ctx)
		cancel()
		if err == nil {
			defer c.Close()
			db = c
		}
	default:
	}
	for {
		time.Sleep(gatherWindow)
		b.mu.Lock()
		batch, rest := b.take(*q)
		*q = rest
		if len(batch) == 0 {
			delete(b.queues, key)
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		b.run(db, batch)
	}
}

// firstN takes up to maxBatch items in arrival order.
func firstN[T any](waiting []T) (batch, rest []T) {
	if len(waiting) <= maxBatch {
		return waiting, nil
	}
	return waiting[:maxBatch:maxBatch], waiting[maxBatch:]
}
