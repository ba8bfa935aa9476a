// Package sqlstore implements pathhook.Store, and the delivery engine's
// queue, once for database/sql. A small Dialect holds what differs between
// SQLite and PostgreSQL; the sqlite and postgres packages open a DB with
// theirs. Where it pays, transactions run below database/sql: on SQLite's
// driver connections (Config.Direct, direct.go), and on PostgreSQL through
// a Pipeliner that sends a write transaction's statements in fewer round
// trips.
//
// Times are kept as unix microseconds, booleans as the database's own (or
// 0/1), payloads as bytes exactly as given. Every query is scoped by org.
package sqlstore

import (
	"cmp"
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
	// transaction, to share one commit (see group.go for how a closure
	// that fails is kept from the others). It suits a database with one
	// writer (SQLite), and one where a commit costs more than a statement
	// (PostgreSQL, through a Pipeliner).
	GroupCommit bool
	// Groups is how many groups may run at once, each on a connection of
	// its own (default 1, which a database with one writer needs).
	Groups int
	// TxTimeout bounds the transactions of Update and View where the
	// database is not Direct (default DefaultTxTimeout): a PostgreSQL
	// server, or a proxy before it, can stop answering without closing
	// the connection, and such a transaction would otherwise hold its
	// callers, and a shutdown, for as long. A write it cuts off before
	// COMMIT fails with EUNAVAILABLE and changes nothing. SQLite's
	// transactions run in process, unbounded; the engine's own writes
	// end with its context.
	TxTimeout time.Duration
	// Direct runs the transactions on the drivers of the pools'
	// connections, below database/sql, with every query prepared once per
	// connection (see direct.go), and serves the write transactions' reads
	// of pathways and webhook lists from memory (see cache.go). It pays off
	// where statements are cheap and connections stay open (SQLite).
	// Nothing but the store may write through the write pool.
	Direct bool
	// Background, if set, runs from Open until Close, which cancels its
	// context and waits for it to return: upkeep that should not hold up
	// the writes (SQLite's checkpoints).
	Background func(ctx context.Context)
	// Committed, if set, is called after each write transaction that
	// Direct runs has committed. It must not block: SQLite uses it to
	// schedule a checkpoint.
	Committed func()
}

// DB is a pathhook.Store on a SQL database, with the delivery engine's
// queue methods. It is safe for concurrent use.
type DB struct {
	write, read    *sql.DB
	dialect        Dialect
	box            pathhook.Sealer
	queries        sync.Map // query text -> rebound query text
	group          *committer
	direct         bool
	driverConns    driverConns
	cache          readCache
	genCache       genCache
	pathwayQuery   string // pathwayAndWebhooksQuery for the dialect
	committed      func() // Config.Committed, or nothing
	txTimeout      time.Duration
	stopBackground func()
}

var _ pathhook.Store = (*DB)(nil)

// Open returns a DB on the given pools and brings the schema up to date.
// Closing the DB closes the pools.
func Open(ctx context.Context, c Config) (*DB, error) {
	if c.Read == nil {
		c.Read = c.Write
	}
	db := &DB{write: c.Write, read: c.Read, dialect: c.Dialect, box: c.Sealer, direct: c.Direct, committed: c.Committed,
		txTimeout: cmp.Or(c.TxTimeout, DefaultTxTimeout)}
	if db.committed == nil {
		db.committed = func() {}
	}
	db.pathwayQuery = pathwayAndWebhooksQuery(c.Dialect.Generation())
	if err := db.Migrate(ctx); err != nil {
		return nil, err
	}
	if c.GroupCommit {
		db.group = newCommitter(db, c.Groups)
	}
	if c.Background != nil {
		ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.Background(ctx)
		}()
		db.stopBackground = func() {
			cancel()
			<-done
		}
	}
	return db, nil
}

