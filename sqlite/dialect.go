package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"io/fs"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// dialect is what sqlstore needs to know about SQLite.
type dialect struct{}

func (dialect) Rebind(query string) string { return query }

// Rows is a VALUES list; SQLite takes its parameters with the types of
// their values.
func (dialect) Rows(types []string, values []any) (string, []any) {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(types)), ", ") + ")"
	rows := strings.TrimSuffix(strings.Repeat(row+", ", len(values)/len(types)), ", ")
	return "(VALUES " + rows + ") AS v", values
}

// maxListRows bounds the rows of one VALUES list.
const maxListRows = 64

// ListRows is the largest power of two up to maxListRows that n holds: a
// VALUES list is a statement of its own for each length, and lengths in
// powers of two let a few statements, prepared once, serve every batch.
func (dialect) ListRows(n int) int {
	size := maxListRows
	for size > n {
		size /= 2
	}
	return size
}

func (dialect) IsUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// IsConnectionLost is false: SQLite runs in the process.
func (dialect) IsConnectionLost(error) bool { return false }

// IsFull reports SQLITE_FULL: the disk is full. SQLite rolls the
// transaction back.
func (dialect) IsFull(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_FULL
}

// IsRetryable reports a database that another process holds locked for
// longer than the busy timeout; in this process writers take turns on one
// connection and never meet.
func (dialect) IsRetryable(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

func (dialect) SkipLocked() string { return "" }

func (dialect) ForUpdate() string { return "" }

func (dialect) Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embedded directory is there or the build would fail
	}
	return sub
}

// LockMigrations does nothing: the write connection begins its
// transactions IMMEDIATE, which already makes two processes that start at
// once migrate one after the other.
func (dialect) LockMigrations(context.Context, *sql.Tx) error { return nil }

// WriteInWith is false: SQLite's WITH clauses only read, and its
// statements cost no round trip anyway.
func (dialect) WriteInWith() bool { return false }

// GroupLockTimeout has nothing to set: SQLite's one writer waits for no
// locks within the process.
func (dialect) GroupLockTimeout() (set, unset string) { return "", "" }

// Generation is "": a SQLite store learns of other connections' commits
// from PRAGMA data_version instead (sqlstore/cache.go).
func (dialect) Generation() string { return "" }

// NewWork has no statement: SQLite has no notifications, and one process
// owns the database file, so its engine learns of new work through Offer
// and its own polling.
func (dialect) NewWork() (string, []any) { return "", nil }
