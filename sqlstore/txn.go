package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pathhook/pathhook"
)

// txn is one transaction; it implements pathhook.Tx. Queries are written
// with ? placeholders and rebound for the dialect.
type txn struct {
	db *DB
	// Exactly one of tx, direct and pipe runs the statements: direct in the
	// transactions of a store with Config.Direct, pipe in the write
	// transactions of a Pipeliner dialect.
	tx     *sql.Tx
	direct *driverConn
	pipe   Pipe
	write  bool
	// ctx, when set, replaces the callers' contexts: in a group commit one
	// caller's cancellation must not interrupt a transaction it shares.
	ctx context.Context
	// wrote is set by direct statements that changed rows, or may have,
	// and by every write that a Pipe runs or queues.
	wrote bool
	// closure is the index in its group of the closure running, in a
	// group commit through a Pipe (-1 before the first and after the
	// last). When a statement
	// fails there, blamed is set, and culprit to the index of the closure
	// whose statement it was, or -1 if the failure is the transaction's
	// (a deadlock, a lock wait that ran out): a statement that execLater
	// queued is blamed on its closure, whichever statement's round trip
	// reports the failure.
	closure, culprit int
	blamed           bool
	// fills are the reads that the cache keeps if the transaction commits.
	fills []cacheFill
	// versionChecked is set once the cache has been checked against
	// commits of other connections.
	versionChecked bool
	// read holds, by pathway, what Pathway read of a pathway and its
	// webhooks in a transaction without the cache, which Pathway and
	// Webhooks answer from (in a group commit, calls for one pathway share
	// one read); a statement that may change webhooks or pathways empties
	// it.
	read map[cacheKey]pathwayRead
	// changedCached is set by the first statement that may change
	// webhooks or pathways: from then on the transaction reads them from
	// the database, which shows it its own changes.
	changedCached bool
	// gen is the generation that the transaction first read ("" before
	// it has; a generation is never ""), and genFills the reads that the
	// generation cache keeps if the transaction commits (a dialect with a
	// Generation).
	gen      string
	genFills []genRead
}

// pathwayRead is a pathway and its webhooks as a transaction read them.
type pathwayRead struct {
	pathway  pathhook.Pathway
	webhooks []pathhook.Webhook
}

var _ pathhook.Tx = (*txn)(nil)

// row is what queryRow returns: *sql.Row or oneRow.
type row interface{ Scan(dest ...any) error }

func (t *txn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if t.ctx != nil {
		ctx = t.ctx
	}
	q := t.db.rebound(query)
	if t.direct != nil {
		res, err := t.direct.exec(ctx, q, args)
		if err == nil {
			if n, aerr := res.RowsAffected(); aerr != nil || n != 0 {
				t.changed(q)
			}
		}
		return res, err
	}
	t.forgetRead(q)
	if t.pipe != nil {
		n, err := t.pipe.Exec(ctx, q, args)
		if err != nil || n != 0 {
			t.wrote = true
		}
		return affected(n), err
	}
	return t.tx.ExecContext(ctx, q, args...)
}

// execLater runs a write whose outcome the transaction need not wait for:
// a Pipe sends it with the next statement. onErr turns its error into the
// one to return, now or from the statement that sends it.
func (t *txn) execLater(ctx context.Context, onErr func(error) error, query string, args ...any) error {
	if t.pipe == nil {
		_, err := t.exec(ctx, query, args...)
		if err != nil {
			return onErr(err)
		}
		return nil
	}
	q := t.db.rebound(query)
	t.forgetRead(q)
	t.pipeRuns(q)
	queuedBy := t.closure
	t.pipe.Later(q, args, func(err error) error {
		t.blame(queuedBy, err)
		if onErr == nil {
			return err
		}
		return onErr(err)
	})
	return nil
}

// affected is the sql.Result of a Pipe's Exec.
type affected int64

func (n affected) RowsAffected() (int64, error) { return int64(n), nil }

func (affected) LastInsertId() (int64, error) {
	return 0, errors.New("sqlstore: LastInsertId is not supported")
}

func (t *txn) query(ctx context.Context, query string, args ...any) (Rows, error) {
	if t.ctx != nil {
		ctx = t.ctx
	}
	q := t.db.rebound(query)
	if t.direct != nil {
		if !isSelect(q) {
			t.changed(q)
		}
		return t.direct.query(ctx, q, args)
	}
	t.forgetRead(q)
	if t.pipe != nil {
		t.pipeRuns(q)
		return t.pipe.Query(ctx, q, args)
	}
	return t.tx.QueryContext(ctx, q, args...)
}

