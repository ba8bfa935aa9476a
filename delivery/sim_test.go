package delivery

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
)

// TestSimulatedHoursBesideASlowBacklog runs the engine's claims (poll) and
// its scheduler for three hours of a simulated clock, with a store of its
// own that keeps deliveries as the SQL stores do, and attempts that take
// the time the receivers would. It stands for the case that the fairness
// work is about: a receiver that answers in 5 s has 20,000 deliveries due
// when the engine starts, and another webhook's deliveries fail once and
// are retried a second later. Over the hours, the slow webhook is to get
// its PerWebhook attempts every 5 s throughout, without an attempt whose
// lease did not cover it, and the other's retries are to start on time.
// Earlier versions fail it: the retries waited 27 s for memory full of the
// slow webhook's jobs (43 s here, before 77dd59e); turns booked past the
// hour left the slow webhook idle for a quarter of every hour (10,264
// attempts in three hours, before a5daed6); and each park of its due
// deliveries that found none booked a turn all the same, so that in the
// second hour it got every other turn (16,073, before this test).
func TestSimulatedHoursBesideASlowBacklog(t *testing.T) {
	t.Parallel()
	const (
		backlog  = 20000
		perHook  = 8
		slow     = 5 * time.Second
		fast     = 10 * time.Millisecond
		retryIn  = time.Second
		retried  = 50
		duration = 3 * time.Hour
	)
	clock := newFakeClock()
	start := clock.Now()
	st := newSimStore()
	for i := range backlog {
		st.put(fmt.Sprintf("a-%05d", i), "wh_slow", start.Add(-time.Minute))
	}
	sim := newSim(t, st, clock, perHook, retryIn, func(job *pathhook.Job) (time.Duration, bool) {
		if job.WebhookID == "wh_slow" {
			return slow, true
		}
		return fast, job.Attempt > 1 // the first attempt fails
	})
	// The other webhook's deliveries are made a second in, and handed to
	// the engine at once, as the Service does.
	sim.at(start.Add(time.Second), func(now time.Time) {
		var jobs []pathhook.Job
		for i := range retried {
			jobs = append(jobs, st.offer(fmt.Sprintf("b-%02d", i), "wh_other", now, now.Add(sim.e.c.Lease)))
		}
		sim.e.Offer(context.Background(), jobs)
	})
	sim.run(start.Add(duration))

	// The slow webhook: 8 attempts every 5 s, hour after hour.
	perHour := int(time.Hour / slow * perHook)
	for hour := range int(duration / time.Hour) {
		from := start.Add(time.Duration(hour) * time.Hour)
		n := sim.started("wh_slow", from, from.Add(time.Hour))
		if n < perHour*95/100 {
			t.Errorf("hour %d: %d attempts to the slow webhook, want about %d (%d at a time, %v each)", hour+1, n, perHour, perHook, slow)
		}
	}
	if most := sim.mostAtOnce["wh_slow"]; most > perHook {
		t.Errorf("%d attempts to the slow webhook at once, more than its %d", most, perHook)
	}
	// The other webhook: every delivery attempted twice, the retry on time.
	if n := st.count("wh_other", pathhook.DeliverySucceeded); n != retried {
		t.Errorf("%d of the other webhook's %d deliveries succeeded", n, retried)
	}
	var late []time.Duration
	for _, a := range sim.attempts {
		if a.job.WebhookID == "wh_other" && a.job.Attempt == 2 {
			late = append(late, a.start.Sub(a.due))
		}
	}
	slices.Sort(late)
	if len(late) != retried {
		t.Fatalf("%d retries of the other webhook, want %d", len(late), retried)
	}
	if worst := late[len(late)-1]; worst > pollInterval+time.Second {
		t.Errorf("retries started up to %v late (median %v), want within about a poll (%v)", worst, late[len(late)/2], pollInterval)
	}
	// Bringing parked deliveries back rewrites every one of them: it is
	// for a receiver that got faster or ran out of work, which here is
	// its first answer (5 s, not the timeout the engine took it for) and
	// the start, when the jobs it held as a webhook not yet heard from
	// could not all start within their leases.
	if len(sim.unparks) > 2 {
		t.Errorf("parked deliveries brought back %d times, at %v; want twice at most", len(sim.unparks), sim.unparks)
	}
	// Each delivery taken from the store by a claim costs a write and a
	// read of its payload: parking the slow webhook's backlog where it
	// lies is to keep it out of the claims, not to claim it over and over.
	if claimed, attempts := st.rows.claimed, len(sim.attempts); claimed > 2*attempts {
		t.Errorf("%d deliveries claimed for %d attempts", claimed, attempts)
	}
	// Nothing lost, nothing sent twice: each of the slow webhook's
	// deliveries has succeeded once or is still pending.
	sent := map[string]int{}
	for _, a := range sim.attempts {
		if sent[a.job.DeliveryID]++; a.job.WebhookID == "wh_slow" && sent[a.job.DeliveryID] > 1 {
			t.Errorf("%s sent %d times", a.job.DeliveryID, sent[a.job.DeliveryID])
		}
	}
	if n := st.count("wh_slow", pathhook.DeliverySucceeded) + st.count("wh_slow", pathhook.DeliveryPending); n != backlog {
		t.Errorf("the slow webhook has %d deliveries succeeded or pending, want all %d", n, backlog)
	}
	t.Logf("%d attempts to the slow webhook in %v; the other's retries %v late at the median, %v at most; %d polls, unparks at %v; rows written %+v",
		sim.started("wh_slow", start, start.Add(duration)), duration, late[len(late)/2], late[len(late)-1], sim.polls, sim.unparks, st.rows)
}

