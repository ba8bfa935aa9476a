package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for sql.Open

	"github.com/pathhook/pathhook/internal/pgtest"
)

// freshPostgres makes a schema of its own for t in the test database
// (pgtest.Schema) and returns the database's URL with that schema as
// search path.
func freshPostgres(t *testing.T) string { return pgtest.Schema(t, "pathhook_cmd_") }

// newSecretKey returns a PATHHOOK_SECRET_KEY: the base64 of 32 random bytes.
func newSecretKey() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// countingReceiver is a webhook receiver for many deliveries: it checks
// each signature and counts requests by event id and by learner, keeping no
// bodies. It never calls t from its handler, which may outlive the test.
// arrival is when a request for an event came, and its attempt number.
type arrival struct {
	at      time.Time
	attempt string
}

type countingReceiver struct {
	*httptest.Server
	secret string

	mu       sync.Mutex
	total    int
	byEvent  map[string]int
	arrivals map[string][]arrival // of events that came more than once, and of the first of each
	learners map[string]bool
	bad      int
	firstBad string
	changed  chan struct{}
}

func newCountingReceiver(t *testing.T, secret string) *countingReceiver {
	t.Helper()
	rc := &countingReceiver{secret: secret, byEvent: map[string]int{}, arrivals: map[string][]arrival{}, learners: map[string]bool{}, changed: make(chan struct{}, 1)}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *countingReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var ev struct {
		ID   string `json:"id"`
		Data struct {
			Learner struct {
				ID string `json:"id"`
			} `json:"learner"`
		} `json:"data"`
	}
	problem := ""
	switch {
	case err != nil:
		problem = "reading the body: " + err.Error()
	case !phpAccepts(r.Header.Get("Falkor-Webhook-Signature"), body, rc.secret):
		problem = "bad signature on " + r.Header.Get("Falkor-Webhook-Delivery")
	case json.Unmarshal(body, &ev) != nil || ev.ID == "" || ev.ID != r.Header.Get("Falkor-Webhook-Id"):
		problem = fmt.Sprintf("body and Falkor-Webhook-Id %q disagree: %s", r.Header.Get("Falkor-Webhook-Id"), body)
	}
	rc.mu.Lock()
	if problem != "" {
		rc.bad++
		if rc.firstBad == "" {
			rc.firstBad = problem
		}
	} else {
		rc.total++
		rc.byEvent[ev.ID]++
		rc.arrivals[ev.ID] = append(rc.arrivals[ev.ID], arrival{time.Now(), r.Header.Get("Falkor-Webhook-Attempt")})
		rc.learners[ev.Data.Learner.ID] = true
	}
	rc.mu.Unlock()
	select {
	case rc.changed <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusOK)
}

// counts returns the requests received, the distinct events among them, and
// the requests that failed the checks.
func (rc *countingReceiver) counts() (total, distinct, bad int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.total, len(rc.byEvent), rc.bad
}

