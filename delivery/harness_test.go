package delivery

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
)

// harness is an engine on a fake store and a fake clock.
type harness struct {
	t      *testing.T
	clock  *fakeClock
	store  *fakeStore
	engine *Engine
	cancel context.CancelFunc
	done   chan error
}

// setup returns a harness whose engine has small test settings, changed by
// configure if given. The engine is not running until start.
func setup(t *testing.T, configure func(*Config)) *harness {
	t.Helper()
	clock := newFakeClock()
	store := newFakeStore(clock.Now)
	c := Config{Store: store, Owner: store.owner, Platform: "ByteKast", Clock: clock.Now,
		Rand: func() float64 { return 0.5 }, Timeout: 5 * time.Second, Workers: 8, PerWebhook: 4, FlushInterval: -1,
		Logger: testLogger(t)}
	if configure != nil {
		configure(&c)
	}
	return &harness{t: t, clock: clock, store: store, engine: New(c)}
}

// start runs the engine until the test ends or stop is called.
func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.engine.Run(ctx) }()
	h.t.Cleanup(h.stop)
}

// stop stops the engine and waits for Run to return.
func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("Run: %v", err)
	}
	h.cancel = nil
}

// offer creates deliveries of jobs in the store, leased to the engine as the
// Service creates them, and offers them; it returns the jobs as offered.
func (h *harness) offer(jobs ...pathhook.Job) []pathhook.Job {
	for i := range jobs {
		jobs[i] = h.store.add(jobs[i], h.engine.c.Lease)
	}
	h.engine.Offer(context.Background(), slices.Clone(jobs))
	return jobs
}

// advance moves the fake clock and pokes the engine.
func (h *harness) advance(d time.Duration) {
	h.clock.Add(d)
	h.engine.Poke()
}

// waitStatus waits until the delivery has n attempts recorded and returns it.
func (h *harness) waitAttempts(id string, n int) fakeDelivery {
	h.t.Helper()
	waitFor(h.t, id+" to have attempts", func() bool { return len(h.store.delivery(id).attempts) >= n })
	d := h.store.delivery(id)
	if len(d.attempts) != n {
		h.t.Fatalf("%s has %d attempts, want %d", id, len(d.attempts), n)
	}
	return d
}

// received is one request that a receiver got.
type received struct {
	header http.Header
	body   []byte
	path   string
}

// receiver is a webhook endpoint on 127.0.0.1 that answers with respond,
// which gets the number of the request (0, 1, ...), and keeps what it got.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []received
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("receiver: %v", err)
		}
		rc.mu.Lock()
		n := len(rc.reqs)
		rc.reqs = append(rc.reqs, received{header: r.Header.Clone(), body: body, path: r.URL.Path})
		rc.mu.Unlock()
		if respond != nil {
			respond(n, w, r)
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) got() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.reqs)
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

// status answers every request with code.
func status(code int) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}
