package delivery

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
)

// TestSQLiteParkedDeliveriesComeBackSoon stands for a receiver that held
// requests for a long time and then recovered. Its webhook's attempts took
// 40 minutes, so the engine parks what it cannot start within an hour's
// lease, deferred to their turns an hour and more away; once the receiver
// answers at once again, the attempts still running show it, and the
// parked deliveries are brought back and attempted without waiting for
// their turns.
func TestSQLiteParkedDeliveriesComeBackSoon(t *testing.T) {
	t.Parallel()
	const perHook, fit, parked = 4, 8, 8
	arrived, first, recovered := make(chan struct{}), make(chan struct{}), make(chan struct{})
	rc := newReceiver(t, func(n int, _ http.ResponseWriter, r *http.Request) {
		if n == 0 {
			close(arrived)
			wait(t, first)
			return
		}
		wait(t, recovered)
	})
	s := newSystem(t, rc.URL)
	e := New(Config{Store: s.db, Owner: "node-b", Platform: "Falkor", Clock: s.clock.Now, Rand: func() float64 { return 0.5 },
		Timeout: 5 * time.Second, Lease: time.Hour, Workers: 8, PerWebhook: perHook, Logger: testLogger(t)})
	s.engine = e
	s.svc = pathhook.NewService(pathhook.Config{Store: s.db, Clock: s.clock.Now, Dispatcher: e, Lease: e.LeaseOwner(), AllowHTTP: true})
	s.run(e)

	// The first attempt is held for 40 minutes, then answered.
	first0 := s.enrol("learner-0")
	<-arrived
	s.clock.Add(40 * time.Minute)
	close(first)
	s.waitAttempts(first0, 1)
	// At 40 minutes an attempt, perHook at a time, the first two rounds
	// can start within the hour's lease; the rest are parked.
	var ids []string
	for i := range fit + parked {
		ids = append(ids, s.enrol("learner-"+strconv.Itoa(i+1)))
	}
	for _, id := range ids[fit:] {
		waitFor(t, "the park of "+id, func() bool { return s.delivery(id).LeaseOwner == "" })
	}
	if next, ok, err := s.db.NextDue(context.Background()); err != nil || !ok || next.Before(s.clock.Now().Add(time.Hour)) {
		t.Fatalf("NextDue = %v, %v, %v: want the parked deliveries an hour or more away", next, ok, err)
	}

	close(recovered)
	for _, id := range ids[:fit] {
		s.waitAttempts(id, 1)
	}
	waitFor(t, "the parked deliveries", func() bool {
		e.Poke()
		return rc.count() == 1+fit+parked
	})
	for _, id := range ids {
		if d := s.waitAttempts(id, 1); d.Status != pathhook.DeliverySucceeded {
			t.Errorf("%s: status %s", id, d.Status)
		}
	}
}

// wait waits for ch to close, or for the test to end.
func wait(t *testing.T, ch chan struct{}) {
	select {
	case <-ch:
	case <-t.Context().Done():
	}
}

// parkCounter is a store that counts how often each delivery is parked.
type parkCounter struct {
	Store
	mu     sync.Mutex
	parked map[string]int
}

func (s *parkCounter) Park(ctx context.Context, owner string, leases []pathhook.Lease, until time.Time) error {
	s.mu.Lock()
	for _, l := range leases {
		s.parked[l.DeliveryID]++
	}
	s.mu.Unlock()
	return s.Store.Park(ctx, owner, leases, until)
}

