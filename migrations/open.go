package migrations

import (
	"database/sql"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Open returns a pool on the PostgreSQL database at url (a postgres:// URL or key=value
// settings), as every part of Fenxiao connects: with lib/pq's binary_parameters on, so a
// query with parameters costs one round trip (Parse, Bind, Execute in one message) instead
// of two (lib/pq otherwise asks the server for the parameter types first). Parameters go as
// text, []byte ones as raw bytes, which is what a bytea column wants.
func Open(url string) (*sqlx.DB, error) {
	cfg, err := pq.NewConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	cfg.BinaryParameters = true
	c, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	return sqlx.NewDb(sql.OpenDB(c), "postgres"), nil
}
