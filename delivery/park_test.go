package delivery

import (
	"context"
	"net/http"
	"strconv"
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
