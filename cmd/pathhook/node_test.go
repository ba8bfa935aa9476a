package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
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
	hanging := make(chan struct{}) // closed when it takes no more
	go func() {
		defer close(hanging)
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
	hook := hookOf(t, p, "enrolments")
	s.setUp(t, hook.ID, "http://"+receiverAddr+"/hook", secret)
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

	// The receiver comes up on the address the webhook names: on the same
	// listener, since a port let go of may be taken meanwhile.
	tcp := hang.(*net.TCPListener)
	if err := tcp.SetDeadline(time.Now()); err != nil { // ends its Accept
		t.Fatal(err)
	}
	<-hanging
	if err := tcp.SetDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	for _, c := range conns {
		c.Close()
	}
	mu.Unlock()
	rc := newReceiverOn(t, hang)

	again := startNode(t, "node-a again", env, args...)
	seen := map[string]bool{}
	for _, r := range rc.wait(t, learners) {
		seen[checkDelivery(t, "Falkor", secret, r).ID] = true
	}
	if len(seen) != learners {
		t.Fatalf("received %d distinct events, want %d", len(seen), learners)
	}
	// Once all have succeeded nothing more is sent: each came once.
	s.URL = again.url
	if n := waitSucceeded(t, s, hook.ID, learners); n != learners {
		t.Fatalf("%d deliveries succeeded, want %d", n, learners)
	}
	if got := len(rc.wait(t, learners)); got != learners {
		t.Errorf("the receiver got %d requests, want %d", got, learners)
	}
	if log := again.log.String(); !strings.Contains(log, "took over deliveries") || !strings.Contains(log, fmt.Sprintf("deliveries=%d", learners)) {
		t.Errorf("the restarted node's log does not say it took over %d deliveries:\n%s", learners, tail(log, 20))
	}

	// While it runs, another process as node-a waits for the name (and
	// after nodeWait gives up), rather than take its deliveries.
	second := exec.Command(testBinary(t), append([]string{"serve"}, args...)...)
	second.Env = append(append(os.Environ(), "PATHHOOK_AS_MAIN=1"), env...)
	stderr, err := second.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan string, 1)
	go func() {
		var seen []string
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			seen = append(seen, lines.Text())
			if strings.Contains(lines.Text(), "waiting for this node's name") || strings.Contains(lines.Text(), "pathhook listening") {
				break
			}
		}
		waiting <- strings.Join(seen, "\n")
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case log := <-waiting:
		if !strings.Contains(log, "waiting for this node's name") || !strings.Contains(log, `node=node-a`) || strings.Contains(log, "pathhook listening") {
			t.Errorf("a second process as node-a did not wait for the name:\n%s", log)
		}
	case <-time.After(time.Minute):
		t.Error("a second process as node-a said nothing for a minute")
	}
	_ = second.Process.Kill()
	_ = second.Wait()
	again.stop(t, 30*time.Second)
}

// TestPostgresNodeKeepsResultsAcrossSIGKILL is TestResultsKeptAcrossSIGKILL
// for a PostgreSQL node with --results-dir: the test holds the delivery's
// row, which recording its result must lock, from the moment the receiver
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

	rc, requests := newFirstHookReceiver(t, func(r *http.Request) {
		// From now on the node cannot record the result.
		if _, err := lock.ExecContext(r.Context(), "SELECT id FROM deliveries WHERE webhook_id = $1 FOR UPDATE", hook.ID); err != nil {
			t.Errorf("locking the delivery: %v", err)
		}
	})
	s.setUp(t, hook.ID, rc.URL+"/hook", secret)
	id := enrolOne(t, s, p.ID, hook.ID)

	waitJournalHolds(t, dir, id)
	// The node sends a transaction's statements and COMMIT together, so
	// its backend would commit the result after the node's death once the
	// lock is gone: end that backend too, as if the node's machine had
	// died with it.
	var me int
	if err := lock.QueryRowContext(context.Background(), "SELECT pg_backend_pid()").Scan(&me); err != nil {
		t.Fatal(err)
	}
	blocked := func() int {
		var n int
		if err := admin.QueryRowContext(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", me).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for deadline := time.Now().Add(30 * time.Second); blocked() == 0; sleepBriefly() {
		if time.Now().After(deadline) {
			t.Fatal("the node's write of the result never waited for the test's lock")
		}
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.exited
	if _, err := admin.ExecContext(context.Background(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", me); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); blocked() > 0; sleepBriefly() {
		if time.Now().After(deadline) {
			t.Fatal("the dead node's backend is still waiting")
		}
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}

	again := startNode(t, "kept again", env, args...)
	s.URL = again.url
	requireRecordedOnce(t, s, id, requests)
	if log := again.log.String(); !strings.Contains(log, "restored=1") {
		t.Errorf("the restarted node's log does not say it restored the result:\n%s", tail(log, 20))
	}
	again.stop(t, 30*time.Second)
}

// enrolOne enrols a learner in pathway pathwayID, whose webhook hookID is
// its only one enabled and has no deliveries yet, and returns the id of
// the delivery it makes.
func enrolOne(t *testing.T, s *server, pathwayID, hookID string) string {
	t.Helper()
	s.call(t, "POST", "/v1/pathways/"+pathwayID+"/enrolments", map[string]any{"learner": map[string]any{"id": "u-1"}}, 201, nil)
	var list struct {
		Data []deliveryJSON `json:"data"`
	}
	s.call(t, "GET", "/v1/webhooks/"+hookID+"/deliveries", nil, http.StatusOK, &list)
	if len(list.Data) != 1 {
		t.Fatalf("%d deliveries, want 1", len(list.Data))
	}
	return list.Data[0].ID
}

// waitSucceeded polls until want of a webhook's deliveries have succeeded,
// or 30 s have passed, and returns how many have.
func waitSucceeded(t *testing.T, s *server, hookID string, want int) int {
	t.Helper()
	var list struct {
		Data []deliveryJSON `json:"data"`
	}
	for deadline := time.Now().Add(30 * time.Second); ; sleepBriefly() {
		s.call(t, "GET", "/v1/webhooks/"+hookID+"/deliveries?status=succeeded&limit=100", nil, http.StatusOK, &list)
		if len(list.Data) >= want || time.Now().After(deadline) {
			return len(list.Data)
		}
	}
}

// TestNodesRefuseASharedResultsDir: a second node given a results
// directory that a running node uses does not start.
func TestNodesRefuseASharedResultsDir(t *testing.T) {
	t.Parallel()
	db := freshPostgres(t)
	dir := filepath.Join(t.TempDir(), "results")
	env := []string{"PATHHOOK_SECRET_KEY=" + newSecretKey(), "PATHHOOK_ADMIN_KEY=shared-admin-key-0123456789abcdefgh"}
	args := []string{"--db", db, "--addr", "127.0.0.1:0", "--results-dir", dir}
	first := startNode(t, "first", env, append(args, "--node", "first")...)
	cmd := exec.Command(testBinary(t), append([]string{"serve"}, append(args, "--node", "second")...)...)
	cmd.Env = append(append(os.Environ(), "PATHHOOK_AS_MAIN=1"), env...)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another process uses the directory: "+dir) {
		t.Errorf("a second node on %s: %v\n%s\nwant it refused, naming the directory", dir, err, out)
	}
	first.stop(t, 30*time.Second)
}