// Close stops the DB and closes its database pools.
func (db *DB) Close() error {
	if db.stopBackground != nil {
		db.stopBackground()
	}
	if db.group != nil {
		db.group.stop()
	}
	err := db.driverConns.closeStmts()
	err = errors.Join(err, db.write.Close())
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// SQL returns a database pool for checks that the Store does not offer
// (health checks, tests that read raw columns): the pool that writes, or,
// for a store with Direct, the read pool. Such a store keeps what its
// write transactions read in memory (see cache.go) and learns of changes
// made through other connections, but not of changes made on its own
// write connection behind its back.
func (db *DB) SQL() *sql.DB {
	if db.direct {
		return db.read
	}
	return db.write
}

// SerialWrites reports whether the store runs one write transaction at a
// time (SQLite's one write connection), so that a long one holds up every
// other write.
func (db *DB) SerialWrites() bool { return db.write.Stats().MaxOpenConnections == 1 }

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.read.PingContext(ctx) }

// Update runs fn in one read-write transaction, again if the database asks
// for a retry.
func (db *DB) Update(ctx context.Context, fn func(pathhook.Tx) error) error {
	if db.group != nil {
		return db.unavailable(db.group.update(ctx, fn))
	}
	return db.boundedWriteTx(ctx, func(t *txn) error { return fn(t) })
}

// unavailable names err as the database being unavailable (EUNAVAILABLE)
// when it is a connection that could not be made, or that the database
// ended, and running the transaction again did not help (the database is
// down or restarting), or when the database's disk is full. Nothing was
// saved: a COMMIT that may have been is errCommitUnknown, which already
// says so.
func (db *DB) unavailable(err error) error {
	var known *pathhook.Error
	switch {
	case err == nil || errors.As(err, &known):
		return err
	case db.connectionLost(err):
		return fmt.Errorf("%w (%w)", errUnreachable, err)
	case db.dialect.IsFull(err):
		return fmt.Errorf("%w (%w)", errFull, err)
	}
	return err
}