// TestSQLiteSlowBacklogIsParkedAboutOnce: a webhook whose attempts take
// 20 s, four at a time, is given a backlog of 60 deliveries, four minutes
// of its work. What cannot start within the one-minute lease is parked,
// deferred to its turn at that pace, and comes back about then: 48 of the
// 60 are parked, each once, give or take the moments at which the claimer
// runs (48 to 58 parks in 120 runs, at most 3 of one delivery; the test
// allows 96 and 4). When parks could not outlast the lease, the tail was
// parked again every minute: 147 to 160 parks, up to 5 of one delivery.
func TestSQLiteSlowBacklogIsParkedAboutOnce(t *testing.T) {
	t.Parallel()
	const perHook, backlog, took = 4, 60, 20 * time.Second
	var mu sync.Mutex
	round, held := make(chan struct{}), 0
	rc := newReceiver(t, func(int, http.ResponseWriter, *http.Request) {
		mu.Lock()
		ch := round
		held++
		mu.Unlock()
		<-ch
	})
	t.Cleanup(func() { // before the receiver closes, which waits for its handlers
		mu.Lock()
		close(round)
		mu.Unlock()
	})
	holding := func() int {
		mu.Lock()
		defer mu.Unlock()
		return held
	}
	s := newSystem(t, rc.URL)
	store := &parkCounter{Store: s.db, parked: map[string]int{}}
	e := New(Config{Store: store, Owner: "node-b", Platform: "Falkor", Clock: s.clock.Now, Rand: func() float64 { return 0.5 },
		Timeout: 5 * time.Second, Lease: time.Minute, Workers: 8, PerWebhook: perHook, Logger: testLogger(t)})
	s.engine = e
	s.svc = pathhook.NewService(pathhook.Config{Store: s.db, Clock: s.clock.Now, Dispatcher: e, Lease: e.LeaseOwner(), AllowHTTP: true})
	s.run(e)
	// answer lets the receiver answer the attempts it holds, took later.
	answer := func() {
		s.clock.Add(took)
		mu.Lock()
		close(round)
		round, held = make(chan struct{}), 0
		mu.Unlock()
	}

	first := s.enrol("learner-0")
	waitFor(t, "the first attempt", func() bool { return holding() == 1 })
	answer()
	s.waitAttempts(first, 1)
	for i := range backlog {
		s.enrol("learner-" + strconv.Itoa(i+1))
	}
	// Round after round: the attempts the engine runs (perHook at a time)
	// take 20 s; when it has none, time moves on to when the next pending
	// delivery is due.
	for step := 0; rc.count() < 1+backlog || holding() > 0; step++ {
		if step > 200 {
			t.Fatalf("still %d of %d delivered after %d rounds", rc.count(), 1+backlog, step)
		}
		waitFor(t, "the engine to settle", func() bool {
			st := e.Stats()
			return st.InFlight == min(perHook, st.InFlight+st.Queued) && holding() == st.InFlight
		})
		if n := holding(); n > 0 {
			before := rc.count()
			answer()
			waitFor(t, "the answers to be taken", func() bool { return e.Stats().InFlight < n || rc.count() > before })
			e.Poke() // deferred deliveries that have come due meanwhile
			continue
		}
		next, ok, err := s.db.NextDue(context.Background())
		if err != nil || !ok {
			t.Fatalf("NextDue = %v, %v, %v with %d of %d delivered", next, ok, err, rc.count(), 1+backlog)
		}
		if d := next.Sub(s.clock.Now()); d >= 0 {
			s.clock.Add(d + time.Millisecond) // a lease ending then is over
		}
		waitFor(t, "the next attempts", func() bool {
			e.Poke()
			st := e.Stats()
			return st.InFlight+st.Queued > 0
		})
	}
	worst, total := 0, 0
	store.mu.Lock()
	for _, n := range store.parked {
		worst, total = max(worst, n), total+n
	}
	parkedDeliveries := len(store.parked)
	store.mu.Unlock()
	if parkedDeliveries == 0 || worst > 4 || total > 2*parkedDeliveries {
		t.Errorf("%d deliveries parked, %d parks, at most %d of one; want some, at most 4 of one and twice as many parks as deliveries",
			parkedDeliveries, total, worst)
	}
	t.Logf("%d of %d deliveries parked, %d parks, at most %d of one delivery", parkedDeliveries, backlog, total, worst)
}