// TestSimulatedRecoveryDrainsTheBacklog: a receiver that took 5 s an
// attempt, with 20,000 deliveries due, answers in 20 ms from half an hour
// on. Its parked deliveries come back at once (undefer), not at the turns
// booked for a slow receiver over the next hour, and the backlog drains in
// minutes, each delivery sent once.
func TestSimulatedRecoveryDrainsTheBacklog(t *testing.T) {
	t.Parallel()
	const backlog = 20000
	clock := newFakeClock()
	start := clock.Now()
	recovered := start.Add(30 * time.Minute)
	st := newSimStore()
	for i := range backlog {
		st.put(fmt.Sprintf("a-%05d", i), "wh_a", start.Add(-time.Minute))
	}
	sim := newSim(t, st, clock, 8, time.Second, func(*pathhook.Job) (time.Duration, bool) {
		if clock.Now().Before(recovered) {
			return 5 * time.Second, true
		}
		return 20 * time.Millisecond, true
	})
	sim.run(recovered.Add(10 * time.Minute))

	before := sim.started("wh_a", start, recovered)
	if n := st.count("wh_a", pathhook.DeliverySucceeded); n != backlog {
		t.Errorf("%d of %d delivered 10 minutes after the receiver recovered (%d before it did)", n, backlog, before)
	}
	if n := len(sim.attempts); n != backlog {
		t.Errorf("%d attempts for %d deliveries", n, backlog)
	}
	last := sim.attempts[len(sim.attempts)-1].end
	t.Logf("%d attempts in the slow half hour; the rest done %v after the recovery", before, last.Sub(recovered))
}

// sim runs an engine's claims and scheduler on a simulated clock: no
// goroutines, no timers, and each attempt ends when the receiver it stands
// for would have answered.
type sim struct {
	t       *testing.T
	e       *Engine
	clock   *fakeClock
	store   *simStore
	answer  func(*pathhook.Job) (took time.Duration, ok bool)
	retryIn time.Duration // after a failed attempt
	woken   bool          // the scheduler made room a claim waits for
	flights []simAttempt
	events  []simEvent
	// attempts are those started, in order.
	attempts   []simAttempt
	atOnce     map[string]int
	mostAtOnce map[string]int
	polls      int
	unparks    []time.Time // when a webhook's parked deliveries were brought back
	unparked   []string    // unparks done that the scheduler is yet to be told of
}

type simAttempt struct {
	job        pathhook.Job
	h          *hook
	due        time.Time // when its delivery was due
	start, end time.Time
	ok         bool
}

type simEvent struct {
	at time.Time
	do func(now time.Time)
}

