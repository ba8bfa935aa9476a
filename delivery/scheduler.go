package delivery

import (
	"sync"
	"time"

	"github.com/pathhook/pathhook"
)

// breakAfter is how many attempts in a row a webhook may fail before its
// concurrency drops to one: a receiver that is down or timing out then holds
// one worker instead of PerWebhook, until it answers 2xx again.
const breakAfter = 5

// leaseMargin is kept free at the end of a lease for recording the result
// and for clock skew between nodes, so that no attempt can still be running
// when another node may claim the delivery.
const leaseMargin = 2 * time.Second

// A slow webhook's jobs that would not start within their lease are parked:
// given back to the store, deferred to when their turn is estimated to
// come. The turns are stacked per webhook at the pace its attempts go (its
// average attempt time over its concurrency), so that each delivery of a
// large backlog comes back about when the webhook can take it, rather than
// all of them every few minutes. The estimate may stop holding: a receiver
// that recovers is noticed by the attempts still running (their average
// time halves) and its deferred deliveries are brought back at once
// (Store.Unpark).
//
// maxDefer bounds how far a job is deferred; deferStep is the granularity
// of the deferrals, so that a batch of parked jobs takes few statements.
const (
	maxDefer  = time.Hour
	deferStep = 10 * time.Second
)

// hook is the engine's in-memory state of one webhook: its jobs waiting to
// be attempted, the attempts in flight, and how it has been answering.
type hook struct {
	id      string
	queue   []pathhook.Job // FIFO
	active  int            // attempts in flight
	ready   bool           // in the scheduler's ready list
	fails   int            // attempts failed since the last success
	latency time.Duration  // moving average of attempt durations
	timed   bool           // whether latency has been measured
	used    time.Time      // when it last had work
	// deferredFrom and deferredUntil are when the turns of the jobs
	// parked so far begin and end, and deferLatency the average attempt
	// time when they were parked.
	deferredFrom  time.Time
	deferredUntil time.Time
	deferLatency  time.Duration
	// changed is when the webhook last changed (replace): a job made
	// before then carries it as it was.
	changed   time.Time
	unparks   int // times its parked deliveries were brought back
	unparking int // of those, the ones the store has not finished
}

// estimate is how long the scheduler expects an attempt to the webhook to
// take: its measured average. Until one of its attempts has ended, it is
// nothing while the webhook holds fewer than unknownShare jobs, and the
// longest an attempt can take beyond that. Taking every unknown receiver
// for a fast one let a slow one with a large due backlog fill memory with
// jobs that could not start within their leases, while other webhooks'
// retries waited in the store for room; taking every one for slow parked
// what many webhooks were offered at once (a backlog building while
// receivers hold their requests), which then cost a write each to bring
// back, though memory had room for it. A fast receiver's first answer
// brings back what was parked (see undefer).
func (s *scheduler) estimate(h *hook) time.Duration {
	if !h.timed && len(h.queue)+h.active >= s.unknownShare {
		return s.timeout
	}
	return h.latency
}

// pace is the time between the starts of the webhook's attempts when they
// follow one another at its limit: its turns are that far apart.
func (s *scheduler) pace(h *hook) time.Duration {
	return s.estimate(h) / time.Duration(h.limit(s.perHook))
}

// wait is how long a job queued now behind the webhook's other work would
// wait for its turn.
func (s *scheduler) wait(h *hook) time.Duration {
	rounds := (len(h.queue) + h.active) / h.limit(s.perHook)
	return time.Duration(rounds) * s.estimate(h)
}

// limit is how many attempts to the webhook may run at once.
func (h *hook) limit(perHook int) int {
	if h.fails >= breakAfter {
		return 1
	}
	return perHook
}

