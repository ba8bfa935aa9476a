// Package sqlstore implements pathhook.Store, and the delivery engine's
// queue, once for database/sql. A small Dialect holds what differs between
// SQLite and PostgreSQL; the sqlite and postgres packages open a DB with
// theirs.
//
// Times are kept as unix microseconds, booleans as the database's own (or
// 0/1), payloads as bytes exactly as given. Every query is scoped by org.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pathhook/pathhook"
)

// Config is what Open needs.
type Config struct {
	// Write runs Update and the queue methods. For SQLite it is a pool of
	// one connection whose transactions begin IMMEDIATE.
	Write *sql.DB
	// Read runs View. It may be Write.
	Read    *sql.DB
	Dialect Dialect
	// Sealer seals webhook secrets at rest; nil stores them in plain.
	Sealer pathhook.Sealer
	// GroupCommit runs the closures of concurrent Updates in one
	// transaction, each in its own savepoint, to share one commit. It
	// suits a database with one writer (SQLite).
	GroupCommit bool
	// PrepareWrites keeps the write queries prepared on the write pool. It
	// pays off where the pool is one connection that stays open (SQLite);
	// pgx keeps its own cache of prepared statements.
	PrepareWrites bool
}

// DB is a pathhook.Store on a SQL database, with the delivery engine's
// queue methods. It is safe for concurrent use.
type DB struct {
	write, read *sql.DB
	dialect     Dialect
	box         pathhook.Sealer
	queries     sync.Map // query text -> rebound query text
	stmts       sync.Map // rebound query text -> *sql.Stmt on write
	unprepared  sync.Map // rebound query text -> true, waiting to be prepared
	group       *committer
	prepare     bool
}

var _ pathhook.Store = (*DB)(nil)

// Open returns a DB on the given pools and brings the schema up to date.
// Closing the DB closes the pools.
func Open(ctx context.Context, c Config) (*DB, error) {
	if c.Read == nil {
		c.Read = c.Write
	}
	db := &DB{write: c.Write, read: c.Read, dialect: c.Dialect, box: c.Sealer, prepare: c.PrepareWrites}
	if err := db.Migrate(ctx); err != nil {
		return nil, err
	}
	if c.GroupCommit {
		db.group = newCommitter(db)
	}
	return db, nil
}

// Close stops the DB and closes its database pools.
func (db *DB) Close() error {
	if db.group != nil {
		db.group.stop()
	}
	db.stmts.Range(func(_, v any) bool {
		_ = v.(*sql.Stmt).Close()
		return true
	})
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// SQL returns the database pool that writes, for checks that the Store
// does not offer (health checks, tests that read raw columns).
func (db *DB) SQL() *sql.DB { return db.write }

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.read.PingContext(ctx) }

// Update runs fn in one read-write transaction, again if the database asks
// for a retry.
func (db *DB) Update(ctx context.Context, fn func(pathhook.Tx) error) error {
	if db.group != nil {
		return db.group.update(ctx, fn)
	}
	return db.writeTx(ctx, func(t *txn) error { return fn(t) })
}

// View runs fn in one read-only transaction.
func (db *DB) View(ctx context.Context, fn func(pathhook.Tx) error) error {
	return db.retry(ctx, func() error {
		tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return fmt.Errorf("sqlstore: begin: %w", err)
		}
		defer tx.Rollback()
		if err := fn(&txn{db: db, tx: tx}); err != nil {
			return err
		}
		return tx.Commit()
	})
}

// writeTx runs fn in its own write transaction, retrying when the database
// asks for it. The queue methods use it directly.
func (db *DB) writeTx(ctx context.Context, fn func(*txn) error) error {
	return db.retry(ctx, func() error {
		tx, err := db.write.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("sqlstore: begin: %w", err)
		}
		t := &txn{db: db, tx: tx, write: true}
		if err := fn(t); err != nil {
			_ = tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("sqlstore: commit: %w", err)
		}
		if db.prepare {
			db.prepareQueued()
		}
		return nil
	})
}

// maxTries bounds how often a transaction is run when the database keeps
// asking for a retry.
const maxTries = 8

func (db *DB) retry(ctx context.Context, run func() error) error {
	wait := time.Millisecond
	for try := 1; ; try++ {
		err := run()
		if err == nil || try == maxTries || !db.dialect.IsRetryable(err) {
			return err
		}
		jitter := time.Duration(rand.Int64N(int64(wait)))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait + jitter):
		}
		wait *= 2
	}
}

// rebound returns query in the dialect's placeholder form.
func (db *DB) rebound(query string) string {
	if q, ok := db.queries.Load(query); ok {
		return q.(string)
	}
	q := db.dialect.Rebind(query)
	db.queries.Store(query, q)
	return q
}

// writeStmt returns the statement prepared for query on the write pool,
// if there is one yet. If not, the query is queued to be prepared once the
// write connection is free: preparing on the pool from inside a
// transaction would wait for the one connection that the transaction
// holds.
func (db *DB) writeStmt(query string) (*sql.Stmt, bool) {
	if s, ok := db.stmts.Load(query); ok {
		return s.(*sql.Stmt), true
	}
	db.unprepared.Store(query, true)
	return nil, false
}

// prepareQueued prepares the queries that writeStmt queued. It runs
// between write transactions, so that the hot write path stops parsing
// its queries again on every call.
func (db *DB) prepareQueued() {
	db.unprepared.Range(func(k, _ any) bool {
		query := k.(string)
		db.unprepared.Delete(query)
		if _, ok := db.stmts.Load(query); ok {
			return true
		}
		if s, err := db.write.PrepareContext(context.Background(), query); err == nil {
			db.stmts.Store(query, s)
		}
		return true
	})
}