// newSim returns an engine on st whose hand-backs (release, park, unpark)
// reach st at once, rather than through the recorder's goroutine.
func newSim(t *testing.T, st *simStore, clock *fakeClock, perHook int, retryIn time.Duration,
	answer func(*pathhook.Job) (time.Duration, bool)) *sim {
	s := &sim{t: t, clock: clock, store: st, answer: answer, retryIn: retryIn, atOnce: map[string]int{}, mostAtOnce: map[string]int{}}
	e := New(Config{Store: st, Owner: st.owner, Clock: clock.Now, PerWebhook: perHook})
	e.sched = newScheduler(e.c.PerWebhook, e.c.QueueSize, e.c.Timeout, clock.Now,
		func(leases ...pathhook.Lease) { st.hand(leases, time.Time{}) },
		func(until time.Time, leases ...pathhook.Lease) { st.hand(leases, until) },
		func(webhookID string) {
			s.unparks = append(s.unparks, clock.Now())
			st.unpark(webhookID)
			s.unparked = append(s.unparked, webhookID) // told once the scheduler's lock is free
		},
		func() { s.woken = true })
	s.e = e
	return s
}

// at has do run when the clock reaches t.
func (s *sim) at(t time.Time, do func(now time.Time)) {
	s.events = append(s.events, simEvent{t, do})
}

// run goes on until the clock reaches end.
func (s *sim) run(end time.Time) {
	ctx := context.Background()
	nextPoll := s.clock.Now()
	for {
		for _, id := range s.unparked {
			s.e.sched.unparked(id)
		}
		s.unparked = nil
		now := s.clock.Now()
		for i := 0; i < len(s.events); i++ {
			if !s.events[i].at.After(now) {
				s.events[i].do(now)
				s.events = slices.Delete(s.events, i, i+1)
				i--
			}
		}
		if s.woken || !now.Before(nextPoll) {
			s.woken = false
			s.polls++
			nextPoll = now.Add(s.e.poll(ctx))
		}
		s.startAttempts(now)
		if !now.Before(end) {
			return
		}
		next := minTime(nextPoll, end)
		for _, f := range s.flights {
			next = minTime(next, f.end)
		}
		for _, ev := range s.events {
			next = minTime(next, ev.at)
		}
		if next.After(now) && !s.woken {
			s.clock.Add(next.Sub(now))
		}
		s.endAttempts(s.clock.Now())
	}
}

// startAttempts takes jobs from the scheduler while a worker is free.
func (s *sim) startAttempts(now time.Time) {
	sc := s.e.sched
	for len(s.flights) < s.e.c.Workers {
		sc.mu.Lock()
		job, h, ok := sc.take()
		sc.mu.Unlock()
		if !ok {
			return
		}
		if !now.Add(s.e.c.Timeout + leaseMargin).Before(job.LeaseUntil) {
			s.t.Fatalf("%s attempted at %v under a lease that ends at %v", job.DeliveryID, now, job.LeaseUntil)
		}
		took, ok := s.answer(&job)
		a := simAttempt{job: job, h: h, due: s.store.nextAttempt(job.DeliveryID), start: now, end: now.Add(took), ok: ok}
		s.flights = append(s.flights, a)
		s.attempts = append(s.attempts, a)
		s.atOnce[job.WebhookID]++
		s.mostAtOnce[job.WebhookID] = max(s.mostAtOnce[job.WebhookID], s.atOnce[job.WebhookID])
	}
}

// endAttempts ends those due to end by now, in the order they end, and
// records their results at once.
func (s *sim) endAttempts(now time.Time) {
	slices.SortStableFunc(s.flights, func(a, b simAttempt) int { return a.end.Compare(b.end) })
	n := 0
	for _, a := range s.flights {
		if a.end.After(now) {
			break
		}
		n++
		r := pathhook.Result{DeliveryID: a.job.DeliveryID, WebhookID: a.job.WebhookID, Status: pathhook.DeliverySucceeded,
			Attempt:    pathhook.Attempt{N: a.job.Attempt, StartedAt: a.start, DurationMS: a.end.Sub(a.start).Milliseconds()},
			LeaseOwner: s.store.owner, LeaseUntil: a.job.LeaseUntil}
		if !a.ok {
			r.Status, r.NextAttemptAt = pathhook.DeliveryPending, a.end.Add(s.retryIn)
		}
		s.e.sched.done(a.h, &r, a.end.Sub(a.start))
		s.store.record(r)
		s.atOnce[a.job.WebhookID]--
	}
	s.flights = slices.Delete(s.flights, 0, n)
}

