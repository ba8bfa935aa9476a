package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestLockServerIsExclusive(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "db")
	unlock, err := LockServer(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LockServer(path); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second lock: %v, want an error saying another server runs", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	unlock, err = LockServer(path)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock()
}
