package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// nodeCheck is how often a NodeLock makes sure that its connection is
// alive (a variable for the tests).
var nodeCheck = 5 * time.Second

// nodeKey is the advisory lock's 64-bit key for the node named $1.
// Advisory locks are the database's and pathhook's tables the schema's, so
// the key names the schema too.
const nodeKey = "hashtextextended('pathhook node ' || current_schema() || ' ' || $1, 0)"

// nodeKeepalive is what the server's side of a lock connection is told, so
// that PostgreSQL notices within half a minute that a node whose machine
// died or was cut off is gone, and lets go of its name; by default it may
// take two hours.
var nodeKeepalive = map[string]string{"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3"}

// NodeLock stands for a node's name on a database: a session-level
// advisory lock keyed on the name, held on a connection of its own.
// PostgreSQL releases it when that connection ends: at once when the
// process dies and its machine closes the connection, within half a minute
// when the machine dies or is cut off. Until then no other process can take
// the name, so a process that takes it knows that the node's previous
// process is gone, and may take back its leases.
type NodeLock struct {
	stop  context.CancelFunc
	done  chan struct{}
	check chan struct{} // for the tests: check now
}

// ErrNodeRunning is the error of LockNode when another process holds the
// name.
var ErrNodeRunning = errors.New("another process is running as this node on the database")

// LockNode takes the lock of the node called name on the database at url.
// It fails, with an error that wraps ErrNodeRunning and names the node and
// the backend that holds it, if another process has it.
//
// If the connection breaks, the lock connects again and takes the lock
// back; in the time between, another process could take the name. Should
// one have, lost (if not nil) is called with the error, once, and the lock
// holds nothing more.
func LockNode(ctx context.Context, url, name string, lost func(error)) (*NodeLock, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: node lock: %w", err)
	}
	for k, v := range nodeKeepalive {
		cfg.RuntimeParams[k] = v
	}
	conn, err := lockNode(ctx, cfg, name)
	if err != nil {
		return nil, err
	}
	if lost == nil {
		lost = func(error) {}
	}
	hctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	l := &NodeLock{stop: stop, done: make(chan struct{}), check: make(chan struct{})}
	go l.hold(hctx, cfg, name, conn, nodeCheck, lost)
	return l, nil
}

// Unlock releases the lock and returns once the server has released it.
func (l *NodeLock) Unlock() {
	l.stop()
	<-l.done
}

// lockNode connects and takes the lock.
func lockNode(ctx context.Context, cfg *pgx.ConnConfig, name string) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: node lock: %w", err)
	}
	var ok bool
	err = conn.QueryRow(ctx, "SELECT pg_try_advisory_lock("+nodeKey+")", name).Scan(&ok)
	if err == nil && !ok {
		err = fmt.Errorf("%w: node %q%s", ErrNodeRunning, name, holder(ctx, conn, name))
	} else if err != nil {
		err = fmt.Errorf("postgres: node lock: %w", err)
	}
	if err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return conn, nil
}

// holderQuery finds the backend that holds the lock of the node named $1.
// An advisory lock on a 64-bit key shows in pg_locks as its high half in
// classid and its low half in objid.
const holderQuery = `SELECT a.pid, COALESCE(host(a.client_addr), 'a local socket'), a.backend_start
	FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
	WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
	AND ((l.classid::bigint << 32) | l.objid::bigint) = ` + nodeKey

// holder describes the backend that holds the lock of the node named name,
// for an error message, or returns "" if it cannot tell.
func holder(ctx context.Context, conn *pgx.Conn, name string) string {
	var pid int
	var from string
	var since time.Time
	if conn.QueryRow(ctx, holderQuery, name).Scan(&pid, &from, &since) != nil {
		return ""
	}
	return fmt.Sprintf(" (held by PostgreSQL backend %d, connected from %s since %s)", pid, from, since.UTC().Format(time.RFC3339))
}

// hold keeps the lock until ctx ends, checking its connection at every
// interval and taking the lock again on a new one if it broke.
func (l *NodeLock) hold(ctx context.Context, cfg *pgx.ConnConfig, name string, conn *pgx.Conn, every time.Duration, lost func(error)) {
	defer close(l.done)
	defer func() {
		if conn != nil {
			unlockNode(conn, name)
		}
	}()
	old := uint32(0) // the backend of a connection that broke, which may hold the lock still
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-l.check:
		}
		if conn != nil {
			pctx, cancel := context.WithTimeout(ctx, every)
			err := conn.Ping(pctx)
			cancel()
			if err == nil {
				continue
			}
			old = conn.PgConn().PID()
			conn.Close(context.WithoutCancel(ctx))
			conn = nil
		}
		c, err := lockNode(ctx, cfg, name)
		if errors.Is(err, ErrNodeRunning) && old != 0 {
			// Most likely the broken connection's own backend, which the
			// server has not noticed is gone: end it, and try again.
			endBackend(ctx, cfg, name, old)
			old = 0
			continue
		}
		if errors.Is(err, ErrNodeRunning) {
			lost(err)
			return
		}
		conn = c // nil after another error: tried again at the next check
		if c != nil {
			old = 0
		}
	}
}

// endBackend ends the backend pid if it holds the lock of the node named
// name.
func endBackend(ctx context.Context, cfg *pgx.ConnConfig, name string, pid uint32) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, _ = conn.Exec(ctx, "SELECT pg_terminate_backend(h.pid) FROM ("+holderQuery+") h WHERE h.pid = $2", name, int64(pid))
}

// unlockNode releases the lock on conn and closes it: the server would
// release it when it notices that the connection ended, a moment later.
func unlockNode(conn *pgx.Conn, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = conn.Exec(ctx, "SELECT pg_advisory_unlock("+nodeKey+")", name)
	conn.Close(ctx)
}
