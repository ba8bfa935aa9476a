package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
)

// slowReceiver holds each request for a while before it answers 200, and
// remembers every request: when it began, whether it was answered, and
// whether the sender gave up on it first.
type slowReceiver struct {
	*httptest.Server
	hold time.Duration
	gate chan struct{} // requests wait until it is closed

	mu       sync.Mutex
	reqs     []*slowRequest
	inFlight int
	changed  chan struct{}
}

// slowRequest is one request that a slowReceiver got.
type slowRequest struct {
	delivery string
	attempt  int
	answered bool // the hold ended and 200 was written
	cut      bool // the sender went away during the hold
}

// newSlowReceiver starts a receiver that holds each request for hold; with
// hold < 0 it holds each until the sender gives up. Requests wait for open
// before their hold begins.
func newSlowReceiver(t *testing.T, hold time.Duration) *slowReceiver {
	t.Helper()
	rc := &slowReceiver{hold: hold, gate: make(chan struct{}), changed: make(chan struct{}, 1)}
	stop := make(chan struct{})
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body to its end lets the server notice when the
		// sender goes away (r.Context ends).
		_, _ = io.Copy(io.Discard, r.Body)
		attempt, _ := strconv.Atoi(r.Header.Get("Falkor-Webhook-Attempt"))
		req := &slowRequest{delivery: r.Header.Get("Falkor-Webhook-Delivery"), attempt: attempt}
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, req)
		rc.inFlight++
		rc.mu.Unlock()
		rc.notify()
		var held <-chan time.Time
		select {
		case <-rc.gate:
			if hold >= 0 {
				held = time.After(hold)
			}
		case <-r.Context().Done():
		case <-stop:
		}
		select {
		case <-held:
			w.WriteHeader(http.StatusOK)
			rc.mu.Lock()
			req.answered = true
		case <-r.Context().Done():
			rc.mu.Lock()
			req.cut = true
		case <-stop:
			rc.mu.Lock()
			req.cut = true
		}
		rc.inFlight--
		rc.mu.Unlock()
		rc.notify()
	}))
	// Cleanups run last first: the handlers let go before Close waits for them.
	t.Cleanup(rc.Close)
	t.Cleanup(func() { close(stop) })
	return rc
}

// open lets requests through the gate, now and from now on.
func (rc *slowReceiver) open() { close(rc.gate) }

func (rc *slowReceiver) notify() {
	select {
	case rc.changed <- struct{}{}:
	default:
	}
}

// snapshot returns copies of the requests so far and how many are held.
func (rc *slowReceiver) snapshot() ([]slowRequest, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	reqs := make([]slowRequest, len(rc.reqs))
	for i, r := range rc.reqs {
		reqs[i] = *r
	}
	return reqs, rc.inFlight
}

// waitFor polls until ok holds for the receiver's requests.
func (rc *slowReceiver) waitFor(t *testing.T, what string, ok func(reqs []slowRequest, inFlight int) bool) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		reqs, inFlight := rc.snapshot()
		if ok(reqs, inFlight) {
			return
		}
		select {
		case <-rc.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("receiver never had %s: %d requests, %d in flight", what, len(reqs), inFlight)
		}
	}
}

// TestGracefulShutdown sends SIGTERM to serve while attempts are in flight.
// The process must exit 0 within the delivery timeout and a margin, having
// finished and recorded the attempts in flight (a receiver that never
// answers is cut off by the timeout) and released the deliveries it still
// held, so that any node can take them at once. Restarted on the same
// database, it delivers the rest, and the delivery log agrees with what the
// receiver got.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		testGracefulShutdown(t, filepath.Join(t.TempDir(), "pathhook.db"))
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		testGracefulShutdown(t, freshPostgres(t))
	})
}

