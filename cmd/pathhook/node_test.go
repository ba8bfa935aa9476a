package main

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestRestartedNodeTakesBackItsWork kills a PostgreSQL node while its
// attempts hang on a receiver that never answers, and starts it again
// under its name: the new process takes the deliveries back at once, where
// another node would wait for their leases (more than ten minutes here) to
// run out. A second process under the same name is refused while the
// first runs.
func TestRestartedNodeTakesBackItsWork(t *testing.T) {
	t.Parallel()
	db := freshPostgres(t)
	const (
		key      = "node-admin-key-0123456789abcdefgh"
		secret   = "node-secret-0123456789abcdefghijk"
		learners = 5
	)
	// A receiver that takes connections and never answers.
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	accepted := make(chan struct{}, learners*4)
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			accepted <- struct{}{}
		}
	}()
	receiverAddr := hang.Addr().String()

	env := []string{"PATHHOOK_SECRET_KEY=" + newSecretKey(), "PATHHOOK_ADMIN_KEY=" + key}
	args := []string{"--db", db, "--addr", "127.0.0.1:0", "--allow-http", "--allow-networks", "127.0.0.0/8",
		"--delivery-timeout", "5m", "--node", "node-a"}
	first := startNode(t, "node-a", env, args...)
	s := &server{URL: first.url, Key: key}
	var p pathwayJSON
	s.call(t, "POST", "/v1/pathways", map[string]any{"name": "Node"}, 201, &p)
	s.setUp(t, hookOf(t, p, "enrolments").ID, "http://"+receiverAddr+"/hook", secret)
	for i := range learners {
		s.call(t, "POST", "/v1/pathways/"+p.ID+"/enrolments", map[string]any{"learner": map[string]any{"id": fmt.Sprintf("u-%d", i)}}, 201, nil)
	}
	for range learners {
		select {
		case <-accepted:
		case <-time.After(30 * time.Second):
			t.Fatal("the node did not start its attempts within 30s")
		}
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.exited

	// The receiver comes up on the address the webhook names.
	hang.Close()
	mu.Lock()
	for _, c := range conns {
		c.Close()
	}
	mu.Unlock()
	rl, err := net.Listen("tcp", receiverAddr)
	if err != nil {
		t.Fatalf("cannot bring the receiver up on %s: %v", receiverAddr, err)
	}
	rc := newReceiverOn(t, rl)

	again := startNode(t, "node-a again", env, args...)
	seen := map[string]bool{}
	for _, r := range rc.wait(t, learners) {
		seen[checkDelivery(t, "Falkor", secret, r).ID] = true
	}
	if len(seen) != learners {
		t.Fatalf("received %d distinct events, want %d", len(seen), learners)
	}
	if log := again.log.String(); !strings.Contains(log, "took over deliveries") || !strings.Contains(log, fmt.Sprintf("deliveries=%d", learners)) {
		t.Errorf("the restarted node's log does not say it took over %d deliveries:\n%s", learners, tail(log, 20))
	}

	// While it runs, no other process may be node-a.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testBinary(t), append([]string{"serve"}, args...)...)
	cmd.Env = append(append(os.Environ(), "PATHHOOK_AS_MAIN=1"), env...)
	out, err := cmd.Output()
	if err == nil {
		t.Fatal("a second process as node-a started")
	}
	var stderr string
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = string(ee.Stderr)
	}
	if !strings.Contains(stderr, `another process is running as this node on the database: node "node-a"`) {
		t.Errorf("a second process as node-a: %v, %s; want the error naming the node", err, stderr+string(out))
	}
	again.stop(t, 30*time.Second)
}

// TestPostgresNodeKeepsResultsAcrossSIGKILL is TestResultsKeptAcrossSIGKILL
// for a PostgreSQL node with --results-dir: the test holds the webhook's
// row, which recording a result locks first, from the moment the receiver
// is asked; the node is killed with the result in its journal, and the
// node started again under its name records it instead of sending the
// delivery again.
func TestPostgresNodeKeepsResultsAcrossSIGKILL(t *testing.T) {
	t.Parallel()
	db := freshPostgres(t)
	const (
		key    = "pgkept-admin-key-0123456789abcdef"
		secret = "pgkept-secret-0123456789abcdefghi"
	)
	dir := filepath.Join(t.TempDir(), "results")
	env := []string{"PATHHOOK_SECRET_KEY=" + newSecretKey(), "PATHHOOK_ADMIN_KEY=" + key}
	args := []string{"--db", db, "--addr", "127.0.0.1:0", "--allow-http", "--allow-networks", "127.0.0.0/8",
		"--node", "kept", "--results-dir", dir}
	first := startNode(t, "kept", env, args...)
	s := &server{URL: first.url, Key: key}

	admin, err := sql.Open("pgx", db)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var p pathwayJSON
	s.call(t, "POST", "/v1/pathways", map[string]any{"name": "Kept"}, 201, &p)
	hook := hookOf(t, p, "enrolments")
	lock, err := admin.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()

	var mu sync.Mutex
	requests := 0
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		first := requests == 1
		mu.Unlock()
		if first {
			// From now on the node cannot record the result.
			if _, err := lock.ExecContext(r.Context(), "SELECT id FROM webhooks WHERE id = $1 FOR UPDATE", hook.ID); err != nil {
				t.Errorf("locking the webhook: %v", err)
			}
		}
	}))
	defer rc.Close()
	s.setUp(t, hook.ID, rc.URL+"/hook", secret)
	s.call(t, "POST", "/v1/pathways/"+p.ID+"/enrolments", map[string]any{"learner": map[string]any{"id": "u-1"}}, 201, nil)
	var list struct {
		Data []deliveryJSON `json:"data"`
	}
	s.call(t, "GET", "/v1/webhooks/"+hook.ID+"/deliveries", nil, http.StatusOK, &list)
	if len(list.Data) != 1 {
		t.Fatalf("%d deliveries, want 1", len(list.Data))
	}
	id := list.Data[0].ID

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
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.exited
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}

	again := startNode(t, "kept again", env, args...)
	s.URL = again.url
	var d deliveryJSON
	for deadline := time.Now().Add(30 * time.Second); d.Status != "succeeded"; sleepBriefly() {
		if time.Now().After(deadline) {
			t.Fatalf("delivery %s is %s after the restart, want succeeded", id, d.Status)
		}
		s.call(t, "GET", "/v1/deliveries/"+id, nil, http.StatusOK, &d)
	}
	if len(d.Attempts) != 1 || d.Attempts[0].ResponseStatus == nil || *d.Attempts[0].ResponseStatus != http.StatusOK {
		t.Errorf("attempts %+v, want the one that the receiver answered", d.Attempts)
	}
	mu.Lock()
	defer mu.Unlock()
	if requests != 1 {
		t.Errorf("the receiver got %d requests, want 1: the delivery was sent again", requests)
	}
	again.stop(t, 30*time.Second)
}