// TestSQLiteUnknownSlowBacklogLeavesRoomForOthers: a webhook that has not
// answered yet is taken for one whose attempts take the whole timeout, so
// a large due backlog of a receiver that holds every request does not fill
// the engine's memory with jobs that cannot start within their leases.
// What cannot is parked, and another webhook's delivery, due after the
// whole backlog, is attempted while the slow receiver still holds its
// first requests. When unknown receivers counted as instant, the backlog
// filled the queue and the other delivery waited for the leases to run
// out. The backlog is parked where it lies once its first claimed jobs
// are parked, not claimed and read a batch at a time.
func TestSQLiteUnknownSlowBacklogLeavesRoomForOthers(t *testing.T) {
	t.Parallel()
	const backlog, queue = 300, 64
	held := make(chan struct{})
	slow := newReceiver(t, func(int, http.ResponseWriter, *http.Request) { wait(t, held) })
	t.Cleanup(func() { close(held) }) // before the receiver closes, which waits for its handlers
	fast := newReceiver(t, nil)
	s := newSystem(t, slow.URL)
	// The backlog and the other delivery wait in the store, due: a Service
	// without a dispatcher offers them to no engine.
	ctx := context.Background()
	svc := pathhook.NewService(pathhook.Config{Store: s.db, Clock: s.clock.Now, AllowHTTP: true})
	for i := range backlog {
		if _, err := svc.Enrol(ctx, s.org, s.pathway, pathhook.EnrolmentInput{Learner: &pathhook.Learner{ID: "learner-" + strconv.Itoa(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	s.clock.Add(time.Millisecond) // due after the backlog
	p, err := svc.CreatePathway(ctx, s.org, pathhook.PathwayInput{Name: "Fire drill"})
	if err != nil {
		t.Fatal(err)
	}
	secret, on := testSecret, true
	other := p.Webhooks[0].ID
	if _, err := svc.SetupWebhook(ctx, s.org, other, pathhook.WebhookSetup{URL: fast.URL, Secret: &secret}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SwitchWebhook(ctx, s.org, other, pathhook.WebhookSwitch{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Enrol(ctx, s.org, p.ID, pathhook.EnrolmentInput{Learner: &pathhook.Learner{ID: "learner-x"}}); err != nil {
		t.Fatal(err)
	}

	store := &claimCounter{Store: s.db}
	e := New(Config{Store: store, Owner: "node-b", Platform: "Falkor", Clock: s.clock.Now, Rand: func() float64 { return 0.5 },
		Timeout: 5 * time.Second, Lease: time.Minute, Workers: 8, PerWebhook: 2, QueueSize: queue, Logger: testLogger(t)})
	s.run(e)
	waitFor(t, "the other webhook's delivery", func() bool { return fast.count() == 1 })
	if n := store.claimed.Load(); n > 2*queue+1 {
		t.Errorf("%d deliveries claimed: want the backlog of %d parked where it lies, not claimed", n, backlog)
	}
	waitFor(t, "its attempt to end, and two of the backlog held", func() bool { return e.Stats().InFlight == 2 && slow.count() == 2 })
	// With 5 s an attempt, two at a time, the first 22 can start within
	// the minute's lease: 2 in flight and 20 queued. The rest were parked.
	if st, n := e.Stats(), slow.count(); st.InFlight != 2 || st.Queued != 20 || n != 2 {
		t.Errorf("stats %+v, slow receiver holding %d: want 2 in flight, 20 queued and 2 held", st, n)
	}
}

// claimCounter is a store that counts the deliveries ClaimDue claims.
type claimCounter struct {
	Store
	claimed atomic.Int64
}

func (s *claimCounter) ClaimDue(ctx context.Context, owner string, now, until time.Time, limit int) ([]pathhook.Job, error) {
	jobs, err := s.Store.ClaimDue(ctx, owner, now, until, limit)
	s.claimed.Add(int64(len(jobs)))
	return jobs, err
}