func testGracefulShutdown(t *testing.T, db string) {
	const (
		key      = "shutdown-admin-key-0123456789abcdef"
		secret   = "shutdown-secret-0123456789abcdefgh"
		learners = 24
		timeout  = 3 * time.Second
		margin   = 20 * time.Second // for a loaded machine; nothing here needs it
	)
	secretKey := newSecretKey()
	env := []string{"PATHHOOK_SECRET_KEY=" + secretKey, "PATHHOOK_ADMIN_KEY=" + key}
	args := []string{"--db", db, "--addr", "127.0.0.1:0", "--allow-http", "--allow-networks", "127.0.0.0/8",
		"--delivery-timeout", timeout.String(), "--per-webhook", "4", "--retry-schedule", "1h"}
	slow := newSlowReceiver(t, 500*time.Millisecond)
	hang := newSlowReceiver(t, -1)

	first := startNode(t, "the first process", env, args...)
	s := &server{URL: first.url, Key: key}
	checkHealthy(t, s)
	var a, b pathwayJSON
	s.call(t, "POST", "/v1/pathways", map[string]any{"name": "Slow"}, 201, &a)
	s.call(t, "POST", "/v1/pathways", map[string]any{"name": "Hanging"}, 201, &b)
	slowHook, hangHook := hookOf(t, a, "enrolments").ID, hookOf(t, b, "enrolments").ID
	s.setUp(t, slowHook, slow.URL, secret)
	s.setUp(t, hangHook, hang.URL, secret)
	for i := range learners {
		s.call(t, "POST", "/v1/pathways/"+a.ID+"/enrolments", map[string]any{"learner": map[string]any{"id": fmt.Sprintf("u-%02d", i)}}, 201, nil)
	}
	// Last, so that its attempt is still running at SIGTERM.
	s.call(t, "POST", "/v1/pathways/"+b.ID+"/enrolments", map[string]any{"learner": map[string]any{"id": "u-hang"}}, 201, nil)

	// SIGTERM once some attempts have been answered and others are held.
	// The first ones wait until every learner is enrolled, however slow
	// the machine, so that some are still queued then.
	hang.open()
	slow.open()
	hang.waitFor(t, "the hanging attempt", func(reqs []slowRequest, _ int) bool { return len(reqs) == 1 })
	slow.waitFor(t, "answered and held attempts at once", func(reqs []slowRequest, inFlight int) bool {
		return len(reqs) >= 6 && inFlight > 0 && len(reqs) > inFlight
	})
	before, heldAtTerm := slow.snapshot()
	hung, _ := hang.snapshot()
	hangingAtTerm := !hung[0].cut
	answeredBefore := map[string]bool{}
	for _, r := range before {
		if r.answered {
			answeredBefore[r.delivery] = true
		}
	}
	termAt := time.Now()
	first.stop(t, timeout+margin)
	t.Logf("exited %s after SIGTERM, sent when %d attempts had begun, %d of them held by the receiver; one hanging: %v",
		time.Since(termAt).Round(time.Millisecond), len(before), heldAtTerm, hangingAtTerm)

	// The attempts in flight were finished, not cut off; the hanging one
	// was cut off by the delivery timeout.
	phase1, _ := slow.snapshot()
	sentBefore := map[string]bool{}
	for _, r := range phase1 {
		sentBefore[r.delivery] = true
		if r.cut || !r.answered {
			t.Errorf("attempt %d of %s was cut off by the shutdown", r.attempt, r.delivery)
		}
	}
	// (The receiver learns that its sender went away a moment later.)
	hang.waitFor(t, "its one request cut off", func(reqs []slowRequest, _ int) bool { return len(reqs) == 1 && reqs[0].cut })
	if len(phase1) >= learners {
		t.Fatalf("all %d deliveries were attempted before the shutdown: the test proves nothing", len(phase1))
	}

	// What is left is pending, and released: claimable by anyone at once,
	// but for the hanging delivery, which waits for its retry.
	checkReleased(t, db, secretKey, learners-len(sentBefore)+1)

	// Restarted, the server delivers the rest.
	second := startNode(t, "the second process", env, args...)
	s.URL = second.url
	checkHealthy(t, s)
	slow.waitFor(t, "every delivery", func(reqs []slowRequest, _ int) bool {
		seen := map[string]bool{}
		for _, r := range reqs {
			seen[r.delivery] = true
		}
		return len(seen) == learners
	})
	var list struct {
		Data []deliveryJSON `json:"data"`
	}
	deadline := time.Now().Add(time.Minute)
	for {
		s.call(t, "GET", "/v1/webhooks/"+slowHook+"/deliveries?status=succeeded&limit=100", nil, http.StatusOK, &list)
		if len(list.Data) == learners || time.Now().After(deadline) {
			break
		}
		sleepBriefly()
	}
	if len(list.Data) != learners {
		t.Fatalf("%d deliveries succeeded, want %d", len(list.Data), learners)
	}

	// The log says what the receiver got: one attempt per request, with the
	// numbers in the headers. A delivery attempted before the shutdown is
	// sent again only if its result was not recorded: never for one
	// answered before SIGTERM; for one in flight then, at-least-once allows
	// it, and the test counts it.
	all, _ := slow.snapshot()
	got := map[string][]int{}
	for _, r := range all {
		got[r.delivery] = append(got[r.delivery], r.attempt)
	}
	resent := 0
	for _, d := range list.Data {
		var full deliveryJSON
		s.call(t, "GET", "/v1/deliveries/"+d.ID, nil, http.StatusOK, &full)
		attempts := got[d.ID]
		if len(attempts) > 1 && sentBefore[d.ID] {
			resent++
			if answeredBefore[d.ID] {
				t.Errorf("%s was answered before SIGTERM and sent again: attempts %v", d.ID, attempts)
			} else {
				t.Logf("%s was in flight at SIGTERM and sent again (its result was not recorded): attempts %v", d.ID, attempts)
			}
			continue
		}
		if len(attempts) != 1 || attempts[0] != 1 || full.AttemptCount != 1 || len(full.Attempts) != 1 ||
			full.Attempts[0].ResponseStatus == nil || *full.Attempts[0].ResponseStatus != 200 {
			t.Errorf("%s: the receiver got attempts %v; the log says %+v", d.ID, attempts, full)
		}
	}
	t.Logf("%d of %d deliveries attempted before the shutdown (%d held at SIGTERM); %d sent again after it",
		len(sentBefore), learners, heldAtTerm, resent)

	// The hanging delivery's attempt is recorded as failed, and it waits
	// for its retry.
	s.call(t, "GET", "/v1/webhooks/"+hangHook+"/deliveries", nil, http.StatusOK, &list)
	if len(list.Data) != 1 {
		t.Fatalf("the hanging webhook has %d deliveries, want 1", len(list.Data))
	}
	var hd deliveryJSON
	s.call(t, "GET", "/v1/deliveries/"+list.Data[0].ID, nil, http.StatusOK, &hd)
	if hd.Status != "pending" || hd.AttemptCount != 1 || len(hd.Attempts) != 1 ||
		hd.Attempts[0].Error == nil || hd.Attempts[0].ResponseStatus != nil {
		t.Errorf("the hanging delivery after the shutdown: %+v", hd)
	}
	second.stop(t, timeout+margin)
}

