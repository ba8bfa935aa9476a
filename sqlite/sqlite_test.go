package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/sqlite"
	"github.com/pathhook/pathhook/sqlstore"
	"github.com/pathhook/pathhook/storetest"
)

func open(t *testing.T, box pathhook.Sealer) *sqlstore.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "pathhook.db"), box)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, open)
}

// TestSerialWrites: the engine stops polling while it fails a backlog,
// since its claims would hold the one writer between the chunks.
func TestSerialWrites(t *testing.T) {
	t.Parallel()
	if !open(t, nil).SerialWrites() {
		t.Error("SerialWrites() = false on SQLite")
	}
}

func TestStoreWithoutGroupCommit(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, box pathhook.Sealer) *sqlstore.DB {
		db, err := sqlite.OpenOptions(context.Background(), filepath.Join(t.TempDir(), "pathhook.db"), box, sqlite.Options{NoGroupCommit: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// TestOpenConcurrently starts two processes' worth of stores on one new
// file at once: they migrate one after the other, and both work.
func TestOpenConcurrently(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "pathhook.db")
	dbs := make(chan *sqlstore.DB, 2)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			db, err := sqlite.Open(context.Background(), path, nil)
			errs <- err
			dbs <- db
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		db := <-dbs
		t.Cleanup(func() { db.Close() })
		if _, _, err := db.NextDue(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestNewerSchemaIsRefused: a database that a newer pathhook migrated is
// not opened, with an error that says so; it is left as it was.
func TestNewerSchemaIsRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "pathhook.db")
	db, err := sqlite.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	_, err = sqlite.Open(context.Background(), path, nil)
	if !errors.Is(err, sqlstore.ErrNewerSchema) || !strings.Contains(err.Error(), "schema version 999") {
		t.Fatalf("opening a newer database: %v, want ErrNewerSchema naming version 999", err)
	}
}

// TestANewDatabaseIsTheOwnersOnly: a new database file, and its WAL, can
// be read by its owner alone: they hold learners' names and emails.
func TestANewDatabaseIsTheOwnersOnly(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "pathhook.db")
	db, err := sqlite.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for group or others", p, fi.Mode().Perm())
		}
	}
}