// scheduler holds the jobs in memory and hands them to workers fairly: each
// webhook has its own queue and at most perHook attempts in flight, and the
// webhooks with work take turns. Jobs for a saturated webhook wait in its
// queue while other webhooks proceed.
type scheduler struct {
	perHook  int
	capacity int // jobs held, queued or in flight
	// unknownShare is how many jobs a webhook not yet heard from may
	// hold before it is taken for slow (see estimate).
	unknownShare int
	lowWater     int // room at which a waiting claimer is woken
	timeout      time.Duration
	clock        func() time.Time
	release      func(leases ...pathhook.Lease)                  // hands deliveries back to the store
	park         func(until time.Time, leases ...pathhook.Lease) // defers them to until
	unpark       func(webhookID string)                          // brings a webhook's deferred deliveries back
	wakeRoom     func()

	mu       sync.Mutex
	cond     sync.Cond
	hooks    map[string]*hook
	ready    []*hook             // webhooks with queued jobs and a free slot, in turn
	held     map[string]struct{} // deliveries queued or in flight
	queued   int
	inflight int
	wantRoom bool
	stopped  bool
	// changedAll is when every webhook last counted as changed (replace
	// with none given), for those without state here yet.
	changedAll time.Time
}

func newScheduler(perHook, capacity int, timeout time.Duration, clock func() time.Time, release func(...pathhook.Lease),
	park func(time.Time, ...pathhook.Lease), unpark func(string), wakeRoom func()) *scheduler {
	s := &scheduler{perHook: perHook, capacity: capacity, unknownShare: max(perHook, capacity/16),
		lowWater: max(1, min(claimBatch, capacity/2)), timeout: timeout,
		clock: clock, release: release, park: park, unpark: unpark, wakeRoom: wakeRoom, hooks: make(map[string]*hook),
		held: make(map[string]struct{})}
	s.cond.L = &s.mu
	return s
}

// add queues jobs. Those that do not fit in memory are released so that
// polling, here or on another node, finds them. Those that would go stale in
// a slow webhook's queue before their turn are parked instead (see
// maxDefer), so the webhook's backlog waits in the store rather than in
// memory and is not claimed straight back. A delivery already held is not
// taken twice: a queued one takes the new job's lease (the store's lease
// is the newer claim's), one in flight stays as it is.
func (s *scheduler) add(jobs []pathhook.Job) { s.addJobs(jobs) }

// addClaimed is add for jobs claimed from the store. It returns the
// webhooks that had half of the claim or more parked: their other due
// deliveries, which the next claims would otherwise lease and read only
// for them to be parked too, are to be parked where they lie
// (Store.ParkDue, parkTurns). A webhook with fewer is left to the claims:
// finding its due deliveries among the others' would cost more.
func (s *scheduler) addClaimed(jobs []pathhook.Job) []string {
	var dense []string
	for id, n := range s.addJobs(jobs) {
		if 2*n >= len(jobs) {
			dense = append(dense, id)
		}
	}
	return dense
}

// addJobs adds jobs and returns how many of each webhook's it parked.
func (s *scheduler) addJobs(jobs []pathhook.Job) (parkedHooks map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil // leases run out and polling finds them
	}
	now := s.clock()
	var overflow []pathhook.Lease
	var parked []handback // consecutive jobs with one end share an entry
	for _, job := range jobs {
		if _, dup := s.held[job.DeliveryID]; dup {
			s.renew(&job)
			continue
		}
		h := s.hooks[job.WebhookID]
		// A job that does not fit in memory goes back to the store, and so
		// does one made from its webhook as it was before a change that
		// replace has handled already: claimed again, it is made anew.
		if len(s.held) >= s.capacity || s.stale(h, &job) {
			if s.givable(&job, now) {
				overflow = append(overflow, job.Lease())
			}
			continue
		}
		if h == nil {
			h = &hook{id: job.WebhookID}
			s.hooks[job.WebhookID] = h
		}
		if wait, ok := s.fits(h, &job, now); !ok {
			if s.givable(&job, now) {
				until := s.deferral(h, now, wait)
				if parkedHooks == nil {
					parkedHooks = make(map[string]int)
				}
				parkedHooks[h.id]++
				if n := len(parked); n > 0 && parked[n-1].until.Equal(until) {
					parked[n-1].leases = append(parked[n-1].leases, job.Lease())
				} else {
					parked = append(parked, handback{until: until, leases: []pathhook.Lease{job.Lease()}})
				}
			}
			continue
		}
		h.queue = append(h.queue, job)
		h.used = now
		s.held[job.DeliveryID] = struct{}{}
		s.queued++
		s.push(h)
	}
	if len(overflow) > 0 {
		s.release(overflow...)
	}
	for _, p := range parked {
		s.park(p.until, p.leases...)
	}
	return parkedHooks
}

