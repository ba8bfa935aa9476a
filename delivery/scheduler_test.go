package delivery

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
)

// handedBack is what a test scheduler has handed back to the store.
type handedBack struct {
	released []string
	parked   []fakePark
	unparked []string
}

// newTestScheduler returns a scheduler on clock whose releases, parks and
// unparks land in back.
func newTestScheduler(clock *fakeClock, perHook, capacity int, back *handedBack) *scheduler {
	return newScheduler(perHook, capacity, 5*time.Second, clock.Now,
		func(leases ...pathhook.Lease) { back.released = append(back.released, leaseIDs(leases)...) },
		func(until time.Time, leases ...pathhook.Lease) {
			back.parked = append(back.parked, fakePark{until, leaseIDs(leases)})
		},
		func(webhookID string) { back.unparked = append(back.unparked, webhookID) }, func() {})
}

// parkedIDs returns the deliveries parked so far, in order.
func (b *handedBack) parkedIDs() []string {
	var ids []string
	for _, p := range b.parked {
		ids = append(ids, p.ids...)
	}
	return ids
}

func leaseIDs(leases []pathhook.Lease) []string {
	var ids []string
	for _, l := range leases {
		ids = append(ids, l.DeliveryID)
	}
	return ids
}

// slowScheduler returns a scheduler on clock that runs one attempt per
// webhook at a time and hands back to back. Webhook id has taken 20 s for
// its first attempt and has then been given jobs 1 to 5, leased until a
// minute from the clock's start (until): at that pace three of them start
// within the lease and the other two are parked.
func slowScheduler(clock *fakeClock, back *handedBack, id string) (s *scheduler, until time.Time) {
	s = newTestScheduler(clock, 1, 100, back)
	until = clock.Now().Add(time.Minute)
	s.add([]pathhook.Job{leased(newJob(id, 0, ""), until)})
	_, h, _ := s.next()
	s.done(h, &pathhook.Result{Status: pathhook.DeliverySucceeded}, 20*time.Second)
	s.add(leasedJobs(id, 1, 5, until))
	return s, until
}

// leased returns job leased until until, for a minute: made a minute
// before.
func leased(job pathhook.Job, until time.Time) pathhook.Job {
	job.LeaseUntil, job.MadeAt = until, until.Add(-time.Minute)
	return job
}

// leasedJobs returns jobs from to last of webhook hook, leased until until.
func leasedJobs(hook string, from, last int, until time.Time) []pathhook.Job {
	var jobs []pathhook.Job
	for i := from; i <= last; i++ {
		jobs = append(jobs, leased(newJob(hook, i, ""), until))
	}
	return jobs
}

func TestSchedulerTakesWebhooksInTurn(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var back handedBack
	s := newTestScheduler(clock, 8, 100, &back)
	until := clock.Now().Add(time.Minute)
	jobs := append(leasedJobs("wh_a", 0, 2, until), leasedJobs("wh_b", 0, 2, until)...)
	s.add(jobs)
	var order []string
	for range 6 {
		job, _, ok := s.next()
		if !ok {
			t.Fatal("stopped")
		}
		order = append(order, job.DeliveryID)
	}
	want := []string{"dlv_wh_a_0", "dlv_wh_b_0", "dlv_wh_a_1", "dlv_wh_b_1", "dlv_wh_a_2", "dlv_wh_b_2"}
	if !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
}

func TestSchedulerHoldsADeliveryOnce(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var back handedBack
	s := newTestScheduler(clock, 8, 100, &back)
	job := leased(newJob("wh_a", 1, ""), clock.Now().Add(time.Minute))
	s.add([]pathhook.Job{job, job})
	s.add([]pathhook.Job{job})
	if st := s.stats(); st.Queued != 1 {
		t.Fatalf("queued %d copies of one delivery", st.Queued)
	}
	_, h, _ := s.next()
	s.add([]pathhook.Job{job}) // claimed again while in flight
	if st := s.stats(); st.Queued != 0 || st.InFlight != 1 {
		t.Fatalf("stats %+v after adding a delivery in flight", st)
	}
	s.done(h, &pathhook.Result{DeliveryID: job.DeliveryID, Status: pathhook.DeliverySucceeded}, time.Millisecond)
	s.add([]pathhook.Job{job}) // done: it may come again (a redelivery)
	if st := s.stats(); st.Queued != 1 {
		t.Fatalf("stats %+v after the attempt ended", st)
	}
}

