package main

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the test's own connection to the server's file
)

// TestDeliveriesSurviveSIGKILL queues deliveries for a receiver that is
// down, kills the server with SIGKILL, restarts it on the same database,
// brings the receiver up and requires every delivery to arrive.
func TestDeliveriesSurviveSIGKILL(t *testing.T) {
	t.Parallel()
	const (
		key      = "crash-admin-key-0123456789abcdef"
		secret   = "crash-secret-0123456789abcdefgh"
		learners = 40
	)
	db := filepath.Join(t.TempDir(), "crash.db")
	env := []string{"PATHHOOK_DB=" + db, "PATHHOOK_ADMIN_KEY=" + key}
	args := []string{"--addr", "127.0.0.1:0", "--allow-http", "--allow-networks", "127.0.0.0/8",
		"--retry-schedule", strings.TrimSuffix(strings.Repeat("200ms,", 150), ",")}

	// A port with nobody listening: the receiver is down.
	receiverAddr := downAddr(t)

	cmd, url := startProcess(t, env, args...)
	s := &server{URL: url, Key: key}
	var p pathwayJSON
	s.call(t, "POST", "/v1/pathways", map[string]any{"name": "Crash"}, 201, &p)
	hook := hookOf(t, p, "enrolments")
	s.setUp(t, hook.ID, "http://"+receiverAddr+"/hook", secret)
	for i := range learners {
		s.call(t, "POST", "/v1/pathways/"+p.ID+"/enrolments", map[string]any{"learner": map[string]any{"id": fmt.Sprintf("u-%d", i)}}, 201, nil)
	}
	var pending struct {
		Data []deliveryJSON `json:"data"`
	}
	s.call(t, "GET", "/v1/webhooks/"+hook.ID+"/deliveries?status=pending&limit=100", nil, http.StatusOK, &pending)
	if len(pending.Data) != learners {
		t.Fatalf("%d deliveries pending before the kill, want %d", len(pending.Data), learners)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	cmd, url = startProcess(t, env, args...)
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	s.URL = url

	// The receiver comes up on the address the webhook names.
	rl, err := net.Listen("tcp", receiverAddr)
	if err != nil {
		t.Fatalf("cannot bring the receiver up on %s: %v", receiverAddr, err)
	}
	rc := newReceiverOn(t, rl)
	got := rc.wait(t, learners)
	seen := map[string]bool{}
	for _, r := range got {
		ev := checkDelivery(t, "Falkor", secret, r)
		seen[ev.ID] = true
	}
	if len(seen) != learners {
		t.Fatalf("received %d distinct events, want %d", len(seen), learners)
	}
	if n := waitSucceeded(t, s, hook.ID, learners); n != learners {
		t.Fatalf("%d deliveries succeeded, want %d", n, learners)
	}
}

// TestResultsKeptAcrossSIGKILL kills the server after a receiver has
// answered a delivery and before its result can be written (the test holds
// SQLite's write lock meanwhile): the restarted server records the result
// that it kept in <db>-results/ instead of sending the delivery again.
func TestResultsKeptAcrossSIGKILL(t *testing.T) {
	t.Parallel()
	const (
		key    = "kept-admin-key-0123456789abcdefg"
		secret = "kept-secret-0123456789abcdefghij"
	)
	db := filepath.Join(t.TempDir(), "kept.db")
	env := []string{"PATHHOOK_DB=" + db, "PATHHOOK_ADMIN_KEY=" + key}
	args := []string{"--addr", "127.0.0.1:0", "--allow-http", "--allow-networks", "127.0.0.0/8"}
	cmd, url := startProcess(t, env, args...)
	s := &server{URL: url, Key: key}

	// The test's own connection to the file, to hold the write lock.
	lockDB, err := sql.Open("sqlite", "file:"+db+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer lockDB.Close()
	lock, err := lockDB.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()

	rc, requests := newFirstHookReceiver(t, func(r *http.Request) {
		// From now on the server cannot write the result.
		if _, err := lock.ExecContext(r.Context(), "BEGIN IMMEDIATE"); err != nil {
			t.Errorf("taking the write lock: %v", err)
		}
	})

	var p pathwayJSON
	s.call(t, "POST", "/v1/pathways", map[string]any{"name": "Kept"}, 201, &p)
	hook := hookOf(t, p, "enrolments")
	s.setUp(t, hook.ID, rc.URL+"/hook", secret)
	id := enrolOne(t, s, p.ID, hook.ID)

	// The result is in the journal: kill the server before it is written.
	waitJournalHolds(t, db+"-results", id)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if _, err := lock.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}

	cmd, s.URL = startProcess(t, env, args...)
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	requireRecordedOnce(t, s, id, requests)
}

// newFirstHookReceiver starts a receiver that answers 200 and runs
// onFirst on the first request before it answers; requests counts what it
// got.
func newFirstHookReceiver(t *testing.T, onFirst func(*http.Request)) (rc *httptest.Server, requests func() int) {
	t.Helper()
	var mu sync.Mutex
	n := 0
	rc = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			onFirst(r)
		}
	}))
	t.Cleanup(rc.Close)
	return rc, func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

// waitJournalHolds waits until a file of the results journal in dir holds
// delivery id's result.
func waitJournalHolds(t *testing.T, dir, id string) {
	t.Helper()
	kept := func() bool {
		files, _ := filepath.Glob(filepath.Join(dir, "[0-9]*"))
		for _, f := range files {
			if data, err := os.ReadFile(f); err == nil && strings.Contains(string(data), id) {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(30 * time.Second); !kept(); sleepBriefly() {
		if time.Now().After(deadline) {
			t.Fatal("the result never reached the journal")
		}
	}
}

// requireRecordedOnce requires that delivery id, restored after a restart,
// succeeded with the one attempt that the receiver answered, and was not
// sent again.
func requireRecordedOnce(t *testing.T, s *server, id string, requests func() int) {
	t.Helper()
	d := waitDelivery(t, s, id, func(d deliveryJSON) bool { return d.Status == "succeeded" })
	if len(d.Attempts) != 1 || d.Attempts[0].ResponseStatus == nil || *d.Attempts[0].ResponseStatus != http.StatusOK {
		t.Errorf("attempts %+v, want the one that the receiver answered", d.Attempts)
	}
	if n := requests(); n != 1 {
		t.Errorf("the receiver got %d requests, want 1: the delivery was sent again", n)
	}
}
