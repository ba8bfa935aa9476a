// Package sqlite opens pathhook's embedded default store: a SQLite file
// through modernc.org/sqlite (pure Go), behind sqlstore.
//
// The file is in WAL mode with synchronous=NORMAL: readers never wait for
// the writer, and a commit survives a crash of the process (the last
// commits may be lost on a power failure). All writes go through one
// connection whose transactions begin IMMEDIATE, so that writers take turns
// instead of deadlocking on lock upgrades; reads use a separate pool of
// read-only connections, and checkpoints a connection of their own in the
// background (see checkpoint.go).
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/sqlstore"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Options tune Open; the zero value is the default that Open uses.
type Options struct {
	// NoGroupCommit gives each Update its own transaction instead of
	// sharing one commit between concurrent Updates.
	NoGroupCommit bool
	// ReadConns is the size of the read pool (default: twice the CPUs, at
	// least 4).
	ReadConns int
}

// Open opens (creating it if needed) the SQLite database at path, brings
// its schema up to date, and returns it as a store. box seals webhook
// secrets; nil keeps them in plain (tests only).
func Open(ctx context.Context, path string, box pathhook.Sealer) (*sqlstore.DB, error) {
	return OpenOptions(ctx, path, box, Options{})
}

// OpenOptions is Open with options.
func OpenOptions(ctx context.Context, path string, box pathhook.Sealer, o Options) (*sqlstore.DB, error) {
	// The store keeps separate pools for writing and reading, which an
	// in-memory database cannot share.
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: %q is not a database file path (give a plain file path such as pathhook.db)", path)
	}
	// A new database is made readable by its owner only: it holds learners'
	// names and emails. SQLite gives its -wal and -shm files the same mode.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	}
	write, err := sql.Open("sqlite", dsn(path, "_txlock=immediate", fmt.Sprintf("_pragma=wal_autocheckpoint(%d)", writerCheckpointPages)))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	// The writer connects first: it turns WAL on, which the read-only
	// connections could not.
	if err := connect(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", dsn(path, "_pragma=query_only(1)"))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	conns := o.ReadConns
	if conns <= 0 {
		conns = max(4, 2*runtime.GOMAXPROCS(0))
	}
	read.SetMaxOpenConns(conns)
	read.SetMaxIdleConns(conns)
	ckpt := newCheckpointer(path)
	db, err := sqlstore.Open(ctx, sqlstore.Config{Write: write, Read: read, Dialect: dialect{}, Sealer: box,
		GroupCommit: !o.NoGroupCommit, Direct: true, Background: ckpt.run, Committed: ckpt.poke})
	if err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	return db, nil
}

// connectFor bounds how long connect waits for another process that is
// turning WAL on, as busy_timeout does for other locks.
const connectFor = 10 * time.Second

// connect opens db's first connection. When two processes open a new file
// at once, both turn WAL on, and SQLite answers one of them SQLITE_BUSY at
// once instead of calling the busy handler; that one tries again.
func connect(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(connectFor)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		err := db.PingContext(ctx)
		if err == nil || !(dialect{}).IsRetryable(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// dsn is the data source name of path with pathhook's pragmas.
func dsn(path string, extra ...string) string {
	params := []string{
		"_pragma=busy_timeout(10000)",
		"_pragma=journal_mode(WAL)",
		"_pragma=synchronous(NORMAL)",
		"_pragma=foreign_keys(1)",
		"_pragma=temp_store(memory)",
		"_pragma=cache_size(-16384)", // KiB: 16 MiB per connection
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + strings.Join(append(params, extra...), "&")
}