// started counts the attempts to webhookID started in [from, to).
func (s *sim) started(webhookID string, from, to time.Time) int {
	n := 0
	for _, a := range s.attempts {
		if a.job.WebhookID == webhookID && !a.start.Before(from) && a.start.Before(to) {
			n++
		}
	}
	return n
}

// simStore keeps deliveries as the SQL stores do, for a simulation of
// hours: each pending delivery is due at one time (its next attempt, the
// end of its lease, or its park), claims take the due ones in due order,
// and NextDue is the earliest. A heap keeps them in due order; a change of
// a delivery's due time pushes it again, and the entries it leaves behind
// are passed over.
type simStore struct {
	owner      string
	deliveries []*simDelivery // in the order made
	byID       map[string]*simDelivery
	due        simHeap
	pushed     int // entries pushed so far, the order of equal due times
	// rows counts the deliveries that each kind of write changed.
	rows struct{ claimed, parked, parkedDue, released, unparked int }
}

type simDelivery struct {
	id, hook   string
	status     string
	count      int
	next       time.Time // next attempt
	due        time.Time // claimable from
	entry      int       // the heap entry that stands for it
	owner      string
	leaseUntil time.Time
}

type simEntry struct {
	due time.Time
	n   int // pushed n-th
	d   *simDelivery
}

// simHeap is a min-heap of entries by due time, then by push order.
type simHeap []simEntry

