package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
)

// A store with Config.Direct runs its transactions on the drivers of
// its pools' connections, below database/sql. database/sql starts a
// goroutine for every query in a transaction (to close its rows if the
// transaction's context ends), wraps every prepared statement anew for
// each transaction, and converts each value through reflection; on
// SQLite, whose statements take microseconds, that costs as much CPU as
// the statements themselves. Here each query is prepared once on the
// connection and run with its arguments bound directly.

// driverConns holds the statements prepared on each driver connection of
// the pools.
type driverConns struct {
	mu    sync.Mutex
	conns map[driver.Conn]*driverConn
}

// driverConn is one connection of a pool, used only inside
// (*sql.Conn).Raw, which holds it for one transaction at a time.
type driverConn struct {
	conn  driver.Conn
	stmts map[string]driver.Stmt
	// args is the arguments of the statement being run, as the driver
	// takes them: one slice that every statement on the connection
	// reuses, since the driver is done with them when the call returns.
	args []driver.NamedValue
	// dataVersion is what PRAGMA data_version last said, if versionKnown.
	dataVersion  int64
	versionKnown bool
}

func (cs *driverConns) get(c driver.Conn) *driverConn {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.conns == nil {
		cs.conns = map[driver.Conn]*driverConn{}
	}
	dc := cs.conns[c]
	if dc == nil {
		dc = &driverConn{conn: c, stmts: map[string]driver.Stmt{}}
		cs.conns[c] = dc
	}
	return dc
}

// drop closes the statements prepared on c and forgets it.
func (cs *driverConns) drop(c driver.Conn) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if dc := cs.conns[c]; dc != nil {
		for _, s := range dc.stmts {
			_ = s.Close()
		}
		delete(cs.conns, c)
	}
}

// onDriver runs fn on a connection of pool, held for fn alone.
func (db *DB) onDriver(ctx context.Context, pool *sql.DB, fn func(*driverConn) error) error {
	conn, err := pool.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: connect: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(c any) error {
		dc, ok := c.(driver.Conn)
		if !ok {
			return fmt.Errorf("sqlstore: driver connection %T is not a driver.Conn", c)
		}
		err := fn(db.driverConns.get(dc))
		if errors.Is(err, driver.ErrBadConn) || !valid(dc) {
			// The pool discards the connection: its statements go first,
			// while it is still open to finalize them.
			db.driverConns.drop(dc)
		}
		return err
	})
}

// valid reports whether the pool will keep c: it discards a connection
// that says it is no longer valid (modernc's, after a statement on it was
// interrupted because its context ended) as well as one that failed with
// driver.ErrBadConn.
func valid(c driver.Conn) bool {
	v, ok := c.(driver.Validator)
	return !ok || v.IsValid()
}

// closeStmts closes the statements prepared on the pools' connections,
// which Close is about to close; nothing uses them any more. A connection
// that is no longer valid may have been closed by its pool already (after
// onDriver let it go: an interrupt can land late), and finalizing a
// statement of a closed connection crashes the driver: its statements are
// left to go with it.
func (cs *driverConns) closeStmts() error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	var err error
	for c, dc := range cs.conns {
		if valid(c) {
			for _, s := range dc.stmts {
				err = errors.Join(err, s.Close())
			}
		}
		delete(cs.conns, c)
	}
	return err
}

// transact runs fn in a transaction on dc, read-only if asked: it
// commits if fn returns nil and rolls back otherwise. A transaction that
// cannot be rolled back leaves the connection unusable, and the pool
// discards it.
func (dc *driverConn) transact(readOnly bool, fn func() error) error {
	ctx := context.Background()
	begin, ok := dc.conn.(driver.ConnBeginTx)
	if !ok {
		return fmt.Errorf("sqlstore: driver connection %T cannot begin transactions", dc.conn)
	}
	tx, err := begin.BeginTx(ctx, driver.TxOptions{ReadOnly: readOnly})
	if err != nil {
		return fmt.Errorf("sqlstore: begin: %w", err)
	}
	if err := fn(); err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			return errors.Join(err, fmt.Errorf("sqlstore: rollback: %w: %w", driver.ErrBadConn, rerr))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		// A failed commit leaves the transaction open in SQLite when the
		// database was busy; end it so that the connection can go on.
		_ = tx.Rollback()
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	return nil
}

