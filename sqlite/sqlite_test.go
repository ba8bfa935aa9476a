package sqlite_test

import (
	"context"
	"path/filepath"
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