// TestSchedulerTakesTheNewerLeaseOfAQueuedDelivery claims a delivery again
// while it waits in memory, its lease about to run out (the store renews
// it): the job attempted is the one with the new lease, not one dropped as
// stale while the store holds the delivery for this node.
func TestSchedulerTakesTheNewerLeaseOfAQueuedDelivery(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var back handedBack
	s := newTestScheduler(clock, 1, 100, &back)
	now := clock.Now()
	first := leased(newJob("wh_a", 1, ""), now.Add(time.Minute))
	queued := leased(newJob("wh_a", 2, ""), now.Add(time.Minute))
	s.add([]pathhook.Job{first, queued})
	_, h, _ := s.next() // first is in flight; queued waits
	clock.Add(50 * time.Second)
	renewed := leased(queued, clock.Now().Add(time.Minute))
	renewed.Attempt = 2
	s.add([]pathhook.Job{renewed})
	clock.Add(5 * time.Second) // past the old lease's last start
	s.done(h, &pathhook.Result{DeliveryID: first.DeliveryID, Status: pathhook.DeliverySucceeded}, time.Second)
	// Another webhook's job, for next to take if it dropped the delivery.
	s.add([]pathhook.Job{leased(newJob("wh_b", 1, ""), clock.Now().Add(time.Minute))})
	job, _, _ := s.next()
	if job.DeliveryID != queued.DeliveryID || !job.LeaseUntil.Equal(renewed.LeaseUntil) || job.Attempt != 2 {
		t.Fatalf("attempted %s attempt %d leased until %v, want %s attempt 2 until %v",
			job.DeliveryID, job.Attempt, job.LeaseUntil, queued.DeliveryID, renewed.LeaseUntil)
	}
	if len(back.released) != 0 {
		t.Errorf("released %v", back.released)
	}
}

// TestSchedulerBreakerHoldsAWebhookWaitingItsTurn trips a webhook's breaker
// (breakAfter failures in a row) while it waits in the ready list: no
// second attempt starts beside the one in flight.
func TestSchedulerBreakerHoldsAWebhookWaitingItsTurn(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var back handedBack
	s := newTestScheduler(clock, 8, 100, &back)
	until := clock.Now().Add(time.Minute)
	jobs := leasedJobs("wh_a", 0, 19, until)
	s.add(jobs)
	var h *hook
	for range breakAfter + 1 {
		_, h, _ = s.next()
	}
	for i := range breakAfter {
		s.done(h, &pathhook.Result{DeliveryID: jobs[i].DeliveryID, Status: pathhook.DeliveryPending}, time.Millisecond)
	}
	// One attempt is in flight and the webhook is in the ready list,
	// before another webhook with a job.
	other := leased(newJob("wh_b", 0, ""), until)
	s.add([]pathhook.Job{other})
	if job, _, _ := s.next(); job.DeliveryID != other.DeliveryID {
		t.Fatalf("took %s beside the attempt in flight of a webhook whose breaker tripped, want %s", job.DeliveryID, other.DeliveryID)
	}
	s.done(h, &pathhook.Result{DeliveryID: jobs[breakAfter].DeliveryID, Status: pathhook.DeliveryPending}, time.Millisecond)
	if job, _, _ := s.next(); job.DeliveryID != jobs[breakAfter+1].DeliveryID {
		t.Fatalf("took %s once the attempt ended, want %s", job.DeliveryID, jobs[breakAfter+1].DeliveryID)
	}
}