// checkHealthy requires /healthz and /readyz to answer 200 without a key.
func checkHealthy(t *testing.T, s *server) {
	t.Helper()
	for _, path := range []string{"/healthz", "/readyz"} {
		if status, body := s.do(t, "GET", path, "", nil); status != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, status, body)
		}
	}
}

// checkReleased opens the store of a stopped server and requires pending
// deliveries, all claimable at once but one (which waits for a retry): a
// lease left behind would hide a delivery until it ran out. It gives back
// what it claimed.
func checkReleased(t *testing.T, db, secretKey string, pending int) {
	t.Helper()
	ctx := context.Background()
	store, err := openStore(ctx, db, secretKey, false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	n, _, err := store.QueueStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	jobs, err := store.ClaimDue(ctx, "shutdown-probe", now, now.Add(time.Minute), 1000)
	if err != nil {
		t.Fatal(err)
	}
	leases := make([]pathhook.Lease, len(jobs))
	for i, j := range jobs {
		leases[i] = j.Lease()
	}
	if err := store.Release(ctx, "shutdown-probe", leases); err != nil {
		t.Fatal(err)
	}
	if n != pending || len(jobs) != pending-1 {
		t.Fatalf("after the shutdown %d deliveries are pending and %d claimable, want %d and %d", n, len(jobs), pending, pending-1)
	}
}

// TestSecondSignalStopsAtOnce: a clean stop waits for the attempts in
// flight, up to the delivery timeout; a second SIGTERM (or Ctrl-C) during
// it ends the process at once.
func TestSecondSignalStopsAtOnce(t *testing.T) {
	t.Parallel()
	const key = "second-signal-admin-key-0123456789ab"
	hang := newSlowReceiver(t, -1)
	hang.open()
	n := startNode(t, "serve", []string{"PATHHOOK_ADMIN_KEY=" + key},
		"--db", filepath.Join(t.TempDir(), "pathhook.db"), "--addr", "127.0.0.1:0", "--allow-http",
		"--allow-networks", "127.0.0.0/8", "--delivery-timeout", "10m")
	s := &server{URL: n.url, Key: key}
	var p pathwayJSON
	s.call(t, "POST", "/v1/pathways", map[string]any{"name": "Hanging"}, 201, &p)
	s.setUp(t, hookOf(t, p, "enrolments").ID, hang.URL, "second-signal-secret-0123456789abc")
	s.call(t, "POST", "/v1/pathways/"+p.ID+"/enrolments", map[string]any{"learner": map[string]any{"id": "u-1"}}, 201, nil)
	hang.waitFor(t, "the hanging attempt", func(reqs []slowRequest, inFlight int) bool { return inFlight == 1 })

	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(n.log.String(), "shutting down") {
		if time.Now().After(deadline) {
			t.Fatal("no 'shutting down' in the log a minute after SIGTERM")
		}
		sleepBriefly()
	}
	select {
	case <-n.exited:
		t.Fatalf("the process exited (%v) with its attempt still held", n.err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-n.exited:
		if st, ok := n.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !st.Signaled() || st.Signal() != syscall.SIGTERM {
			t.Errorf("exited with %v, want ended by SIGTERM", n.err)
		}
	case <-time.After(time.Minute):
		t.Fatal("still running a minute after the second SIGTERM; its attempt has a 10-minute timeout")
	}
}
