package filelock

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestTryLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lock")
	f, err := TryLock(path)
	if err != nil {
		t.Fatalf("first lock: %v", err)
	}
	if g, err := TryLock(path); !errors.Is(err, ErrHeld) {
		if g != nil {
			g.Close()
		}
		t.Fatalf("second lock while the first is held: got %v, want ErrHeld", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	g, err := TryLock(path)
	if err != nil {
		t.Fatalf("lock after the first was released: %v", err)
	}
	g.Close()
}

func TestTryLockReportsWhatItCannotOpen(t *testing.T) {
	t.Parallel()
	_, err := TryLock(filepath.Join(t.TempDir(), "missing", "lock"))
	if err == nil || errors.Is(err, ErrHeld) {
		t.Fatalf("lock in a missing directory: got %v, want the open error", err)
	}
}