func (t *txn) queryRow(ctx context.Context, query string, args ...any) row {
	if t.ctx != nil {
		ctx = t.ctx
	}
	q := t.db.rebound(query)
	if t.direct != nil {
		if !isSelect(q) {
			t.changed(q)
		}
		rs, err := t.direct.query(ctx, q, args)
		return oneRow{rows: rs, err: err}
	}
	t.forgetRead(q)
	if t.pipe != nil {
		t.pipeRuns(q)
		rs, err := t.pipe.Query(ctx, q, args)
		return oneRow{rows: rs, err: err}
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

// blame notes that a statement of closure failed with err.
func (t *txn) blame(closure int, err error) {
	t.blamed, t.culprit = true, closure
	if t.db.dialect.IsRetryable(err) {
		t.culprit = -1
	}
}

// pipeRuns notes a statement about to run on a Pipe: one that may write
// sets wrote, since a Pipe does not say what changed.
func (t *txn) pipeRuns(query string) {
	t.wrote = t.wrote || !isSelect(query)
}

// forgetRead empties read before a statement that may change what it
// holds, and keeps the transaction's later reads of webhooks and pathways
// away from the generation cache.
func (t *txn) forgetRead(query string) {
	if !isSelect(query) && changesCached(query) {
		t.read, t.changedCached = nil, true
	}
}

// changed notes that query changed rows, or may have.
func (t *txn) changed(query string) {
	t.wrote = true
	if changesCached(query) {
		t.db.cache.bump()
	}
}

// isSelect reports whether query is a plain SELECT, which changes
// nothing; a query that may (UPDATE ... RETURNING) counts as a write.
func isSelect(query string) bool {
	return len(query) >= 6 && strings.EqualFold(query[:6], "SELECT")
}

// newWork runs the dialect's statement for a transaction that makes
// deliveries claimable by any node.
func (t *txn) newWork(ctx context.Context) error {
	query, args := t.db.dialect.NewWork()
	if query == "" {
		return nil
	}
	return t.execLater(ctx, func(err error) error { return fail("notify new work", err) }, query, args...)
}

// forUpdate returns the clause that locks what a write transaction reads
// before changing it.
func (t *txn) forUpdate() string {
	if !t.write {
		return ""
	}
	return t.db.dialect.ForUpdate()
}

// collect scans every row into a slice and closes rows.
func collect[T any](rows Rows, op string, scan func(s interface{ Scan(...any) error }, v *T) error) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var v T
		if err := scan(rows, &v); err != nil {
			return nil, fail(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fail(op, err)
	}
	return out, nil
}

// mustAffect returns notFound when an update changed no row: the resource
// is not there, or belongs to another org.
func mustAffect(res sql.Result, err error, op string, notFound error) error {
	if err != nil {
		return fail(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fail(op, err)
	}
	if n == 0 {
		return notFound
	}
	return nil
}

// fail wraps a database error that is not the caller's fault; it stays
// matchable by type so that Update can tell when to retry.
func fail(op string, err error) error {
	if pe := (*pathhook.Error)(nil); errors.As(err, &pe) {
		return pe // a queued statement's own error, reported by a later one
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// one turns sql.ErrNoRows into notFound.
func one(err error, op string, notFound error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return notFound
	}
	return fail(op, err)
}

// conflict turns a unique violation into ECONFLICT with msg.
func (t *txn) conflict(err error, op, format string, args ...any) error {
	if err == nil {
		return nil
	}
	if t.db.dialect.IsUniqueViolation(err) {
		return pathhook.Errorf(pathhook.ECONFLICT, format, args...)
	}
	return fail(op, err)
}

// insertOnce runs an INSERT that ends in ON CONFLICT DO NOTHING and
// returns ECONFLICT with msg when it inserted nothing. The conflict must not
// fail the statement: PostgreSQL would then abort the whole transaction,
// and the Service goes on after some conflicts (an automatic award of a
// reward that was awarded by hand before).
func (t *txn) insertOnce(ctx context.Context, op, query string, args []any, format string, fargs ...any) error {
	res, err := t.exec(ctx, query+" ON CONFLICT DO NOTHING", args...)
	if err != nil {
		return t.conflict(err, op, format, fargs...)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fail(op, err)
	}
	if n == 0 {
		return pathhook.Errorf(pathhook.ECONFLICT, format, fargs...)
	}
	return nil
}

// placeholders returns "?, ?, ..." for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// micros is how times are kept: unix microseconds, exact for the
// millisecond times of the domain.
func micros(t time.Time) int64 { return t.UnixMicro() }

// nullMicros is micros for an optional time.
func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// timeCol scans unix microseconds into a time.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(v any) error {
	n, ok := v.(int64)
	if !ok {
		return fmt.Errorf("sqlstore: time column holds %T, not an integer", v)
	}
	*c.t = fromMicros(n)
	return nil
}

// nullTimeCol scans optional unix microseconds into a *time.Time.
type nullTimeCol struct{ t **time.Time }

func (c nullTimeCol) Scan(v any) error {
	if v == nil {
		*c.t = nil
		return nil
	}
	var t time.Time
	if err := (timeCol{&t}).Scan(v); err != nil {
		return err
	}
	*c.t = &t
	return nil
}

// seal and open apply the Sealer, if any, to a secret.
func (db *DB) seal(plain []byte) ([]byte, error) {
	if plain == nil || db.box == nil {
		return plain, nil
	}
	return db.box.Seal(plain)
}

func (db *DB) open(sealed []byte) ([]byte, error) {
	if sealed == nil || db.box == nil {
		return sealed, nil
	}
	return db.box.Open(sealed)
}
