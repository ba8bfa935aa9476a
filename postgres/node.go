package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// nodeCheck is how often a NodeLock makes sure its connection still holds
// the lock (a variable for the tests).
var nodeCheck = 5 * time.Second

// NodeLock is proof that no other running process is the node of its name
// on the database: a session-level advisory lock keyed on the name, held on
// a connection of its own. PostgreSQL releases it when the process dies and
// its connection closes, so a node started again under the name of one that
// was killed gets it at once, and may take back its predecessor's leases.
type NodeLock struct {
	stop context.CancelFunc
	done chan struct{}
}

// ErrNodeRunning is the error of LockNode when another process holds the
// name.
var ErrNodeRunning = errors.New("another process is running as this node on the database")

// LockNode takes the lock of the node called name on the database at url.
// It fails, with an error that wraps ErrNodeRunning and names the node, if
// another process holds it.
//
// If the connection breaks, the lock connects again and takes the lock
// back; should another process have taken it meanwhile, it calls lost
// with the error, once, and holds nothing more.
func LockNode(ctx context.Context, url, name string, lost func(error)) (*NodeLock, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	conn, err := lockNode(ctx, cfg, name)
	if err != nil {
		return nil, err
	}
	hctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	l := &NodeLock{stop: stop, done: make(chan struct{})}
	go l.hold(hctx, cfg, name, conn, nodeCheck, lost)
	return l, nil
}

// Unlock releases the lock and returns once it is released.
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
	// Advisory locks are the database's; pathhook's tables are the
	// schema's, which the key names too. hashtextextended makes the
	// 64-bit key that the lock takes.
	err = conn.QueryRow(ctx, "SELECT pg_try_advisory_lock(hashtextextended('pathhook node ' || current_schema() || ' ' || $1, 0))", name).Scan(&ok)
	if err == nil && !ok {
		err = fmt.Errorf("%w: node %q (give each node its own --node)", ErrNodeRunning, name)
	} else if err != nil {
		err = fmt.Errorf("postgres: node lock: %w", err)
	}
	if err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return conn, nil
}

// hold keeps the lock until ctx ends, checking its connection every
// interval and taking the lock again on a new one if it broke.
func (l *NodeLock) hold(ctx context.Context, cfg *pgx.ConnConfig, name string, conn *pgx.Conn, every time.Duration, lost func(error)) {
	defer close(l.done)
	defer func() {
		if conn != nil {
			conn.Close(context.WithoutCancel(ctx)) // which releases the lock
		}
	}()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if conn != nil {
			if conn.Ping(ctx) == nil {
				continue
			}
			conn.Close(context.WithoutCancel(ctx))
			conn = nil
		}
		c, err := lockNode(ctx, cfg, name)
		if errors.Is(err, ErrNodeRunning) {
			lost(err)
			return
		}
		conn = c // nil after another error: tried again at the next check
	}
}