func TestSchedulerReleasesOnlyLeasesItStillHolds(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var back handedBack
	s := newTestScheduler(clock, 8, 1, &back)
	now := clock.Now()
	s.add([]pathhook.Job{
		leased(newJob("wh_a", 1, ""), now.Add(time.Minute)),
		leased(newJob("wh_a", 2, ""), now.Add(time.Minute)),  // over capacity: released
		leased(newJob("wh_a", 3, ""), now.Add(time.Second)),  // over capacity, lease ending: left to run out
		leased(newJob("wh_a", 4, ""), now.Add(-time.Second)), // over capacity, lease gone: left alone
	})
	if want := []string{"dlv_wh_a_2"}; !slices.Equal(back.released, want) {
		t.Fatalf("released %v, want %v", back.released, want)
	}
	// The queued job goes stale: it is released while the lease lasts...
	clock.Add(time.Minute - 4*time.Second)
	s.add([]pathhook.Job{leased(newJob("wh_b", 5, ""), clock.Now().Add(-time.Second))}) // full: ignored
	go func() {
		time.Sleep(10 * time.Millisecond)
		s.stop()
	}()
	if _, _, ok := s.next(); ok {
		t.Fatal("a stale job was handed out")
	}
	if want := []string{"dlv_wh_a_2", "dlv_wh_a_1"}; !slices.Equal(back.released, want) {
		t.Fatalf("released %v, want %v", back.released, want)
	}
}

func TestSchedulerBoundsEachWebhook(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var back handedBack
	s := newTestScheduler(clock, 2, 100, &back)
	until := clock.Now().Add(time.Minute)
	s.add(leasedJobs("wh_a", 0, 19, until))
	_, h1, _ := s.next()
	_, h2, _ := s.next()
	if st := s.stats(); st.InFlight != 2 || len(s.ready) != 0 {
		t.Fatalf("stats %+v, ready %d: want 2 in flight and the webhook waiting", st, len(s.ready))
	}
	failed := &pathhook.Result{Status: pathhook.DeliveryPending}
	for range breakAfter - 1 {
		s.done(h1, failed, time.Millisecond)
		_, h1, _ = s.next()
	}
	// The fifth failure in a row: one attempt at a time until a success.
	s.done(h1, failed, time.Millisecond)
	if st := s.stats(); st.InFlight != 1 || len(s.ready) != 0 {
		t.Fatalf("stats %+v, ready %d after %d failures: want 1 in flight, none ready", st, len(s.ready), breakAfter)
	}
	s.done(h2, failed, time.Millisecond)
	_, h, _ := s.next()
	if st := s.stats(); st.InFlight != 1 || len(s.ready) != 0 {
		t.Fatalf("stats %+v, ready %d: want 1 in flight, none ready", st, len(s.ready))
	}
	s.done(h, &pathhook.Result{Status: pathhook.DeliverySucceeded}, time.Millisecond)
	s.next()
	s.next()
	if st := s.stats(); st.InFlight != 2 {
		t.Fatalf("stats %+v after a success: want 2 in flight", st)
	}
}

func TestSchedulerParksWhatASlowWebhookCannotReach(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var back handedBack
	s, until := slowScheduler(clock, &back, "wh_slow")
	// At 20 s an attempt, one at a time, only the first three start, at
	// 0, 20 and 40 s, early enough for a 60 s lease with a 5 s timeout.
	if st := s.stats(); st.Queued != 3 || len(back.released) != 0 {
		t.Fatalf("stats %+v, released %v: want 3 queued, the rest parked", st, back.released)
	}
	// The rest are deferred to their turns, one after another at the
	// webhook's pace: at 60 and 80 s.
	now := clock.Now()
	want := []fakePark{{now.Add(60 * time.Second), []string{"dlv_wh_slow_4"}}, {now.Add(80 * time.Second), []string{"dlv_wh_slow_5"}}}
	if fmt.Sprint(back.parked) != fmt.Sprint(want) {
		t.Fatalf("parked %v, want %v", back.parked, want)
	}
	// More of them later are deferred behind those, in steps of 10 s, and
	// never more than maxDefer ahead.
	back.parked = nil
	s.add(leasedJobs("wh_slow", 6, 9, until))
	want = []fakePark{{now.Add(100 * time.Second), []string{"dlv_wh_slow_6"}}, {now.Add(120 * time.Second), []string{"dlv_wh_slow_7"}},
		{now.Add(140 * time.Second), []string{"dlv_wh_slow_8"}}, {now.Add(160 * time.Second), []string{"dlv_wh_slow_9"}}}
	if fmt.Sprint(back.parked) != fmt.Sprint(want) {
		t.Fatalf("parked %v, want %v", back.parked, want)
	}
	s.hooks["wh_slow"].deferredUntil = now.Add(3 * maxDefer)
	s.add([]pathhook.Job{leased(newJob("wh_slow", 10, ""), until)})
	if last := back.parked[len(back.parked)-1]; !last.until.Equal(now.Add(maxDefer)) {
		t.Fatalf("parked %v: want the last deferred to %v", back.parked, now.Add(maxDefer))
	}
	// Capped, they are rounded down to deferStep as well, so that a run of
	// them is parked in one statement.
	clock.Add(3 * time.Second)
	back.parked = nil
	s.add(leasedJobs("wh_slow", 11, 12, until))
	want = []fakePark{{clock.Now().Add(maxDefer).Truncate(deferStep), []string{"dlv_wh_slow_11", "dlv_wh_slow_12"}}}
	if fmt.Sprint(back.parked) != fmt.Sprint(want) {
		t.Fatalf("parked %v, want %v", back.parked, want)
	}
	if len(back.unparked) != 0 {
		t.Fatalf("unparked %v while the webhook stayed slow", back.unparked)
	}
}

