package campaign

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/jmoiron/sqlx"
)

// prepared is a statement of the request path prepared on first use and kept for the
// service's life: database/sql prepares it once on each connection of the pool as the
// connection first runs it, then each call is one round trip (bind and execute) that
// PostgreSQL neither parses nor plans again. A preparation that fails is tried again by the
// next call.
type prepared struct {
	query string
	mu    sync.Mutex
	stmt  atomic.Pointer[sqlx.Stmt]
}

func (p *prepared) get(ctx context.Context, db *sqlx.DB) (*sqlx.Stmt, error) {
	if st := p.stmt.Load(); st != nil {
		return st, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if st := p.stmt.Load(); st != nil {
		return st, nil
	}
	st, err := db.PreparexContext(ctx, p.query)
	if err != nil {
		return nil, err
	}
	p.stmt.Store(st)
	return st, nil
}