func (h simHeap) Len() int { return len(h) }
func (h simHeap) Less(i, j int) bool {
	if c := h[i].due.Compare(h[j].due); c != 0 {
		return c < 0
	}
	return h[i].n < h[j].n
}
func (h simHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *simHeap) Push(x any)   { *h = append(*h, x.(simEntry)) }
func (h *simHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func newSimStore() *simStore {
	return &simStore{owner: "sim-node", byID: map[string]*simDelivery{}}
}

// put makes a pending delivery leased to no node, due at next.
func (st *simStore) put(id, webhookID string, next time.Time) *simDelivery {
	d := &simDelivery{id: id, hook: webhookID, status: pathhook.DeliveryPending, next: next}
	st.deliveries = append(st.deliveries, d)
	st.byID[id] = d
	st.setDue(d, next)
	return d
}

// setDue makes d due at t.
func (st *simStore) setDue(d *simDelivery, t time.Time) {
	st.pushed++
	d.due, d.entry = t, st.pushed
	heap.Push(&st.due, simEntry{t, st.pushed, d})
}

// first returns the entry of the pending delivery due first, dropping
// those left behind; ok is false when none is pending.
func (st *simStore) first() (e simEntry, ok bool) {
	for st.due.Len() > 0 {
		e = st.due[0]
		if e.d.entry == e.n && e.d.status == pathhook.DeliveryPending {
			return e, true
		}
		heap.Pop(&st.due)
	}
	return e, false
}

// popDue takes, in due order, the pending deliveries due at now for which
// take says yes, until it has limit; those it passes over stay.
func (st *simStore) popDue(now time.Time, limit int, take func(*simDelivery) bool) []*simDelivery {
	var taken []*simDelivery
	var passed []simEntry
	for len(taken) < limit {
		e, ok := st.first()
		if !ok || e.due.After(now) {
			break
		}
		heap.Pop(&st.due)
		if take(e.d) {
			taken = append(taken, e.d)
		} else {
			passed = append(passed, e)
		}
	}
	for _, e := range passed {
		heap.Push(&st.due, e)
	}
	return taken
}

// offer makes a delivery leased to the node until until, as the Service
// does for the engine it hands it to, and returns its job.
func (st *simStore) offer(id, webhookID string, now, until time.Time) pathhook.Job {
	d := st.put(id, webhookID, now)
	d.owner, d.leaseUntil = st.owner, until
	st.setDue(d, until)
	return d.job(now)
}

func (d *simDelivery) job(now time.Time) pathhook.Job {
	return pathhook.Job{DeliveryID: d.id, OrgID: "org_sim", WebhookID: d.hook, Attempt: d.count + 1,
		LeaseUntil: d.leaseUntil, MadeAt: now, CreatedAt: now}
}

func (st *simStore) nextAttempt(id string) time.Time { return st.byID[id].next }

func (st *simStore) count(webhookID, status string) int {
	n := 0
	for _, d := range st.deliveries {
		if d.hook == webhookID && d.status == status {
			n++
		}
	}
	return n
}

// A pending delivery is claimable once due: a lease ends at its due time.
func (st *simStore) ClaimDue(_ context.Context, owner string, now, until time.Time, limit int) ([]pathhook.Job, error) {
	var jobs []pathhook.Job
	for _, d := range st.popDue(now, limit, func(*simDelivery) bool { return true }) {
		d.owner, d.leaseUntil = owner, until
		st.setDue(d, until)
		jobs = append(jobs, d.job(now))
		st.rows.claimed++
	}
	return jobs, nil
}

func (st *simStore) ParkDue(_ context.Context, webhookID string, now time.Time, turns pathhook.Turns, limit int) (int, error) {
	due := st.popDue(now, limit, func(d *simDelivery) bool { return d.hook == webhookID })
	for i, d := range due {
		d.owner, d.leaseUntil = "", time.Time{}
		st.setDue(d, turns.At(i))
	}
	st.rows.parkedDue += len(due)
	return len(due), nil
}

// hand ends leases that the node still holds: until zero releases their
// deliveries, due at their next attempt; otherwise they are parked to it.
func (st *simStore) hand(leases []pathhook.Lease, until time.Time) {
	for _, l := range leases {
		d := st.byID[l.DeliveryID]
		if d.status != pathhook.DeliveryPending || d.owner != st.owner || !d.leaseUntil.Equal(l.Until) {
			continue
		}
		d.owner, d.leaseUntil = "", time.Time{}
		st.setDue(d, cmp.Or(until, d.next))
		if until.IsZero() {
			st.rows.released++
		} else {
			st.rows.parked++
		}
	}
}

func (st *simStore) unpark(webhookID string) {
	for _, d := range st.deliveries {
		if d.hook == webhookID && d.status == pathhook.DeliveryPending && d.owner == "" && d.due.After(d.next) {
			st.setDue(d, d.next)
			st.rows.unparked++
		}
	}
}

// record writes r if its delivery is still under the attempt's lease.
func (st *simStore) record(r pathhook.Result) {
	d := st.byID[r.DeliveryID]
	if d.status != pathhook.DeliveryPending || d.owner != r.LeaseOwner || !d.leaseUntil.Equal(r.LeaseUntil) {
		return
	}
	d.count = r.Attempt.N
	d.status, d.next = r.Status, r.NextAttemptAt
	d.owner, d.leaseUntil = "", time.Time{}
	if d.status == pathhook.DeliveryPending {
		st.setDue(d, d.next)
	}
}

func (st *simStore) NextDue(context.Context) (time.Time, bool, error) {
	e, ok := st.first()
	return e.due, ok, nil
}

// The engine's other calls to the store do not come in a simulation
// without recorder and chores.
func (st *simStore) Record(context.Context, []pathhook.Result) error {
	panic("simStore: Record: the simulation records itself")
}
func (st *simStore) Restore(context.Context, string, []pathhook.Result) (int, error) {
	panic("simStore: Restore")
}
func (st *simStore) RecordAgain(context.Context, []pathhook.Result) error {
	panic("simStore: RecordAgain")
}
func (st *simStore) ReleaseLeases(context.Context, string) (int64, error) {
	panic("simStore: ReleaseLeases")
}
func (st *simStore) Release(context.Context, string, []pathhook.Lease) error {
	panic("simStore: Release: hand-backs go through hand")
}
func (st *simStore) Park(context.Context, string, []pathhook.Lease, time.Time) error {
	panic("simStore: Park: hand-backs go through hand")
}
func (st *simStore) Unpark(context.Context, string, int) (int, error) {
	panic("simStore: Unpark: hand-backs go through unpark")
}
func (st *simStore) DisableFailing(context.Context, time.Time, time.Time, string) ([]string, error) {
	panic("simStore: DisableFailing")
}
func (st *simStore) EndBacklogs(context.Context, int, time.Time) (int, error) {
	panic("simStore: EndBacklogs")
}
func (st *simStore) Prune(context.Context, time.Time) (int, error) { panic("simStore: Prune") }