// deferral returns when a job of h that would wait wait for its turn in
// memory is to come back from the store, and books that turn: the next
// free turn after the jobs already deferred, rounded down to deferStep
// (but no sooner than wait), and no later than maxDefer from now, rounded
// down too.
func (s *scheduler) deferral(h *hook, now time.Time, wait time.Duration) time.Time {
	turn, until, newRun := s.freeTurn(h, now, wait)
	s.book(h, until, turn.Add(s.pace(h)), now.Add(maxDefer), newRun)
	return until
}

// freeTurn returns h's next free turn for a job that would wait wait in
// memory, when the job is to come back from the store for it (see
// deferral), and whether it begins a run of deferred jobs, without booking
// it.
func (s *scheduler) freeTurn(h *hook, now time.Time, wait time.Duration) (turn, until time.Time, newRun bool) {
	soonest := now.Add(wait)
	turn, newRun = soonest, !h.deferredUntil.After(soonest)
	if !newRun {
		turn = h.deferredUntil // goes on from the jobs deferred before
	}
	if until = turn.Truncate(deferStep); until.Before(soonest) {
		until = soonest
	}
	if last := now.Add(maxDefer); until.After(last) {
		until = last.Truncate(deferStep) // one statement parks a run of them
	}
	return turn, until, newRun
}

// book books h's turns until end, and no later than last: turns past
// maxDefer are all booked at maxDefer, since booking them further out
// would have the jobs that come back then parked behind turns that no job
// holds, and the webhook idle until those. A new run of deferred jobs
// comes back from from.
func (s *scheduler) book(h *hook, from, end, last time.Time, newRun bool) {
	if newRun {
		h.deferredFrom = from
	}
	if end.After(last) {
		end = last
	}
	if end.After(h.deferredUntil) {
		h.deferredUntil = end
	}
	h.deferLatency = s.estimate(h)
}

// parkPlan is what parkTurns plans for a park of a webhook's due
// deliveries where they lie, for parkedDue to book what the store parked.
type parkPlan struct {
	turns   pathhook.Turns // for Store.ParkDue
	turn    time.Time      // the first turn, before rounding
	newRun  bool           // whether the first turn begins a run of deferred jobs
	last    time.Time      // no turn is booked past it (maxDefer from now)
	unparks int            // the webhook's unparks when planned
}

// parkTurns plans the turns of the webhook for its due deliveries that the
// store is to park where they lie (Store.ParkDue): one after another at
// its pace, after its jobs in memory and those parked so far, and none
// later than maxDefer from now, where those that do not fit before pile
// up, as deferral piles them. It books none of them: parkedDue books those
// the store parked, which may be none. ok is false when the scheduler no
// longer has the webhook's state, or an unpark of it is under way.
func (s *scheduler) parkTurns(id string) (plan parkPlan, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hooks[id]
	if h == nil || s.stopped || h.unparking > 0 {
		return plan, false // an unpark under way would bring them back
	}
	now := s.clock()
	turn, from, newRun := s.freeTurn(h, now, s.wait(h))
	last := now.Add(maxDefer)
	return parkPlan{turns: pathhook.Turns{From: from, Step: s.pace(h), Last: last.Truncate(deferStep)}, turn: turn,
		newRun: newRun, last: last, unparks: h.unparks}, true
}