// stmt returns query prepared on dc, preparing it the first time.
func (dc *driverConn) stmt(query string) (driver.Stmt, error) {
	if s, ok := dc.stmts[query]; ok {
		return s, nil
	}
	prep, ok := dc.conn.(driver.ConnPrepareContext)
	if !ok {
		return nil, fmt.Errorf("sqlstore: driver connection %T cannot prepare with a context", dc.conn)
	}
	s, err := prep.PrepareContext(context.Background(), query)
	if err != nil {
		return nil, err
	}
	dc.stmts[query] = s
	return s, nil
}

// bind returns query prepared on dc, with args as the driver takes them in
// dc.args; unbind lets go of them once the driver is done.
func (dc *driverConn) bind(query string, args []any) (driver.Stmt, error) {
	s, err := dc.stmt(query)
	if err != nil {
		return nil, err
	}
	dc.args, err = namedValues(dc.args[:0], args)
	return s, err
}

// unbind clears dc.args, so that the connection does not keep the last
// statement's values (payloads among them) alive.
func (dc *driverConn) unbind() { clear(dc.args) }

func (dc *driverConn) exec(ctx context.Context, query string, args []any) (sql.Result, error) {
	s, err := dc.bind(query, args)
	defer dc.unbind()
	if err != nil {
		return nil, err
	}
	ex, ok := s.(driver.StmtExecContext)
	if !ok {
		return nil, fmt.Errorf("sqlstore: driver statement %T cannot execute with a context", s)
	}
	return ex.ExecContext(ctx, dc.args)
}

func (dc *driverConn) query(ctx context.Context, query string, args []any) (*driverRows, error) {
	s, err := dc.bind(query, args)
	defer dc.unbind()
	if err != nil {
		return nil, err
	}
	q, ok := s.(driver.StmtQueryContext)
	if !ok {
		return nil, fmt.Errorf("sqlstore: driver statement %T cannot query with a context", s)
	}
	rows, err := q.QueryContext(ctx, dc.args)
	if err != nil {
		return nil, err
	}
	return &driverRows{rows: rows, vals: make([]driver.Value, len(rows.Columns()))}, nil
}

// namedValues converts arguments as database/sql does for a driver
// without its own converter.
func namedValues(nv []driver.NamedValue, args []any) ([]driver.NamedValue, error) {
	nv = slices.Grow(nv[:0], len(args))[:len(args)]
	for i, a := range args {
		var v driver.Value
		switch a := a.(type) {
		case nil, string, int64, []byte, bool:
			v = a
		case int:
			v = int64(a)
		default:
			var err error
			if v, err = driver.DefaultParameterConverter.ConvertValue(a); err != nil {
				return nil, fmt.Errorf("sqlstore: argument %d: %w", i+1, err)
			}
		}
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return nv, nil
}

// driverRows reads the rows of a query run on the driver; it has the
// methods of *sql.Rows that this package uses.
type driverRows struct {
	rows   driver.Rows
	vals   []driver.Value
	err    error
	closed bool
}

func (r *driverRows) Next() bool {
	if r.closed {
		return false
	}
	if err := r.rows.Next(r.vals); err != nil {
		if err != io.EOF {
			r.err = err
		}
		r.Close()
		return false
	}
	return true
}

func (r *driverRows) Scan(dest ...any) error {
	if r.closed {
		return errors.New("sqlstore: scan of closed rows")
	}
	if len(dest) != len(r.vals) {
		return fmt.Errorf("sqlstore: scan: %d destinations for %d columns", len(dest), len(r.vals))
	}
	for i, d := range dest {
		if err := assign(d, r.vals[i]); err != nil {
			return fmt.Errorf("sqlstore: scan column %d: %w", i, err)
		}
	}
	return nil
}

func (r *driverRows) Err() error { return r.err }

func (r *driverRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.rows.Close()
	if r.err == nil {
		r.err = err
	}
	return err
}

// oneRow is the one row that queryRow asked for, of a direct or a Pipe's
// query; like *sql.Row, its Scan returns sql.ErrNoRows when there is none.
type oneRow struct {
	rows Rows
	err  error
}

func (r oneRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	return r.rows.Close()
}