// waitDistinct waits until n distinct events have arrived, or fails the test
// when none arrived for stall (progress, not speed, is what it asks for).
func (rc *countingReceiver) waitDistinct(t *testing.T, n int, stall time.Duration) {
	t.Helper()
	last, lastAt := -1, time.Now()
	for {
		total, distinct, _ := rc.counts()
		if distinct >= n {
			return
		}
		if distinct != last {
			last, lastAt = distinct, time.Now()
		} else if time.Since(lastAt) > stall {
			t.Fatalf("receiver: %d distinct events of %d after no progress for %s (%d requests)", distinct, n, stall, total)
		}
		select {
		case <-rc.changed:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// node is one pathhook serve process of a cluster.
type node struct {
	cmd    *exec.Cmd
	url    string
	log    *syncBuffer
	dead   atomic.Bool
	exited chan struct{} // closed when the process has ended; then err is its end
	err    error
}

// startNode starts a serve process and kills it when the test ends, if it
// still runs then; on failure the test shows the end of its log.
func startNode(t *testing.T, name string, env []string, args ...string) *node {
	t.Helper()
	n := &node{log: &syncBuffer{}, exited: make(chan struct{})}
	n.cmd, n.url = startProcessOut(t, n.log, env, args...)
	go func() {
		n.err = n.cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-n.exited:
		default:
			_ = n.cmd.Process.Kill()
			<-n.exited
		}
		if t.Failed() {
			t.Logf("log of %s (end):\n%s", name, tail(n.log.String(), 40))
		}
	})
	return n
}

// stop ends the node with SIGTERM and requires a clean exit within limit.
func (n *node) stop(t *testing.T, limit time.Duration) {
	t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-n.exited:
		if n.err != nil {
			t.Fatalf("after SIGTERM the process exited with %v", n.err)
		}
	case <-time.After(limit):
		t.Fatalf("the process did not exit within %s of SIGTERM", limit)
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// cluster sends API calls round-robin to the nodes that are not dead.
type cluster struct {
	nodes  []*node
	key    string
	client *http.Client
	next   atomic.Uint64
	lost   atomic.Int64 // calls that got no answer
	again  atomic.Int64 // enrolments that a lost call had made
}

func (c *cluster) pick() *node {
	for {
		n := c.nodes[c.next.Add(1)%uint64(len(c.nodes))]
		if !n.dead.Load() {
			return n
		}
	}
}

// post sends a JSON POST to a live node and returns the status, or an
// error when no answer came (the node may have died on the way).
func (c *cluster) post(path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest("POST", c.pick().url+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// enrol enrols one learner through the cluster. A call that got no answer
// (its node died) is made again on another node; a 409 then means that the
// lost call had committed, so the enrolment, and its event, exists.
func (c *cluster) enrol(pathwayID, learner string) error {
	body := []byte(`{"learner":{"id":"` + learner + `"}}`)
	var lost []string
	for try := range 30 {
		status, data, err := c.post("/v1/pathways/"+pathwayID+"/enrolments", body)
		switch {
		case err != nil:
			c.lost.Add(1)
			lost = append(lost, err.Error())
		case status == http.StatusCreated:
			return nil
		case status == http.StatusConflict && len(lost) > 0:
			c.again.Add(1)
			return nil
		default:
			return fmt.Errorf("enrol %s: %d %s (after %d lost calls: %v)", learner, status, data, len(lost), lost)
		}
		time.Sleep(time.Duration(try+1) * 20 * time.Millisecond)
	}
	return fmt.Errorf("enrol %s: no answer in 30 tries: %v", learner, lost)
}

// TestMultiNodePostgres runs three serve processes on one PostgreSQL
// database and enrols 10,000 learners (1,000 with -short) through them,
// round-robin, killing
// one node with SIGKILL after a third were accepted. Every event must
// arrive; the killed node's deliveries are taken over when their leases run
// out, and the few that it had sent without recording the result arrive
// twice: fewer than 0.5% may.
func TestMultiNodePostgres(t *testing.T) {
	t.Parallel()
	db := freshPostgres(t)
	const (
		nodes    = 3
		pathways = 20
		clients  = 16
		key      = "multinode-admin-key-0123456789abcdef"
		secret   = "multinode-secret-0123456789abcdefgh"
	)
	// Duplicates come from the attempts in flight when the node dies, not
	// from the number of events: a short run allows as many as a full one.
	const fullEvents = 10000
	events, maxDups := fullEvents, fullEvents/200 // under 0.5%
	if testing.Short() {
		events = 1000 // the full run takes a minute or more on 2 cores under -race
	}
	rc := newCountingReceiver(t, secret)
	env := []string{"PATHHOOK_SECRET_KEY=" + newSecretKey(), "PATHHOOK_ADMIN_KEY=" + key}
	args := []string{"--db", db, "--addr", "127.0.0.1:0", "--allow-http", "--allow-networks", "127.0.0.0/8",
		"--delivery-timeout", "2s", "--rate-limit", "0", "--retry-schedule", "200ms,1s,2s,5s,10s,30s"}
	c := &cluster{key: key, client: &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}}
	t.Cleanup(c.client.CloseIdleConnections)
	started := time.Now()
	for i := range nodes {
		c.nodes = append(c.nodes, startNode(t, fmt.Sprintf("node %d", i), env, args...))
	}
	t.Logf("%d nodes listening after %s", nodes, time.Since(started).Round(time.Millisecond))

	// Pathways, each with its enrolments webhook on the receiver, made
	// through different nodes.
	ids := make([]string, pathways)
	for i := range ids {
		s := &server{URL: c.nodes[i%nodes].url, Key: key}
		var p pathwayJSON
		s.call(t, "POST", "/v1/pathways", map[string]any{"name": fmt.Sprintf("Pathway %d", i)}, 201, &p)
		s.setUp(t, hookOf(t, p, "enrolments").ID, fmt.Sprintf("%s/p%d", rc.URL, i), secret)
		ids[i] = p.ID
	}

	// Enrol, from a bounded number of clients; SIGKILL node 1 after a third.
	victim := c.nodes[1]
	var accepted atomic.Int64
	var kill sync.Once
	var killedAt time.Time
	work := make(chan int)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	enrolStart := time.Now()
	for range clients {
		wg.Go(func() {
			for i := range work {
				if err := c.enrol(ids[i%pathways], fmt.Sprintf("u-%05d", i)); err != nil {
					errs <- err
					return
				}
				if accepted.Add(1) == int64(events/3) {
					kill.Do(func() {
						victim.dead.Store(true)
						killedAt = time.Now()
						_ = victim.cmd.Process.Signal(syscall.SIGKILL)
					})
				}
			}
		})
	}
	var failed error
feed:
	for i := range events {
		select {
		case work <- i:
		case failed = <-errs:
			break feed
		}
	}
	close(work)
	wg.Wait()
	if failed == nil {
		select {
		case failed = <-errs:
		default:
		}
	}
	if failed != nil {
		t.Fatal(failed)
	}
	<-victim.exited
	enrolTook := time.Since(enrolStart)
	t.Logf("%d enrolments accepted in %s; node 1 killed %s after the first; %d calls lost with it, %d of which had enrolled",
		accepted.Load(), enrolTook.Round(time.Millisecond), killedAt.Sub(enrolStart).Round(time.Millisecond), c.lost.Load(), c.again.Load())
	if accepted.Load() != int64(events) {
		t.Fatalf("%d enrolments accepted, want %d", accepted.Load(), events)
	}

	// Every event arrives: the killed node's leases run out (delivery
	// timeout + lease margin) and the survivors take its work over.
	rc.waitDistinct(t, events, 2*time.Minute)
	t.Logf("all %d events arrived %s after the last enrolment", events, time.Since(enrolStart.Add(enrolTook)).Round(time.Millisecond))

	// Once nothing is pending, nothing more is sent: the count is final.
	survivor := &server{URL: c.nodes[0].url, Key: key}
	waitNonePending(t, survivor, ids)
	succeeded := 0
	for _, id := range ids {
		succeeded += countDeliveries(t, survivor, enrolmentsHookID(t, survivor, id), "succeeded")
	}
	total, distinct, bad := rc.counts()
	rc.mu.Lock()
	learners, firstBad := len(rc.learners), rc.firstBad
	rc.mu.Unlock()
	dups := total - distinct
	rc.mu.Lock()
	for id, as := range rc.arrivals {
		if len(as) > 1 {
			var desc []string
			for _, a := range as {
				desc = append(desc, fmt.Sprintf("attempt %s at kill%+.3fs", a.attempt, a.at.Sub(killedAt).Seconds()))
			}
			t.Logf("duplicate %s: %s", id, strings.Join(desc, ", "))
		}
	}
	rc.mu.Unlock()
	t.Logf("receiver: %d requests, %d distinct events, %d duplicates (%.3f%%), %d deliveries succeeded; total %s",
		total, distinct, dups, 100*float64(dups)/float64(events), succeeded, time.Since(started).Round(time.Millisecond))
	if bad > 0 {
		t.Errorf("%d requests failed the receiver's checks; the first: %s", bad, firstBad)
	}
	if distinct != events || learners != events {
		t.Errorf("received %d distinct events for %d learners, want %d of each", distinct, learners, events)
	}
	if succeeded != events {
		t.Errorf("%d deliveries succeeded, want %d", succeeded, events)
	}
	if dups >= maxDups {
		t.Errorf("%d duplicates of %d events: want fewer than %d (0.5%% of %d)", dups, events, maxDups, fullEvents)
	}

	// The survivors stop cleanly.
	for _, n := range []*node{c.nodes[0], c.nodes[2]} {
		n.stop(t, 30*time.Second)
	}
}

// enrolmentsHookID returns the id of a pathway's enrolments webhook.
func enrolmentsHookID(t *testing.T, s *server, pathwayID string) string {
	t.Helper()
	var p pathwayJSON
	s.call(t, "GET", "/v1/pathways/"+pathwayID, nil, http.StatusOK, &p)
	return hookOf(t, p, "enrolments").ID
}

// waitNonePending polls until none of the pathways' enrolments webhooks has
// a pending delivery.
func waitNonePending(t *testing.T, s *server, pathwayIDs []string) {
	t.Helper()
	hooks := make([]string, len(pathwayIDs))
	for i, id := range pathwayIDs {
		hooks[i] = enrolmentsHookID(t, s, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, h := range hooks {
		for {
			var list struct {
				Data []deliveryJSON `json:"data"`
			}
			s.call(t, "GET", "/v1/webhooks/"+h+"/deliveries?status=pending&limit=1", nil, http.StatusOK, &list)
			if len(list.Data) == 0 {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("webhook %s still has pending deliveries: %+v", h, list.Data)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// countDeliveries counts a webhook's deliveries in a status, page by page.
func countDeliveries(t *testing.T, s *server, hookID, status string) int {
	t.Helper()
	n, cursor := 0, ""
	for {
		var page struct {
			Data       []deliveryJSON `json:"data"`
			NextCursor *string        `json:"next_cursor"`
		}
		path := "/v1/webhooks/" + hookID + "/deliveries?limit=100&status=" + status
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		s.call(t, "GET", path, nil, http.StatusOK, &page)
		n += len(page.Data)
		if page.NextCursor == nil {
			return n
		}
		cursor = *page.NextCursor
	}
}