// parkedDue books the turns of n deliveries of webhook id that the store
// parked where they lay as plan said. If the webhook's parked deliveries
// were brought back since the plan (undefer), these are brought back too:
// they were parked after that.
func (s *scheduler) parkedDue(id string, n int, plan parkPlan) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hooks[id]
	if h == nil || n == 0 {
		return
	}
	if h.unparks != plan.unparks {
		s.unparkHook(h) // with whatever was deferred since the last unpark
		h.forgetDeferred()
		return
	}
	// They begin a run of deferred jobs if the plan's turns did (unless a
	// job deferred since began it sooner), or if the run before has been
	// forgotten since (all its turns had passed).
	newRun := h.deferredUntil.IsZero() ||
		plan.newRun && (!h.deferredUntil.After(plan.turn) || plan.turns.From.Before(h.deferredFrom))
	s.book(h, plan.turns.From, plan.turn.Add(time.Duration(n)*plan.turns.Step), plan.last, newRun)
}

// unparkHook brings h's parked deliveries back (Store.Unpark).
func (s *scheduler) unparkHook(h *hook) {
	h.unparks++
	h.unparking++
	s.unpark(h.id)
}

// unparked is told that an unpark of the webhook's parked deliveries has
// ended: until then, none are parked where they lie (parkTurns), since the
// unpark would bring them back while they are booked.
func (s *scheduler) unparked(webhookID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.hooks[webhookID]; h != nil && h.unparking > 0 {
		h.unparking--
	}
}

// givable reports whether job's lease is worth releasing or parking:
// whether it will still be this node's when the store has been told. A lease
// that has run out, or is about to, is left alone: the store would find the
// delivery under another lease by then, or under none, and change nothing.
func (s *scheduler) givable(job *pathhook.Job, now time.Time) bool {
	return !job.LeaseUntil.IsZero() && now.Add(leaseMargin).Before(job.LeaseUntil)
}

// fits reports whether job, queued behind h's other work, is likely to
// start while its lease still covers the whole attempt, and how long it
// would wait for its turn.
func (s *scheduler) fits(h *hook, job *pathhook.Job, now time.Time) (wait time.Duration, ok bool) {
	if job.LeaseUntil.IsZero() {
		return 0, true
	}
	wait = s.wait(h)
	return wait, s.live(job, now.Add(wait))
}

// live reports whether an attempt of job started at t ends, recorded, before
// its lease does. A job without a lease is not held by anyone else.
func (s *scheduler) live(job *pathhook.Job, t time.Time) bool {
	return job.LeaseUntil.IsZero() || t.Add(s.timeout+leaseMargin).Before(job.LeaseUntil)
}

// push puts h in the ready list if it has a queued job and a free slot.
func (s *scheduler) push(h *hook) {
	if h.ready || len(h.queue) == 0 || h.active >= h.limit(s.perHook) {
		return
	}
	h.ready = true
	s.ready = append(s.ready, h)
	s.cond.Signal()
}

// next waits for a job to attempt and takes it, with its webhook's state;
// ok is false once the scheduler has stopped.
func (s *scheduler) next() (job pathhook.Job, h *hook, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.stopped {
		if job, h, ok = s.take(); ok {
			return job, h, true
		}
		s.cond.Wait()
	}
	return job, nil, false
}

// take takes the next job that can start now, if there is one; s.mu is
// held. Jobs whose lease no longer covers an attempt are released instead.
func (s *scheduler) take() (job pathhook.Job, h *hook, ok bool) {
	for len(s.ready) > 0 {
		h = s.ready[0]
		s.ready[0] = nil
		s.ready = s.ready[1:]
		h.ready = false
		if len(h.queue) == 0 || h.active >= h.limit(s.perHook) {
			// Dropped while it waited its turn, or its limit fell to
			// one (breakAfter): done puts it back when it has room.
			continue
		}
		job = h.queue[0]
		h.queue[0] = pathhook.Job{}
		h.queue = h.queue[1:]
		s.queued--
		if now := s.clock(); !s.live(&job, now) {
			delete(s.held, job.DeliveryID)
			if s.givable(&job, now) {
				s.release(job.Lease())
			}
			s.push(h)
			s.roomMade()
			continue
		}
		h.active++
		s.inflight++
		s.push(h)
		return job, h, true
	}
	return pathhook.Job{}, nil, false
}

