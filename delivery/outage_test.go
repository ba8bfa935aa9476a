package delivery

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
)

// downStore is a fake store that, while down, answers every claim and
// write as a database out of reach does.
type downStore struct {
	*fakeStore
	down     atomic.Bool
	polls    atomic.Int64 // calls of ClaimDue and NextDue, once each has returned
	answered atomic.Int64 // those of them made while the store was up
}

var errDown = pathhook.Errorf(pathhook.EUNAVAILABLE, "the database cannot be reached right now")

// goesDown gives h's engine, not yet started, a store that goes out of
// reach, for claims and results alike, while its down is set.
func (h *harness) goesDown() *downStore {
	store := &downStore{fakeStore: h.store}
	h.store.recordErr = func([]pathhook.Result) error {
		if store.down.Load() {
			return errDown
		}
		return nil
	}
	c := h.engine.c
	c.Store = store
	h.engine = New(c)
	return store
}

func (s *downStore) ClaimDue(ctx context.Context, owner string, now, until time.Time, limit int) ([]pathhook.Job, error) {
	defer s.polls.Add(1)
	if s.down.Load() {
		return nil, errDown
	}
	defer s.answered.Add(1)
	return s.fakeStore.ClaimDue(ctx, owner, now, until, limit)
}

func (s *downStore) NextDue(ctx context.Context) (time.Time, bool, error) {
	defer s.polls.Add(1)
	if s.down.Load() {
		return time.Time{}, false, errDown
	}
	defer s.answered.Add(1)
	return s.fakeStore.NextDue(ctx)
}

// TestAnOutageLongerThanALeaseSendsNothingTwice: the result of an attempt
// waits for a store out of reach longer than the delivery's lease. Once
// the store answers, the result is recorded before any claim can lease the
// delivery again and send it a second time.
func TestAnOutageLongerThanALeaseSendsNothingTwice(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	h := setup(t, nil)
	store := h.goesDown()
	c := h.engine.c
	job := h.store.add(newJob("wh_a", 1, rc.URL), c.Lease)
	store.down.Store(true)
	h.start()
	h.engine.Offer(context.Background(), []pathhook.Job{job})
	waitFor(t, "the result to wait for the store", h.engine.rec.waiting.Load)
	h.clock.Add(c.Lease + time.Second) // the lease runs out meanwhile
	store.down.Store(false)
	h.engine.Poke()
	waitFor(t, "the result recorded", func() bool { return len(h.store.delivery(job.DeliveryID).attempts) > 0 })
	if n, a := rc.count(), len(h.store.delivery(job.DeliveryID).attempts); n != 1 || a != 1 {
		t.Errorf("the receiver got %d requests, and %d attempts were recorded, for one delivery whose result waited for the store", n, a)
	}
}

// TestAResultQueuedBehindTheWaitingBatchIsNotSentTwice: two results wait
// out an outage longer than their leases, the second queued behind the
// batch that the recorder retries. Claims resume only once both are
// written: the second's delivery is not leased again and sent twice.
func TestAResultQueuedBehindTheWaitingBatchIsNotSentTwice(t *testing.T) {
	t.Parallel()
	h := setup(t, func(c *Config) { c.FlushInterval = 0 }) // the default linger
	rc1 := newReceiver(t, nil)
	rc2 := newReceiver(t, func(n int, _ http.ResponseWriter, _ *http.Request) {
		// Answers once the first result waits, so as to miss its batch.
		for deadline := time.Now().Add(10 * time.Second); n == 0 && !h.engine.rec.waiting.Load() && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	})
	store := h.goesDown()
	c := h.engine.c
	j1 := h.store.add(newJob("wh_a", 1, rc1.URL), c.Lease)
	j2 := h.store.add(newJob("wh_b", 2, rc2.URL), c.Lease)
	store.down.Store(true)
	h.start()
	h.engine.Offer(context.Background(), []pathhook.Job{j1, j2})
	waitFor(t, "the second result queued behind the first's batch", func() bool {
		return h.engine.rec.waiting.Load() && len(h.engine.rec.results) == 1
	})
	h.clock.Add(c.Lease + time.Second) // both leases run out meanwhile
	store.down.Store(false)
	h.engine.Poke()
	waitFor(t, "both results recorded", func() bool {
		return len(h.store.delivery(j1.DeliveryID).attempts) > 0 && len(h.store.delivery(j2.DeliveryID).attempts) > 0
	})
	h.stop() // attempts under way end first
	if n1, n2 := rc1.count(), rc2.count(); n1 != 1 || n2 != 1 {
		t.Errorf("the receivers got %d and %d requests for one delivery each", n1, n2)
	}
}

