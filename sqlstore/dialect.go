package sqlstore

import (
	"context"
	"database/sql"
	"io/fs"
	"strconv"
	"strings"

	"github.com/pathhook/pathhook"
)

// Dialect is what differs between the databases that sqlstore runs on. The
// sqlite and postgres packages each provide one, so that this package
// imports neither driver.
type Dialect interface {
	// Rebind rewrites a query written with ? placeholders into the
	// database's own form. It is called once per distinct query.
	Rebind(query string) string
	// Rows returns a FROM item named v, whose columns column1, column2,
	// and so on have the SQL types types (PostgreSQL's names: text,
	// integer, bigint, boolean, bytea) and yield the rows of values, the
	// values of one row after another; and the parameters it takes.
	Rows(types []string, values []any) (from string, args []any)
	// ListRows is how many of n rows one statement should pass through
	// Rows.
	ListRows(n int) int
	// IsUniqueViolation reports whether err, from an insert, is a unique or
	// primary key violation.
	IsUniqueViolation(err error) bool
	// IsRetryable reports whether a transaction that failed with err may
	// succeed when run again: the database was busy, or it could not
	// serialise the transaction.
	IsRetryable(err error) bool
	// IsConnectionLost reports whether err is of a connection that the
	// database ended or lost (a restart, an operator's
	// pg_terminate_backend): a read-only transaction may run again on
	// another connection, and so may a Pipeliner's write transaction
	// unless its error wraps ErrCommitUnknown.
	IsConnectionLost(err error) bool
	// IsFull reports whether err is of a write that the database had no
	// room for (its disk is full): it changed nothing, and may succeed
	// once there is room.
	IsFull(err error) bool
	// SkipLocked is appended to the claim's SELECT so that concurrent
	// claimers pass over each other's rows; "" where writers take turns.
	SkipLocked() string
	// ForUpdate is appended to the reads of an org, an enrolment, a
	// webhook or a delivery in a write transaction, so that concurrent
	// changes of one of them take turns; "" where writers take turns
	// anyway.
	ForUpdate() string
	// Migrations holds the schema as files NNNN_name.sql, applied in order.
	Migrations() fs.FS
	// LockMigrations is called first in the transaction that migrates, and
	// makes nodes that start at the same moment migrate one after another.
	LockMigrations(ctx context.Context, tx *sql.Tx) error
	// WriteInWith reports whether a statement may insert in its WITH
	// clause (PostgreSQL), so that one statement writes two tables: one
	// round trip instead of two where statements cost one each.
	WriteInWith() bool
	// GroupLockTimeout returns the statements that bound how long a group
	// commit's transaction through a Pipeliner waits for a lock, and that
	// lift the bound before COMMIT; "" if there are none.
	GroupLockTimeout() (set, unset string)
	// NewWork returns the statement that a transaction runs when it makes
	// deliveries claimable by any node, so that idle nodes are woken when
	// it commits; "" if there is none.
	NewWork() (query string, args []any)
	// Generation returns an expression (a scalar subquery) whose value,
	// text, every change to pathways or webhooks changes, in the
	// transaction that makes it, and that never comes back, or "" if the
	// database has none. With one, write transactions through a
	// Pipeliner keep pathways and their webhooks in memory between
	// transactions (see cache.go).
	Generation() string
}

// ErrCommitUnknown is wrapped by the error of a Pipeliner's Transact when
// COMMIT may have reached the database and no answer came back: the
// transaction may have committed or not.
// It is pathhook.ErrCommitUnknown, which the Service looks for.
var ErrCommitUnknown = pathhook.ErrCommitUnknown

// A Pipeliner is a dialect whose driver can send a transaction's
// statements without waiting for each one's answer (PostgreSQL's pipeline
// mode). Its write transactions cost fewer round trips: BEGIN goes out with
// the first statement, and the writes that a transaction does not wait for
// (Pipe.Later) with the statement after them or with COMMIT.
type Pipeliner interface {
	// Transact runs fn in a write transaction on a connection of pool, and
	// commits it unless fn fails.
	Transact(ctx context.Context, pool *sql.DB, fn func(Pipe) error) error
}

// Pipe runs the statements of one transaction, in order. A statement
// queued by Later that fails makes the call that sent it fail instead,
// with the error that its onErr made.
type Pipe interface {
	// Exec runs query and returns how many rows it changed.
	Exec(ctx context.Context, query string, args []any) (int64, error)
	Query(ctx context.Context, query string, args []any) (Rows, error)
	// Later queues query to go out with the next statement, or with COMMIT.
	Later(query string, args []any, onErr func(error) error)
}

// Rows is what the queries of a transaction return: *sql.Rows, the rows of
// a direct query (*driverRows), or a Pipe's.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// RebindDollar rewrites ? placeholders as $1, $2, ... (PostgreSQL). The
// queries of this package hold no ? inside string literals.
func RebindDollar(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] != '?' {
			b.WriteByte(query[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}