// TestSchedulerTakesAnUnknownWebhookForSlow: until one of its attempts
// has ended, a webhook that holds its share of memory is planned for as if
// each attempt took the whole timeout; its first quick answer brings back
// what that parked.
func TestSchedulerTakesAnUnknownWebhookForSlow(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var back handedBack
	s := newTestScheduler(clock, 2, 100, &back)
	until := clock.Now().Add(time.Minute)
	// At 5 s an attempt, two at a time, 22 start within the minute's lease
	// with its 5 s timeout and margin.
	s.add(leasedJobs("wh_a", 0, 29, until))
	parked := back.parkedIDs()
	if st := s.stats(); st.Queued != 22 || len(parked) != 8 || len(back.released) != 0 {
		t.Fatalf("stats %+v, parked %v, released %v: want 22 queued and 8 parked", st, back.parked, back.released)
	}
	_, h, _ := s.next()
	s.done(h, &pathhook.Result{Status: pathhook.DeliverySucceeded}, time.Millisecond)
	if !slices.Equal(back.unparked, []string{"wh_a"}) {
		t.Fatalf("unparked %v after a quick first answer, want wh_a", back.unparked)
	}
	// Measured, it takes what its pace allows.
	back.parked = nil
	s.add(leasedJobs("wh_a", 30, 99, until))
	if st := s.stats(); st.Queued != 91 || len(back.parked) != 0 {
		t.Fatalf("stats %+v, parked %v: want all 91 queued", st, back.parked)
	}
}

// TestSchedulerLetsUnknownWebhooksShareMemory: a webhook not yet heard
// from is taken for slow only once it holds a sixteenth of the memory, so
// many of them offered jobs at once keep them in memory, and one alone
// cannot fill it.
func TestSchedulerLetsUnknownWebhooksShareMemory(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var back handedBack
	s := newTestScheduler(clock, 2, 160, &back) // a share of 10
	// Leased for 20 s: at 5 s an attempt, two at a time, 6 would start.
	until := clock.Now().Add(20 * time.Second)
	for i := range 10 {
		s.add(leasedJobs(fmt.Sprintf("wh_%d", i), 0, 9, until))
	}
	if st := s.stats(); st.Queued != 100 || len(back.parked) != 0 {
		t.Fatalf("stats %+v, parked %v: want all 100 queued", st, back.parked)
	}
	s.add(leasedJobs("wh_0", 10, 11, until))
	parked := back.parkedIDs()
	if want := []string{"dlv_wh_0_10", "dlv_wh_0_11"}; !slices.Equal(parked, want) {
		t.Fatalf("parked %v, want %v once wh_0 holds its share", parked, want)
	}
}