// TestClaimsResumeOnceTheResultsOfTheOutageAreWritten: once the store
// answers, claims resume when the results added by then are written, even
// if the workers keep adding results meanwhile.
func TestClaimsResumeOnceTheResultsOfTheOutageAreWritten(t *testing.T) {
	t.Parallel()
	store := newFakeStore(time.Now)
	const extra = 50
	var jobs []pathhook.Job
	for i := range extra + 1 {
		jobs = append(jobs, store.add(newJob("wh_a", i, ""), time.Minute))
	}
	result := func(i int) pathhook.Result {
		return pathhook.Result{DeliveryID: jobs[i].DeliveryID, WebhookID: "wh_a", Status: pathhook.DeliverySucceeded,
			Attempt: pathhook.Attempt{N: 1}}
	}
	c := Config{Store: store, Owner: store.owner, Clock: time.Now, Logger: slog.New(slog.DiscardHandler),
		FlushInterval: -1, Workers: 4}
	r := newRecorder(&c)
	r.backoff = time.Millisecond
	var calls, next atomic.Int64
	var adds sync.WaitGroup
	var waitingWrites atomic.Int64 // successful writes while claims were held
	next.Store(1)
	store.recordErr = func([]pathhook.Result) error {
		if calls.Add(1) <= 3 {
			return errDown
		}
		if r.waiting.Load() {
			waitingWrites.Add(1)
		}
		// A worker adds a result while this write is under way.
		if i := int(next.Add(1) - 1); i <= extra {
			before := r.added.Load()
			adds.Go(func() { r.add(result(i), nil) })
			for r.added.Load() == before {
				time.Sleep(time.Microsecond)
			}
		}
		return nil
	}
	r.add(result(0), nil)
	done := make(chan struct{})
	go func() { defer close(done); r.run(context.Background()) }()
	deadline := time.Now().Add(10 * time.Second)
	for next.Load() <= extra && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	adds.Wait()
	r.close()
	<-done
	if n := waitingWrites.Load(); n > 2 {
		t.Errorf("claims were held through %d writes after the store answered; want at most 2 (the batch that waited, and the result added while it was written)", n)
	}
	if r.waiting.Load() {
		t.Errorf("claims still held at the end")
	}
}

// TestClaimsWaitForOtherNodesAfterAnOutage: once the store answers again
// after an outage longer than a lease, a node does not claim at once the
// deliveries whose leases ran out meanwhile: another node's results for
// them may still wait to be written. It claims them afterOutage later.
// The node finds the store out of reach either by its own polls or, busy,
// by its recorder, which stops its polls first.
func TestClaimsWaitForOtherNodesAfterAnOutage(t *testing.T) {
	t.Parallel()
	for _, recorderSawIt := range []bool{false, true} {
		rc := newReceiver(t, nil)
		h := setup(t, nil)
		store := h.goesDown()
		c := h.engine.c
		job := h.store.add(newJob("wh_b", 1, rc.URL), c.Lease)
		h.store.mu.Lock()
		h.store.deliveries[job.DeliveryID].leaseOwner = "node-b" // attempted by another node
		h.store.mu.Unlock()
		own := h.store.add(newJob("wh_a", 2, rc.URL), c.Lease)
		if recorderSawIt {
			// The engine polls while the store is up, and finds it out
			// of reach first by the result of its own attempt.
			h.start()
			waitFor(t, "a poll", func() bool { return store.answered.Load() >= 2 })
			store.down.Store(true)
			h.engine.Offer(context.Background(), []pathhook.Job{own})
			waitFor(t, "the result to wait for the store", h.engine.rec.waiting.Load)
		} else {
			store.down.Store(true)
			h.start()
			waitFor(t, "a poll of the store out of reach", func() bool { return store.polls.Load() > 0 })
		}
		h.clock.Add(c.Lease + time.Second) // node-b's lease runs out meanwhile
		answered := store.answered.Load()
		store.down.Store(false)
		h.engine.Poke()
		// The first poll that reaches the store only asks whether it
		// answers; one that claimed would have claimed first.
		waitFor(t, "a poll of the store that answers", func() bool { return store.answered.Load() > answered })
		if d := h.store.delivery(job.DeliveryID); d.leaseOwner != "node-b" {
			t.Fatalf("recorder saw it %v: claimed at once after the outage: leased to %q", recorderSawIt, d.leaseOwner)
		}
		h.clock.Add(afterOutage)
		h.engine.Poke()
		waitFor(t, "node-b's delivery sent", func() bool { return len(h.store.delivery(job.DeliveryID).attempts) > 0 })
		h.stop()
	}
}
