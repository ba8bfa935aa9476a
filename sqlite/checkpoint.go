package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// checkpointEvery is how often at most the pages that commits appended to
// the WAL are copied into the database file. Small checkpoints matter for
// latency: while one syncs the files, the writer's next WAL append can
// wait for it. At 500 events/s, checkpoints every 200 ms made p99 17-21
// ms and every 2 s 145 ms, where every 50 ms made it 8-10 ms and every 20
// ms 7-8 ms (docs/performance.md).
const checkpointEvery = 20 * time.Millisecond

// writerCheckpointPages is the write connection's wal_autocheckpoint: a
// bound on the WAL should the background checkpoints fall behind.
const writerCheckpointPages = 10000

// checkpointer copies the pages that commits appended to the WAL into the
// database file, on a connection of its own. SQLite would otherwise do it
// in the commit that takes the WAL past wal_autocheckpoint, on the one
// write connection, with two fsyncs that every write behind it waits for.
// A passive checkpoint neither waits for the writer or the readers nor
// holds them up. It runs after commits (poke), at most every
// checkpointEvery, so that an idle server does nothing.
type checkpointer struct {
	path  string
	poked chan struct{}
}

func newCheckpointer(path string) *checkpointer {
	return &checkpointer{path: path, poked: make(chan struct{}, 1)}
}

// poke says that a transaction has committed. It never blocks.
func (c *checkpointer) poke() {
	select {
	case c.poked <- struct{}{}:
	default:
	}
}

// run checkpoints after commits until ctx ends.
func (c *checkpointer) run(ctx context.Context) {
	db, err := sql.Open("sqlite", dsn(c.path))
	if err != nil {
		return // the writer's wal_autocheckpoint still bounds the WAL
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	pause := time.NewTimer(checkpointEvery)
	pause.Stop()
	defer pause.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.poked:
		}
		// A checkpoint that fails (the file is busy) is tried again after
		// the next commit.
		_, _ = db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		// Commits meanwhile wait for the next round.
		pause.Reset(checkpointEvery)
		select {
		case <-ctx.Done():
			return
		case <-pause.C:
		}
	}
}