// done ends an attempt taken from next with its result.
func (s *scheduler) done(h *hook, r *pathhook.Result, took time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.held, r.DeliveryID)
	h.active--
	s.inflight--
	if r.Status == pathhook.DeliverySucceeded {
		h.fails = 0
	} else {
		h.fails++
	}
	if !h.timed {
		h.latency, h.timed = took, true
	} else {
		h.latency += (took - h.latency) / 8
	}
	h.used = s.clock()
	if r.DisableReason != "" {
		h.changed = h.used // as forget does
		s.drop(h)          // the chores fail its pending deliveries (EndBacklogs)
	}
	s.undefer(h)
	s.push(h)
	s.roomMade()
}

// undefer forgets h's deferred jobs once they are all due, and brings them
// back at once if h has become faster than the estimates said: its attempts
// take half the time they took when the jobs were deferred, or it has run
// out of work more than deferStep before the first of them comes back.
// (Once they have begun to come back, the next come within deferStep or
// so.)
func (s *scheduler) undefer(h *hook) {
	if h.deferredUntil.IsZero() {
		return
	}
	if h.deferredUntil.After(h.used) {
		faster := h.latency <= h.deferLatency/2
		// A gap shorter than deferStep is the rounding of the turns, not
		// worth bringing back every parked delivery for.
		idle := len(h.queue) == 0 && h.active == 0 && h.used.Add(deferStep).Before(h.deferredFrom)
		if !faster && !idle {
			return
		}
		s.unparkHook(h)
	}
	h.forgetDeferred()
}

func (h *hook) forgetDeferred() {
	h.deferredFrom, h.deferredUntil, h.deferLatency = time.Time{}, time.Time{}, 0
}

// forget drops the queued jobs of webhooks that have been disabled (the
// store has failed their deliveries), and takes the disable for a change:
// a job made before it, claimed or offered then and added now, goes back.
func (s *scheduler) forget(webhookIDs []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	for _, id := range webhookIDs {
		s.drop(s.changedHook(id, now))
	}
	s.roomMade()
}

func (s *scheduler) drop(h *hook) {
	for _, job := range h.queue {
		delete(s.held, job.DeliveryID)
	}
	s.queued -= len(h.queue)
	h.queue = nil
}

// room returns how many jobs a claim may take now, at most limit. When it is
// too little to be worth a claim it returns 0, and the claimer is woken once
// attempts have made enough room.
func (s *scheduler) room(limit int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.capacity - len(s.held)
	if n < s.lowWater || s.stopped {
		s.wantRoom = !s.stopped
		return 0
	}
	return min(n, limit)
}

func (s *scheduler) roomMade() {
	if s.wantRoom && s.capacity-len(s.held) >= s.lowWater {
		s.wantRoom = false
		s.wakeRoom()
	}
}

// stop makes next return false once the attempts in flight are done,
// releases the jobs that were waiting, and brings back what it deferred:
// no one here will see when those webhooks can take it.
func (s *scheduler) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	now := s.clock()
	var leases []pathhook.Lease
	for _, h := range s.hooks {
		leases = s.givableLeases(leases, h, now)
		s.drop(h)
		if h.deferredUntil.After(now) {
			s.unparkHook(h)
			h.forgetDeferred()
		}
	}
	s.ready = nil
	if len(leases) > 0 {
		s.release(leases...)
	}
	s.cond.Broadcast()
}

// tidy forgets the state of webhooks that have had no work since before
// cutoff, so that memory follows the webhooks in use.
func (s *scheduler) tidy(cutoff time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, h := range s.hooks {
		if len(h.queue) == 0 && h.active == 0 && h.unparking == 0 && h.used.Before(cutoff) {
			delete(s.hooks, id)
		}
	}
}

// Stats is a snapshot of the work that an engine holds in memory.
type Stats struct {
	Queued   int // jobs waiting for a worker
	InFlight int // attempts under way
	Webhooks int // webhooks with state in memory
}

func (s *scheduler) stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Queued: s.queued, InFlight: s.inflight, Webhooks: len(s.hooks)}
}
