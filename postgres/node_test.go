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
// how often locks check their connection (never, unless told).
func TestNodeLock(t *testing.T) {
	url := freshSchema(t)
	postgres.SetNodeCheck(time.Hour)
	defer postgres.SetNodeCheck(5 * time.Second)
	ctx := context.Background()
	name := "node-" + rand.Text()[:8]
	lost := make(chan error, 1)
	first, err := postgres.LockNode(ctx, url, name, func(err error) { lost <- err })
	if err != nil {
		t.Fatal(err)
	}
	defer first.Unlock() // a second Unlock does nothing

	_, err = postgres.LockNode(ctx, url, name, nil)
	if !errors.Is(err, postgres.ErrNodeRunning) || !strings.Contains(err.Error(), `node "`+name+`" (held by PostgreSQL backend `) {
		t.Fatalf("a second lock of %s: %v, want ErrNodeRunning naming it and its holder", name, err)
	}
	other, err := postgres.LockNode(ctx, url, name+"-b", nil)
	if err != nil {
		t.Fatalf("another name: %v", err)
	}
	other.Unlock()
	again, err := postgres.LockNode(ctx, url, name+"-b", nil)
	if err != nil {
		t.Fatalf("a name right after Unlock: %v", err)
	}
	again.Unlock()

	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	holder := func() int {
		var pid int
		err := admin.QueryRowContext(ctx, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
			AND ((classid::bigint << 32) | objid::bigint) = hashtextextended('pathhook node ' || current_schema() || ' ' || $1, 0)`, name).Scan(&pid)
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
	// cut ends the lock's backend, as a broken connection would, and
	// returns once the lock is free.
	cut := func() int {
		pid := holder()
		if pid == 0 {
			t.Fatal("nobody holds the lock")
		}
		if _, err := admin.ExecContext(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
			t.Fatal(err)
		}
		waitFor("free lock", func() bool { return holder() == 0 })
		return pid
	}

	// Cut, then checked: the lock is taken back on a new connection.
	old := cut()
	first.Check()
	waitFor("lock taken back on a new connection", func() bool { p := holder(); return p != 0 && p != old })

	// Cut, and taken by another process before the check: the first
	// lock reports its loss.
	cut()
	thief, err := postgres.LockNode(ctx, url, name, nil)
	if err != nil {
		t.Fatalf("the thief: %v", err)
	}
	defer thief.Unlock()
	first.Check() // finds its connection broken and the name taken
	first.Check() // (the first time it looks for a backend of its own that holds it)
	select {
	case err := <-lost:
		if !errors.Is(err, postgres.ErrNodeRunning) {
			t.Errorf("lost with %v, want ErrNodeRunning", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the lock did not report its loss")
	}
	select {
	case err := <-lost:
		t.Errorf("lost reported twice: %v", err)
	default:
	}
}
