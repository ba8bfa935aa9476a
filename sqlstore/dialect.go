package sqlstore

import (
	"context"
	"database/sql"
	"io/fs"
	"strconv"
	"strings"
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
	// SkipLocked is appended to the claim's SELECT so that concurrent
	// claimers pass over each other's rows; "" where writers take turns.
	SkipLocked() string
	// ForUpdate is appended to the reads of an enrolment, a webhook or a
	// delivery in a write transaction, so that concurrent changes of one
	// of them take turns; "" where writers take turns anyway.
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
	// NewWork is called in a transaction that makes deliveries claimable by
	// any node, so that idle nodes can be woken when it commits.
	NewWork(ctx context.Context, tx *sql.Tx) error
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
