package postgres

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/sqlstore"
)

// rollbackTimeout bounds the ROLLBACK of a transaction whose context may
// have ended.
const rollbackTimeout = 5 * time.Second

// Transact runs fn in a write transaction on pgx, below database/sql, so
// that statements can share round trips: BEGIN goes out with the first
// statement, and the writes that fn queues with Later with the statement
// after them or with COMMIT. An enrolment then costs two round trips
// (begin and read the pathway; insert the enrolment and the event, and
// commit) instead of five.
func (dialect) Transact(ctx context.Context, pool *sql.DB, fn func(sqlstore.Pipe) error) error {
	conn, err := pool.Conn(ctx)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("postgres: driver connection %T is not pgx's", dc)
		}
		p := &pipe{conn: c.Conn(), queued: []later{{query: "BEGIN"}}}
		if err := fn(p); err != nil {
			if p.conn.IsClosed() {
				err = &closedAfter{err} // the session ended with it
			}
			p.rollback(ctx)
			return err
		}
		if err := p.commit(ctx); err != nil {
			p.rollback(ctx)
			return err
		}
		return nil
	})
}

// pipe is one transaction on a pgx connection. It implements sqlstore.Pipe.
type pipe struct {
	conn   *pgx.Conn
	queued []later // to go out with the next statement
	sent   bool    // something, BEGIN first, has gone out
}

// later is a statement queued to go out with the next one.
type later struct {
	query string
	args  []any
	onErr func(error) error // nil: the error as it is
}

func (p *pipe) Later(query string, args []any, onErr func(error) error) {
	p.queued = append(p.queued, later{query: query, args: args, onErr: onErr})
}

func (p *pipe) Exec(ctx context.Context, query string, args []any) (int64, error) {
	br, err := p.send(ctx, query, args)
	if err != nil {
		return 0, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag.RowsAffected(), err
}

func (p *pipe) Query(ctx context.Context, query string, args []any) (sqlstore.Rows, error) {
	br, err := p.send(ctx, query, args)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, err
	}
	return &batchRows{rows: rows, br: br}, nil
}

// send sends the queued statements and query in one batch, and returns its
// results at query's, having read those of the queued ones. If one of them
// failed, it returns that one's error and closes the batch.
func (p *pipe) send(ctx context.Context, query string, args []any) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	for _, q := range p.queued {
		b.Queue(q.query, q.args...)
	}
	b.Queue(query, args...)
	queued := p.queued
	p.queued, p.sent = nil, true
	br := p.conn.SendBatch(ctx, b)
	for _, q := range queued {
		if _, err := br.Exec(); err != nil {
			br.Close()
			if q.onErr != nil {
				return nil, q.onErr(err)
			}
			return nil, err
		}
	}
	return br, nil
}

func (p *pipe) commit(ctx context.Context) error {
	if !p.sent && len(p.queued) == 1 {
		return nil // nothing but BEGIN: nothing to commit
	}
	br, err := p.send(ctx, "COMMIT", nil)
	if err == nil {
		var tag pgconn.CommandTag
		tag, err = br.Exec()
		cerr := br.Close()
		if err == nil {
			// The answer decides, whatever the connection does next.
			if tag.String() == "COMMIT" {
				return nil
			}
			// COMMIT of a transaction that a failed statement ended
			// answers ROLLBACK, and no error: the failure was reported
			// to the statement.
			return fmt.Errorf("postgres: the transaction was rolled back (COMMIT answered %s): one of its statements failed (%v)", tag, cerr)
		}
		_ = cerr // the statement's error says more
	}
	if err != nil && !answered(err, p.conn.IsClosed()) && !pgconn.SafeToRetry(err) {
		// The connection failed with COMMIT on its way or sent.
		return fmt.Errorf("postgres: %w: %w", sqlstore.ErrCommitUnknown, err)
	}
	return err
}

// answered reports whether err, read in answer to the statements that
// COMMIT went out with, is the database's answer to one of them (or the
// domain error that a queued statement's onErr made of it): the
// transaction did not commit. closed is whether the connection is closed
// since.
//
// PostgreSQL's own operator interventions (class 57P: a
// pg_terminate_backend, a shutdown) are such answers: it sends them after
// the answer of a COMMIT it carried out, never in its place, and that is
// how a connection of the pool that the server ended while idle reports
// itself. Any other error that ends the session (FATAL, PANIC), or that
// came on a connection closed since, is not: a proxy between (PgBouncer's
// "server conn crashed?", 08P01, FATAL in its new versions and ERROR in
// old ones) sends one in place of an answer it lost, after a COMMIT that
// may have been carried out. The database's own errors in a statement
// leave the session open.
func answered(err error, closed bool) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "57P") || !endsSession(pgErr) && !closed
	}
	var domain *pathhook.Error
	return errors.As(err, &domain)
}

// endsSession reports whether e is of a severity that ends the session.
// The localized severity is read only where the server sent no other.
func endsSession(e *pgconn.PgError) bool {
	severity := cmp.Or(e.SeverityUnlocalized, e.Severity)
	return severity == "FATAL" || severity == "PANIC"
}

// rollback ends a transaction that failed; if it cannot, it closes the
// connection, which the pool then discards.
func (p *pipe) rollback(ctx context.Context) {
	if !p.sent {
		return // BEGIN has not gone out
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	if _, err := p.conn.Exec(ctx, "ROLLBACK"); err != nil {
		_ = p.conn.Close(ctx)
	}
}

// batchRows are the rows of a query sent in a batch: closing them closes
// the batch.
type batchRows struct {
	rows   pgx.Rows
	br     pgx.BatchResults
	closed bool
	err    error
}

func (r *batchRows) Next() bool { return r.rows.Next() }

func (r *batchRows) Scan(dest ...any) error { return r.rows.Scan(dest...) }

func (r *batchRows) Err() error {
	if r.closed {
		return r.err
	}
	return r.rows.Err()
}

func (r *batchRows) Close() error {
	if r.closed {
		return r.err
	}
	r.closed = true
	r.rows.Close()
	r.err = r.rows.Err()
	if err := r.br.Close(); r.err == nil {
		r.err = err
	}
	return r.err
}

// closedAfter is a transaction's error after which its connection was
// closed: a proxy's ERROR 08P01 ends the session as a FATAL would (see
// IsConnectionLost).
type closedAfter struct{ err error }

func (e *closedAfter) Error() string { return e.err.Error() }
func (e *closedAfter) Unwrap() error { return e.err }