// TestSchedulerBooksTurnsForDeliveriesParkedWhereTheyLie: the deliveries
// the store parks where they lie get the webhook's next turns one after
// another, and jobs parked later come after them; if the webhook's parked
// deliveries were brought back meanwhile, these are too.
func TestSchedulerBooksTurnsForDeliveriesParkedWhereTheyLie(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var back handedBack
	s, until := slowScheduler(clock, &back, "wh_a") // 20 s an attempt, one at a time
	plan, ok := s.parkTurns("wh_a")
	if from := plan.turns.From; !ok || plan.turns.Step != 20*time.Second || !from.After(clock.Now()) {
		t.Fatalf("parkTurns = %+v, %v; want turns 20 s apart, from after now", plan, ok)
	}
	s.parkedDue("wh_a", 10, plan)
	back.parked = nil
	s.add([]pathhook.Job{leased(newJob("wh_a", 20, ""), until)})
	if want := plan.turns.At(10).Truncate(deferStep); len(back.parked) != 1 || back.parked[0].until.Before(want) {
		t.Fatalf("parked %v; want the next job after the 10 turns booked, at %v or later", back.parked, want)
	}
	// Turns that the store parked nothing for are not booked: the next
	// park starts where the last one began.
	plan, _ = s.parkTurns("wh_a")
	s.parkedDue("wh_a", 0, plan)
	if again, _ := s.parkTurns("wh_a"); !again.turns.From.Equal(plan.turns.From) {
		t.Errorf("turns from %v after a park of none, want %v again", again.turns.From, plan.turns.From)
	}
	// Turns never go past maxDefer from now: those after pile up there,
	// and no turn is booked past it.
	plan, _ = s.parkTurns("wh_a")
	if last := clock.Now().Add(maxDefer); plan.turns.At(1000).After(last) {
		t.Errorf("the 1000th turn of %+v is after maxDefer", plan.turns)
	}
	s.parkedDue("wh_a", 1000, plan)
	if last := clock.Now().Add(maxDefer); s.hooks["wh_a"].deferredUntil.After(last) {
		t.Errorf("turns booked until %v, past maxDefer (%v)", s.hooks["wh_a"].deferredUntil, last)
	}
	// Brought back meanwhile (undefer, before or after parkTurns): these
	// are unparked too. Forgotten without an unpark (all due), they stay.
	plan, _ = s.parkTurns("wh_a")
	s.unparkHook(s.hooks["wh_a"])
	s.hooks["wh_a"].forgetDeferred()
	s.add([]pathhook.Job{leased(newJob("wh_a", 30, ""), until)}) // parked after the unpark
	if s.hooks["wh_a"].deferredUntil.IsZero() {
		t.Fatal("the job added after the unpark was not parked")
	}
	back.unparked = nil
	s.parkedDue("wh_a", 10, plan)
	if !slices.Equal(back.unparked, []string{"wh_a"}) {
		t.Errorf("unparked %v, want wh_a: its deliveries were parked after the rest came back", back.unparked)
	}
	if h := s.hooks["wh_a"]; !h.deferredUntil.IsZero() {
		t.Errorf("turns booked until %v after the unpark, want none: every parked delivery came back", h.deferredUntil)
	}
	// Nothing is parked where it lies while an unpark is under way: it
	// would bring them back while their turns are booked.
	if _, ok := s.parkTurns("wh_a"); ok {
		t.Error("parkTurns planned while two unparks were under way")
	}
	s.unparked("wh_a")
	if _, ok := s.parkTurns("wh_a"); ok {
		t.Error("parkTurns planned while an unpark was under way")
	}
	s.unparked("wh_a")
	plan, _ = s.parkTurns("wh_a")
	back.unparked = nil
	s.parkedDue("wh_a", 10, plan)
	if h := s.hooks["wh_a"]; len(back.unparked) != 0 || !h.deferredFrom.Equal(plan.turns.From) || !h.deferredUntil.After(plan.turns.From) {
		t.Errorf("unparked %v, deferred from %v until %v; want the 10 booked as a new run from %v",
			back.unparked, h.deferredFrom, h.deferredUntil, plan.turns.From)
	}
}

