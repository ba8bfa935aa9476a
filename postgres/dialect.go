package postgres

import (
	"context"
	"crypto/tls"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"io"
	"io/fs"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pathhook/pathhook/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Channel is the channel on which a transaction that makes deliveries
// claimable by any node, or changes a webhook, notifies when it commits.
const Channel = "pathhook_deliveries"

// ChangedPrefix starts the payload of a notification on Channel that a
// webhook has changed; the webhook's id follows. Triggers send it
// (migration 0003), for every change, whoever makes it.
const ChangedPrefix = "webhook changed "

// migrationLock is the key of the advisory lock under which nodes migrate
// one at a time.
const migrationLock = 0x70617468686f6f6b // "pathhook"

// PostgreSQL error codes (SQLSTATE).
const (
	codeUniqueViolation      = "23505"
	codeSerializationFailure = "40001"
	codeLockNotAvailable     = "55P03" // lock_timeout ran out
	codeDeadlockDetected     = "40P01"
)

// dialect is what sqlstore needs to know about PostgreSQL.
type dialect struct{}

func (dialect) Rebind(query string) string { return sqlstore.RebindDollar(query) }

// Rows passes each column as one array, which unnest turns back into
// rows. Unlike a VALUES list, whose parameters PostgreSQL would take as
// text, the arrays have types, and the statement is the same for any
// number of rows. The planner guesses that unnest yields few rows, and
// so joins them through the primary key's index however small the table.
func (dialect) Rows(types []string, values []any) (string, []any) {
	params, names := make([]string, len(types)), make([]string, len(types))
	args := make([]any, len(types))
	for c, typ := range types {
		params[c], names[c] = "?::"+typ+"[]", "column"+strconv.Itoa(c+1)
		column := make([]any, 0, len(values)/len(types))
		for i := c; i < len(values); i += len(types) {
			column = append(column, values[i])
		}
		args[c] = column
	}
	return "unnest(" + strings.Join(params, ", ") + ") AS v(" + strings.Join(names, ", ") + ")", args
}

// ListRows is n: the statement that Rows makes is the same for any
// number of rows, so one statement takes them all.
func (dialect) ListRows(n int) int { return n }

func (dialect) IsUniqueViolation(err error) bool { return pgCode(err) == codeUniqueViolation }

func (dialect) IsRetryable(err error) bool {
	switch pgCode(err) {
	case codeSerializationFailure, codeDeadlockDetected, codeLockNotAvailable:
		return true
	}
	return false
}

// IsConnectionLost reports whether err is of a connection that broke or
// could not be made, as opposed to an answer of the database:
//   - an error that ends the session with one of the classes of a server
//     going away: 57P (an operator's pg_terminate_backend, a shutdown, a
//     restart), 08 (a connection failure, or a proxy's word for one) and
//     53300 (too many connections, at connect);
//   - the same classes with any severity at connect, or where the
//     connection closed after them (a proxy's error, as old PgBouncer's
//     ERROR 08P01);
//   - no answer at all: pgx or database/sql says nothing was sent (the
//     latter's driver.ErrBadConn), or the connection was closed
//     mid-answer (EOF) or broke (a network error other than a timeout,
//     since a database slow to answer is not gone; at connect, where
//     nothing was sent, a timeout too).
//
// A connection refused for its credentials, database or TLS settings, or
// an error that leaves the session open, is not one: no retry mends it.
func (dialect) IsConnectionLost(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// An error at connect, or after which the connection closed, ended
		// the session too, whatever its severity: old PgBouncer sends
		// ERROR 08P01 for every error of its own, and closes.
		var closed *closedAfter
		var connect *pgconn.ConnectError
		ended := endsSession(pgErr) || errors.As(err, &closed) || errors.As(err, &connect)
		code := pgErr.Code
		return ended && (strings.HasPrefix(code, "57P") || strings.HasPrefix(code, "08") || code == "53300")
	}
	var certificate *tls.CertificateVerificationError
	var alert tls.AlertError
	if errors.As(err, &certificate) || errors.As(err, &alert) {
		return false // TLS refused, before anything else was sent
	}
	if pgconn.SafeToRetry(err) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var network net.Error
	if !errors.As(err, &network) {
		return false
	}
	var connect *pgconn.ConnectError
	return !network.Timeout() || errors.As(err, &connect)
}

// IsFull reports disk_full (53100): the transaction failed, and changed
// nothing.
func (dialect) IsFull(err error) bool { return pgCode(err) == "53100" }

func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// SkipLocked lets concurrent claimers pass over the rows that another
// claimer has locked instead of waiting for them (the lock is ForUpdate's).
func (dialect) SkipLocked() string { return " FOR NO KEY UPDATE OF d SKIP LOCKED" }

// ForUpdate locks the rows that a read-then-write change reads, so that
// two concurrent changes of one org, enrolment, webhook or delivery take
// turns. No transaction that locks such a row changes its key or deletes
// it, so the lock is NO KEY UPDATE: inserts that refer to the row (a
// delivery to a webhook being changed, an attempt of a delivery) do not
// wait for it, as they would behind FOR UPDATE. A delete (Prune's) still
// waits, and is waited for.
func (dialect) ForUpdate() string { return " FOR NO KEY UPDATE" }

func (dialect) Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embedded directory is there or the build would fail
	}
	return sub
}

// LockMigrations takes a transaction-scoped advisory lock, so that nodes
// starting at once migrate one after another.
func (dialect) LockMigrations(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock))
	return err
}

// WriteInWith is true: PostgreSQL runs an INSERT in a WITH clause.
func (dialect) WriteInWith() bool { return true }

// GroupLockTimeout bounds how long a group commit's statements wait for a
// lock: a group holds up every caller in it, and a cycle of waits between
// groups would otherwise last until PostgreSQL's deadlock check (a second
// by default). A group that gives up fails, and its calls run alone,
// without the bound. COMMIT goes without it: a commit that notifies waits
// its turn for the database's notification lock.
func (dialect) GroupLockTimeout() (set, unset string) {
	return "SET LOCAL lock_timeout = '200ms'", "SET LOCAL lock_timeout = DEFAULT"
}

// Generation is the counter that migration 0002's triggers raise, with the
// time the server started: a promoted standby, or a server started from a
// backup, may count again from a lower value, but not on a server started
// at the same moment. Data restored into a running server keeps its start
// time: restart the nodes after such a restore.
func (dialect) Generation() string {
	return "(SELECT gen || '@' || extract(epoch FROM pg_postmaster_start_time()) FROM cache_generation WHERE id = 1)"
}

// NewWork notifies Channel when the transaction commits; PostgreSQL sends
// one notification however often a transaction asks.
func (dialect) NewWork() (string, []any) { return "SELECT pg_notify(?, '')", []any{Channel} }
