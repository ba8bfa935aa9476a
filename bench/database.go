package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// database is the fresh database a run uses: what serve's --db gets, and
// how to get rid of it afterwards.
type database struct {
	db       string
	postgres bool
	drop     func() error
}

// isPostgres reports whether db names a PostgreSQL database.
func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// freshDatabase makes the database of a run from --db: a SQLite file in a
// new temporary directory when db is empty, the file db names (which must
// not exist yet, and is kept), or a new PostgreSQL database beside the one
// a postgres:// URL names, dropped afterwards.
func freshDatabase(ctx context.Context, db string) (*database, error) {
	switch {
	case db == "":
		dir, err := os.MkdirTemp("", "pathhook-bench-*")
		if err != nil {
			return nil, err
		}
		return &database{db: filepath.Join(dir, "bench.db"), drop: func() error { return os.RemoveAll(dir) }}, nil
	case isPostgres(db):
		return freshPostgres(ctx, db)
	}
	if _, err := os.Stat(db); !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("--db %s: the bench needs a fresh database; give a file that does not exist yet", db)
	}
	return &database{db: db, drop: func() error { return nil }}, nil
}

// freshPostgres creates a database named pathhook_bench_<random> on the
// server that url names, and returns a URL of it.
func freshPostgres(ctx context.Context, rawURL string) (*database, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("--db: %w", err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "pathhook_bench_" + hex.EncodeToString(b[:])
	if err := pgExec(ctx, rawURL, "CREATE DATABASE "+name); err != nil {
		return nil, fmt.Errorf("create a PostgreSQL database for the bench: %w", err)
	}
	fresh := *u
	fresh.Path = "/" + name
	drop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return pgExec(ctx, rawURL, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	return &database{db: fresh.String(), postgres: true, drop: drop}, nil
}

func pgExec(ctx context.Context, url, sql string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}