// TestSchedulerBooksNoTurnPastMaxDefer: a backlog of more than maxDefer
// of work piles up at maxDefer, and the turns booked stop there too, so
// that when the pile comes back what does not fit is parked for the turns
// that follow at once, not behind turns booked for jobs that came back
// with the pile.
func TestSchedulerBooksNoTurnPastMaxDefer(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var back handedBack
	s, until := slowScheduler(clock, &back, "wh_a") // 20 s an attempt, one at a time
	s.add(leasedJobs("wh_a", 10, 400, until))       // 2 h 10 min of work
	if last := clock.Now().Add(maxDefer); s.hooks["wh_a"].deferredUntil.After(last) {
		t.Fatalf("turns booked until %v, past maxDefer (%v)", s.hooks["wh_a"].deferredUntil, last)
	}
	clock.Add(maxDefer)
	back.parked = nil
	s.add(leasedJobs("wh_a", 1000, 1100, clock.Now().Add(time.Minute)))
	if len(back.parked) == 0 || back.parked[0].until.After(clock.Now().Add(2*time.Minute)) {
		t.Fatalf("parked %v: want the pile parked from the turns that follow at once", back.parked)
	}
}

// TestSchedulerUnparksAWebhookThatRecovers: once the attempts still running
// for a webhook with parked jobs take half the time they took when the jobs
// were parked, the scheduler brings its parked deliveries back, once.
func TestSchedulerUnparksAWebhookThatRecovers(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var back handedBack
	s, until := slowScheduler(clock, &back, "wh_a")
	if len(back.parked) == 0 {
		t.Fatal("nothing parked")
	}
	// Each fast attempt moves the average an eighth of the way: 20 s,
	// then 17.5, 15.3, 13.4, 11.7, 10.3, and 9.0 s at the sixth.
	for i := range 6 {
		_, h, ok := s.next()
		if !ok {
			t.Fatalf("attempt %d: no job", i)
		}
		s.done(h, &pathhook.Result{Status: pathhook.DeliverySucceeded}, time.Millisecond)
		if want := i == 5; (len(back.unparked) == 1) != want {
			t.Fatalf("after %d fast attempts: unparked %v", i+1, back.unparked)
		}
		if i < 3 {
			s.add([]pathhook.Job{leased(newJob("wh_a", 10+i, ""), until)}) // keep the queue going
		}
	}
	if len(back.unparked) != 1 || back.unparked[0] != "wh_a" {
		t.Fatalf("unparked %v, want wh_a once", back.unparked)
	}
}

// TestSchedulerUnparksAnIdleWebhook: a webhook that runs out of work before
// its parked jobs come back has them brought back, even though it is as
// slow as before.
func TestSchedulerUnparksAnIdleWebhook(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var back handedBack
	s, until := slowScheduler(clock, &back, "wh_a")
	if st := s.stats(); st.Queued != 3 || len(back.parked) == 0 {
		t.Fatalf("stats %+v, parked %v: want 3 queued, the rest parked", st, back.parked)
	}
	for i := range 3 {
		_, h, _ := s.next()
		s.done(h, &pathhook.Result{Status: pathhook.DeliverySucceeded}, 20*time.Second)
		if want := i == 2; (len(back.unparked) == 1) != want {
			t.Fatalf("after %d slow attempts: unparked %v", i+1, back.unparked)
		}
	}
	// Parked again, then the engine stops: what it deferred comes back.
	s.add([]pathhook.Job{leased(newJob("wh_a", 6, ""), until), leased(newJob("wh_a", 7, ""), until)})
	s.next()
	s.add([]pathhook.Job{leased(newJob("wh_a", 8, ""), until), leased(newJob("wh_a", 9, ""), until),
		leased(newJob("wh_a", 10, ""), until), leased(newJob("wh_a", 11, ""), until)})
	s.stop()
	if len(back.unparked) != 2 {
		t.Fatalf("unparked %v after the stop, want wh_a twice", back.unparked)
	}
}

