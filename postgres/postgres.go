// Package postgres opens pathhook's store on PostgreSQL through pgx, behind
// sqlstore, runs its write transactions pipelined (pipe.go), and listens for
// new work so that idle nodes wake at once.
package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/sqlstore"
)

// maxConns bounds the pool of one node.
const maxConns = 16

// Options tunes OpenOptions; the zero value is Open's.
type Options struct {
	// Warm opens all of the pool's connections at once rather than as
	// requests need them (see warm). A server wants it; a test that opens
	// many stores side by side does not.
	Warm bool
	// NoGroupCommit gives each Update its own transaction instead of
	// sharing one commit between concurrent Updates.
	NoGroupCommit bool
	// TxTimeout bounds a transaction (sqlstore.Config.TxTimeout); 0 is
	// sqlstore.DefaultTxTimeout.
	TxTimeout time.Duration
}

// groups is how many group commits a node runs at once. Each group's
// statements wait on one another's round trips; four keep the two cores of
// the development machine busy (docs/performance.md).
const groups = 4

// Open connects to the PostgreSQL database at url (postgres://...), brings
// its schema up to date, and returns it as a store. box seals webhook
// secrets; nil keeps them in plain (tests only).
func Open(ctx context.Context, url string, box pathhook.Sealer) (*sqlstore.DB, error) {
	return OpenOptions(ctx, url, box, Options{})
}

// OpenOptions is Open with options.
func OpenOptions(ctx context.Context, url string, box pathhook.Sealer, o Options) (*sqlstore.DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: invalid database URL: %w", err)
	}
	pool := stdlib.OpenDB(*cfg)
	pool.SetMaxOpenConns(maxConns)
	pool.SetMaxIdleConns(maxConns)
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	db, err := sqlstore.Open(ctx, sqlstore.Config{Write: pool, Read: pool, Dialect: dialect{}, Sealer: box, GroupCommit: !o.NoGroupCommit, Groups: groups, TxTimeout: o.TxTimeout})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if o.Warm {
		warm(ctx, pool)
	}
	return db, nil
}

// warm opens all of the pool's connections before the first request needs
// one. Each costs PostgreSQL a backend process, whose first query also
// loads the catalog entries of what it reads; opened on demand, they made
// the first second's API calls wait (at 500 calls a second on a fresh
// node: p50 250 ms in the first second; 4 to 8 ms with the pool warmed).
// A failure here is no error: requests open connections as they need them.
func warm(ctx context.Context, pool *sql.DB) {
	conns := make([]*sql.Conn, 0, maxConns)
	defer func() {
		for _, c := range conns {
			_ = c.Close() // back to the pool, which keeps maxConns idle
		}
	}()
	for range maxConns {
		c, err := pool.Conn(ctx)
		if err != nil {
			return
		}
		conns = append(conns, c)
		if _, err := c.ExecContext(ctx, "SELECT count(*) FROM deliveries WHERE false"); err != nil {
			return
		}
	}
}
