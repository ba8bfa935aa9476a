package delivery

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
)

// TestBacklogDrainsWhenTheReceiverReturns piles up a backlog many times
// larger than the engine holds in memory while the receiver is down, then
// brings the receiver back: every delivery arrives, the queue empties, and
// the engine never held more than its bound.
func TestBacklogDrainsWhenTheReceiverReturns(t *testing.T) {
	t.Parallel()
	const backlog, queueSize = 400, 40
	var (
		down     atomic.Bool
		mu       sync.Mutex
		received = map[string]int{}
		failed   atomic.Int64
	)
	down.Store(true)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			failed.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		received[r.Header.Get("Falkor-Webhook-Id")]++
		mu.Unlock()
	}))
	defer rc.Close()

	s := newSystem(t, rc.URL)
	// The engine under test holds at most queueSize jobs; the Service
	// hands its deliveries to it.
	e := New(Config{Store: s.db, Owner: "node-b", Platform: "Falkor", Clock: s.clock.Now, Rand: func() float64 { return 0.5 },
		Timeout: 5 * time.Second, Workers: 8, QueueSize: queueSize, Logger: testLogger(t)})
	s.engine = e
	s.svc = pathhook.NewService(pathhook.Config{Store: s.db, Clock: s.clock.Now, Dispatcher: e, Lease: e.LeaseOwner(), AllowHTTP: true})
	s.run(e)
	var maxQueued atomic.Int64
	watching := make(chan struct{})
	go func() {
		for {
			select {
			case <-watching:
				return
			case <-time.After(time.Millisecond):
				if st := e.Stats(); int64(st.Queued) > maxQueued.Load() {
					maxQueued.Store(int64(st.Queued))
				}
			}
		}
	}()
	defer close(watching)

	for i := range backlog {
		s.enrol("learner-" + strconv.Itoa(i))
	}
	// Every delivery is tried once and fails while the receiver is down.
	waitFor(t, "a first attempt of every delivery", func() bool {
		e.Poke()
		return failed.Load() >= backlog
	})
	pending, _, err := s.db.QueueStats(context.Background())
	if err != nil || pending != backlog {
		t.Fatalf("pending deliveries while down: %d (%v), want %d", pending, err, backlog)
	}

	down.Store(false)
	s.clock.Add(time.Minute) // past the first retry delay
	waitFor(t, "the backlog to drain", func() bool {
		// Time goes on: an attempt that spanned the jump above looks a
		// minute long, and the jobs the engine parks on that account
		// come back when their park ends.
		s.clock.Add(time.Second)
		e.Poke()
		pending, _, err := s.db.QueueStats(context.Background())
		return err == nil && pending == 0
	})
	mu.Lock()
	defer mu.Unlock()
	if len(received) != backlog {
		t.Fatalf("received %d distinct events, want %d", len(received), backlog)
	}
	if m := maxQueued.Load(); m > queueSize {
		t.Fatalf("the engine held %d jobs in memory, more than its bound of %d", m, queueSize)
	}
}