// connectionLost reports whether err is of a connection that could not be
// made, or that the database ended or lost (Dialect.IsConnectionLost), and
// not of a context that ended: pgx takes an expired context for an error
// safe to retry, and a transaction that ran out of time would wait as long
// again.
func (db *DB) connectionLost(err error) bool {
	return db.dialect.IsConnectionLost(err) &&
		!errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

// errFull answers a write that the database had no room for.
var errFull error = pathhook.Errorf(pathhook.EUNAVAILABLE, "the database's disk is full; nothing was changed, try again once there is room")

// errUnreachable answers a call that could not reach the database.
var errUnreachable error = pathhook.Errorf(pathhook.EUNAVAILABLE, "the database cannot be reached right now; nothing was changed, try again")

// View runs fn in one read-only transaction, again if the database asks
// for it or ended the connection it ran on.
func (db *DB) View(ctx context.Context, fn func(pathhook.Tx) error) error {
	retryable := func(err error) bool { return db.dialect.IsRetryable(err) || db.connectionLost(err) }
	return db.unavailable(db.retryIf(ctx, retryable, func() error {
		if db.direct {
			if err := ctx.Err(); err != nil {
				return err
			}
			return db.onDriver(ctx, db.read, func(dc *driverConn) error {
				t := &txn{db: db, direct: dc, ctx: context.Background()}
				return dc.transact(true, func() error { return fn(t) })
			})
		}
		// Bounded as writes are (Config.TxTimeout).
		tctx, cancel := context.WithTimeout(ctx, db.txTimeout)
		defer cancel()
		tx, err := db.read.BeginTx(tctx, &sql.TxOptions{ReadOnly: true})
		if err == nil {
			defer tx.Rollback()
			if err = fn(&txn{db: db, tx: tx, ctx: tctx}); err == nil {
				err = tx.Commit()
			}
		} else {
			err = fmt.Errorf("sqlstore: begin: %w", err)
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return fmt.Errorf("%w (%w)", errNoAnswerRead, err)
		}
		return err
	}))
}

// errNoAnswerRead answers a read that the database did not answer within
// Config.TxTimeout.
var errNoAnswerRead error = pathhook.Errorf(pathhook.EUNAVAILABLE, "the database did not answer in time")

// writeTx runs fn in its own write transaction, retrying when the database
// asks for it. The queue methods use it directly. A COMMIT that got no
// answer is reported as such, as the group committer does, and a database
// out of reach or full as unavailable.
func (db *DB) writeTx(ctx context.Context, fn func(*txn) error) error {
	err := db.retryWriteTx(ctx, fn)
	if errors.Is(err, ErrCommitUnknown) {
		return fmt.Errorf("%w (%w)", errCommitUnknown, err)
	}
	return db.unavailable(err)
}

// boundedWriteTx is writeTx for an Update, bounded by Config.TxTimeout
// where the database is not in process. The engine's own writes are not
// bounded so: their contexts end when the engine stops, and one of them
// may rightly wait long (for a row another transaction holds).
func (db *DB) boundedWriteTx(ctx context.Context, fn func(*txn) error) error {
	if db.direct {
		return db.writeTx(ctx, fn)
	}
	tctx, cancel := context.WithTimeout(ctx, db.txTimeout)
	defer cancel()
	err := db.writeTx(tctx, fn)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil && !errors.Is(err, ErrCommitUnknown) {
		return fmt.Errorf("%w (%w)", errNoAnswer, err)
	}
	return err
}

func (db *DB) retryWriteTx(ctx context.Context, fn func(*txn) error) error {
	return db.retryIf(ctx, db.writeRetryable, func() error {
		if db.direct {
			// A transaction on the driver runs to its end once begun; the
			// caller's context bounds only the wait for the connection.
			if err := ctx.Err(); err != nil {
				return err
			}
			var t *txn
			err := db.onDriver(ctx, db.write, func(dc *driverConn) error {
				t = &txn{db: db, direct: dc, write: true, ctx: context.Background()}
				return dc.transact(false, func() error { return fn(t) })
			})
			if err == nil {
				db.afterCommit(t)
			}
			return err
		}
		if p, ok := db.dialect.(Pipeliner); ok {
			var t *txn
			err := p.Transact(ctx, db.write, func(pipe Pipe) error {
				t = &txn{db: db, pipe: pipe, write: true, ctx: ctx}
				return fn(t)
			})
			if err == nil {
				db.genCache.keep(t.genFills)
			}
			return err
		}
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
		return nil
	})
}

// writeRetryable reports whether a write transaction that failed with err
// may run again: the database asked for it, or, through a Pipeliner, the
// connection was lost or ended before COMMIT could have taken effect (a
// restart or an operator's pg_terminate_backend leaves the pool's other
// connections dead too; each would fail one write). A Pipeliner wraps
// ErrCommitUnknown where COMMIT went out unanswered, which is never run
// again.
func (db *DB) writeRetryable(err error) bool {
	if db.dialect.IsRetryable(err) {
		return true
	}
	_, pipelined := db.dialect.(Pipeliner)
	return pipelined && db.connectionLost(err) && !errors.Is(err, ErrCommitUnknown)
}

// afterCommit is what follows a write transaction on the driver that has
// committed: the reads it made are cached, and Config.Committed is told.
func (db *DB) afterCommit(t *txn) {
	db.cache.keep(t.fills)
	db.committed()
}

// maxTries bounds how often a transaction is run when the database keeps
// asking for a retry.
const maxTries = 8

// DefaultTxTimeout is Config.TxTimeout's default: longer than clients
// commonly wait for an answer, so that a database that is slow, or a lock
// held long, is not taken for one that does not answer.
const DefaultTxTimeout = 2 * time.Minute

func (db *DB) retry(ctx context.Context, run func() error) error {
	return db.retryIf(ctx, db.dialect.IsRetryable, run)
}

// retryIf runs run until it succeeds, fails with an error that retryable
// does not accept, or has run maxTries times.
func (db *DB) retryIf(ctx context.Context, retryable func(error) bool, run func() error) error {
	wait := time.Millisecond
	for try := 1; ; try++ {
		err := run()
		if err == nil || try == maxTries || !retryable(err) {
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

// ErrWrongKey is CheckSecrets' error when the master key does not open the
// webhook secrets that the database holds.
var ErrWrongKey = errors.New("the master key does not open the webhook secrets in this database")

// CheckSecrets reports whether the store's master key opens the webhook
// secrets that the database holds (one of them, where there are any): a
// lost or wrong key would otherwise show only when an attempt or an API
// call needs a secret.
func (db *DB) CheckSecrets(ctx context.Context) error {
	var sealed []byte
	err := db.read.QueryRowContext(ctx, "SELECT secret FROM webhooks WHERE secret IS NOT NULL LIMIT 1").Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fail("check secrets", err)
	}
	if _, err := db.open(sealed); err != nil {
		return fmt.Errorf("%w (%w)", ErrWrongKey, err)
	}
	return nil
}
