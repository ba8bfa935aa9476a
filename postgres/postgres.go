// Package postgres opens pathhook's store on PostgreSQL through pgx, behind
// sqlstore, and listens for new work so that idle nodes wake at once.
package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/sqlstore"
)

// maxConns bounds the pool of one node.
const maxConns = 16

// Open connects to the PostgreSQL database at url (postgres://...), brings
// its schema up to date, and returns it as a store. box seals webhook
// secrets; nil keeps them in plain (tests only).
func Open(ctx context.Context, url string, box pathhook.Sealer) (*sqlstore.DB, error) {
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
	db, err := sqlstore.Open(ctx, sqlstore.Config{Write: pool, Read: pool, Dialect: dialect{}, Sealer: box})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return db, nil
}
