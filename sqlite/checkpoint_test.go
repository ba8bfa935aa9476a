package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/sqlite"
)

// TestBackgroundCheckpoints checks that the pages that commits append to
// the WAL reach the database file although the writer, far from its
// wal_autocheckpoint, never copies them itself.
func TestBackgroundCheckpoints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pathhook.db")
	_, svc, org, p := storeWithWebhook(t, path, nil, sqlite.Options{})
	before := fileSize(t, path)
	for i := range 200 {
		in := pathhook.EnrolmentInput{Learner: &pathhook.Learner{ID: fmt.Sprintf("learner-%d", i), Name: "Ada Lovelace"}}
		if _, err := svc.Enrol(ctx, org, p.ID, in); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for fileSize(t, path) <= before {
		if time.Now().After(deadline) {
			t.Fatalf("database file still %d bytes, with the WAL at %d", before, fileSize(t, path+"-wal"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
