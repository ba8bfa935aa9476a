package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pathhook/pathhook/postgres"
)

// TestNodeLock holds that one process at a time is a node of a name, that
// a lock whose connection was cut is taken back, and that a lock taken by
// another process meanwhile is reported lost. It is not parallel: it sets
// how often locks check their connection.
func TestNodeLock(t *testing.T) {
	url := freshSchema(t)
	postgres.SetNodeCheck(20 * time.Millisecond)
	defer postgres.SetNodeCheck(5 * time.Second)
	ctx := context.Background()
	name := "node-" + rand.Text()[:8]
	first, err := postgres.LockNode(ctx, url, name, func(err error) { t.Errorf("lost: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	defer first.Unlock() // a second Unlock does nothing

	_, err = postgres.LockNode(ctx, url, name, nil)
	if !errors.Is(err, postgres.ErrNodeRunning) || !strings.Contains(err.Error(), name) {
		t.Fatalf("a second lock of %s: %v, want ErrNodeRunning naming it", name, err)
	}
	other, err := postgres.LockNode(ctx, url, name+"-b", nil)
	if err != nil {
		t.Fatalf("another name: %v", err)
	}
	other.Unlock()
	again, err := postgres.LockNode(ctx, url, name+"-b", nil)
	if err != nil {
		t.Fatalf("a name after Unlock: %v", err)
	}
	again.Unlock()

	// Cut the first lock's connection: it takes the lock back on a new one.
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	holder := func() int {
		var pid int
		err := admin.QueryRowContext(ctx, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
			AND ((classid::bigint << 32) | objid::bigint) = (hashtextextended('pathhook node ' || current_schema() || ' ' || $1, 0) & x'ffffffffffffffff'::bigint)`, name).Scan(&pid)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			t.Fatal(err)
		}
		return pid
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s after 30s", what)
			}
		}
	}
	cut := func() int {
		pid := holder()
		if pid == 0 {
			t.Fatal("nobody holds the lock")
		}
		if _, err := admin.ExecContext(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
			t.Fatal(err)
		}
		return pid
	}
	old := cut()
	waitFor("lock taken back on a new connection", func() bool { p := holder(); return p != 0 && p != old })

	lost := make(chan error, 1)
	// A lock that checks its connection rarely, cut: another process takes
	// the name before it looks, and it reports the loss when it does.
	first.Unlock()
	postgres.SetNodeCheck(3 * time.Second)
	slow, err := postgres.LockNode(ctx, url, name, func(err error) { lost <- err })
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Unlock()
	cut()
	var thief *postgres.NodeLock
	waitFor("lock for the thief", func() bool {
		thief, err = postgres.LockNode(ctx, url, name, nil)
		return err == nil
	})
	defer thief.Unlock()
	select {
	case err := <-lost:
		if !errors.Is(err, postgres.ErrNodeRunning) {
			t.Errorf("lost with %v, want ErrNodeRunning", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the lock did not report its loss")
	}
}
