package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// checkpointEvery is how often the pages that commits appended to the
// WAL are copied into the database file.
const checkpointEvery = 200 * time.Millisecond

// writerCheckpointPages is the write connection's wal_autocheckpoint: a
// bound on the WAL should the background checkpoints fall behind.
const writerCheckpointPages = 10000

// checkpoints copies, until ctx ends, the pages that commits appended to
// the WAL into the database file at path, on a connection of its own.
// SQLite would otherwise do it in the commit that takes the WAL past
// wal_autocheckpoint, on the one write connection, with two fsyncs that
// every write behind it waits for. A passive checkpoint neither waits for
// the writer or the readers nor holds them up.
func checkpoints(ctx context.Context, path string) {
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return // the writer's wal_autocheckpoint still bounds the WAL
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	tick := time.NewTicker(checkpointEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		// A checkpoint that fails (the file is busy) is tried again at
		// the next tick.
		_, _ = db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
	}
}