// TestSchedulerWaitsOutAShortGap: a webhook that runs out of work less
// than deferStep before its first parked job comes back waits for it.
// Bringing them all back would rewrite every parked delivery, for a gap
// that the rounding of the turns to deferStep makes.
func TestSchedulerWaitsOutAShortGap(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var back handedBack
	s, _ := slowScheduler(clock, &back, "wh_a")
	ok := &pathhook.Result{Status: pathhook.DeliverySucceeded}
	for range 2 {
		_, h, _ := s.next()
		s.done(h, ok, 20*time.Second)
	}
	_, h, _ := s.next()
	clock.Add(h.deferredFrom.Sub(clock.Now()) - deferStep/2)
	s.done(h, ok, 20*time.Second)
	if len(back.unparked) != 0 {
		t.Errorf("unparked %v, %v before the first parked job comes back", back.unparked, deferStep/2)
	}
}

// TestSchedulerReplacesChangedWebhooks drops and hands back the queued jobs
// of a changed webhook, or of every webhook, and hands back as they come
// the jobs made before the change.
func TestSchedulerReplacesChangedWebhooks(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var back handedBack
	s := newTestScheduler(clock, 8, 100, &back)
	until := clock.Now().Add(time.Minute)
	a, b := leased(newJob("wh_a", 1, ""), until), leased(newJob("wh_b", 1, ""), until)
	s.add([]pathhook.Job{a, b})
	late := leased(newJob("wh_a", 2, ""), until) // made before the change, offered after it
	clock.Add(time.Millisecond)
	s.replace("wh_a")
	if !slices.Equal(back.released, []string{a.DeliveryID}) || s.stats().Queued != 1 {
		t.Fatalf("after replacing wh_a: released %v, stats %+v", back.released, s.stats())
	}
	s.add([]pathhook.Job{late})
	fresh := leased(newJob("wh_a", 3, ""), clock.Now().Add(time.Minute)) // made in the change's instant
	s.add([]pathhook.Job{fresh})
	clock.Add(time.Millisecond)
	fresh = leased(newJob("wh_a", 4, ""), clock.Now().Add(time.Minute))
	s.add([]pathhook.Job{fresh})
	if !slices.Equal(back.released, []string{a.DeliveryID, late.DeliveryID}) || s.stats().Queued != 3 {
		t.Fatalf("after jobs made before and after the change: released %v, stats %+v", back.released, s.stats())
	}
	clock.Add(time.Millisecond)
	s.replace()
	if len(back.released) != 5 || s.stats().Queued != 0 {
		t.Fatalf("after replacing every webhook: released %v, stats %+v", back.released, s.stats())
	}
	// A webhook this scheduler had not seen counts as changed too.
	unseen := leased(newJob("wh_c", 1, ""), clock.Now().Add(time.Minute-time.Millisecond))
	s.add([]pathhook.Job{unseen})
	if len(back.released) != 6 || back.released[5] != unseen.DeliveryID {
		t.Fatalf("a job of an unseen webhook made before every webhook changed: released %v", back.released)
	}
	// When a job was made is its own, whatever the length of its lease.
	long := newJob("wh_a", 5, "")
	long.LeaseUntil, long.MadeAt = clock.Now().Add(time.Hour), clock.Now().Add(-time.Millisecond)
	s.add([]pathhook.Job{long})
	if len(back.released) != 7 || back.released[6] != long.DeliveryID {
		t.Fatalf("a job made before the change under a longer lease: released %v", back.released)
	}
}

// TestSchedulerForgetsDisabledWebhooks drops the queued jobs of webhooks
// the engine disabled, whose deliveries the store has failed, and hands
// back a job made before the disable that comes after it.
func TestSchedulerForgetsDisabledWebhooks(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var back handedBack
	s := newTestScheduler(clock, 8, 100, &back)
	until := clock.Now().Add(time.Minute)
	s.add(leasedJobs("wh_a", 0, 1, until))
	late := leased(newJob("wh_a", 2, ""), until) // made before the disable, offered after it
	clock.Add(time.Millisecond)
	s.forget([]string{"wh_a"})
	if s.stats().Queued != 0 || len(back.released) != 0 {
		t.Fatalf("after the disable: released %v, stats %+v", back.released, s.stats())
	}
	s.add([]pathhook.Job{late})
	if s.stats().Queued != 0 || !slices.Equal(back.released, []string{late.DeliveryID}) {
		t.Fatalf("a job made before the disable: released %v, stats %+v", back.released, s.stats())
	}
}
