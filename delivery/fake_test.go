package delivery

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
)

// fakeClock is a clock that moves only when a test moves it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeStore is a tiny in-memory delivery queue with the semantics that the
// engine relies on, for the engine's unit tests; integration tests run on
// real SQLite.
type fakeStore struct {
	owner string
	clock func() time.Time

	mu         sync.Mutex
	deliveries map[string]*fakeDelivery
	order      []string
	hooks      map[string]*fakeHook
	records    [][]pathhook.Result
	releases   []string
	parks      []fakePark
	unparks    []string
	sweeps     []fakeSweep
	prunes     []time.Time
	ending     map[string]bool               // webhooks switched off whose backlogs EndBacklogs fails
	endings    int                           // calls of EndBacklogs
	recordErr  func([]pathhook.Result) error // optional
}

type fakeDelivery struct {
	job        pathhook.Job
	status     string
	next       time.Time
	count      int
	leaseOwner string
	leaseUntil time.Time
	deferred   time.Time // Park: not due before then
	attempts   []pathhook.Attempt
}

// due is when d can next be claimed.
func (d *fakeDelivery) due() time.Time {
	due := d.next
	if d.leaseOwner != "" && d.leaseUntil.After(due) {
		due = d.leaseUntil
	}
	if d.deferred.After(due) {
		due = d.deferred
	}
	return due
}

type fakeHook struct {
	enabled      bool
	reason       string
	failingSince *time.Time
}

type fakePark struct {
	until time.Time
	ids   []string
}

type fakeSweep struct {
	cutoff time.Time
	reason string
}

func newFakeStore(clock func() time.Time) *fakeStore {
	return &fakeStore{owner: "test-node", clock: clock, deliveries: map[string]*fakeDelivery{}, hooks: map[string]*fakeHook{}}
}

// add creates a pending delivery of job leased to the store's owner for
// lease, as the Service does, and returns the job to offer.
func (s *fakeStore) add(job pathhook.Job, lease time.Duration) pathhook.Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	if s.hooks[job.WebhookID] == nil {
		s.hooks[job.WebhookID] = &fakeHook{enabled: true}
	}
	job.Attempt = 1
	job.LeaseUntil, job.MadeAt = now.Add(lease), now
	s.deliveries[job.DeliveryID] = &fakeDelivery{job: job, status: pathhook.DeliveryPending, next: now,
		leaseOwner: s.owner, leaseUntil: job.LeaseUntil}
	s.order = append(s.order, job.DeliveryID)
	return job
}

func (s *fakeStore) ClaimDue(_ context.Context, owner string, now, until time.Time, limit int) ([]pathhook.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := slices.Clone(s.order)
	slices.SortStableFunc(ids, func(a, b string) int { return s.deliveries[a].due().Compare(s.deliveries[b].due()) })
	var jobs []pathhook.Job
	for _, id := range ids {
		d := s.deliveries[id]
		if len(jobs) == limit {
			break
		}
		if d.status != pathhook.DeliveryPending || d.next.After(now) || d.deferred.After(now) || !s.hooks[d.job.WebhookID].enabled ||
			d.leaseOwner != "" && !d.leaseUntil.Before(now) {
			continue
		}
		d.leaseOwner, d.leaseUntil, d.deferred = owner, until, time.Time{}
		job := d.job
		job.Attempt, job.LeaseUntil, job.MadeAt = d.count+1, until, now
		jobs = append(jobs, job)
	}
	return jobs, nil
}

func (s *fakeStore) Record(_ context.Context, results []pathhook.Result) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recordErr != nil {
		if err := s.recordErr(results); err != nil {
			return err
		}
	}
	s.records = append(s.records, slices.Clone(results))
	for _, r := range results {
		d := s.deliveries[r.DeliveryID]
		h := s.hooks[r.WebhookID]
		d.attempts = append(d.attempts, r.Attempt)
		d.count = max(d.count, r.Attempt.N)
		d.status, d.next = r.Status, r.NextAttemptAt
		d.leaseOwner, d.leaseUntil = "", time.Time{}
		if r.Status == pathhook.DeliverySucceeded {
			h.failingSince = nil
		} else if h.failingSince == nil {
			started := r.Attempt.StartedAt
			h.failingSince = &started
		}
		if r.DisableReason != "" {
			h.enabled, h.reason = false, r.DisableReason
			s.failPending(r.WebhookID)
		}
		if d.status == pathhook.DeliveryPending && !h.enabled {
			d.status = pathhook.DeliveryFailed
		}
	}
	return nil
}

func (s *fakeStore) RecordAgain(ctx context.Context, results []pathhook.Result) error {
	s.mu.Lock()
	var fresh []pathhook.Result
	for _, r := range results {
		if d := s.deliveries[r.DeliveryID]; d != nil && r.Attempt.N > d.count {
			fresh = append(fresh, r)
		}
	}
	s.mu.Unlock()
	if len(fresh) == 0 {
		return nil
	}
	return s.Record(ctx, fresh)
}

func (s *fakeStore) Restore(ctx context.Context, owner string, results []pathhook.Result) (int, error) {
	s.mu.Lock()
	var missing []pathhook.Result
	for _, r := range results {
		if d := s.deliveries[r.DeliveryID]; d != nil && (d.leaseOwner == "" || d.leaseOwner == owner) && r.Attempt.N > d.count {
			missing = append(missing, r)
		}
	}
	s.mu.Unlock()
	if len(missing) == 0 {
		return 0, nil
	}
	return len(missing), s.Record(ctx, missing)
}

// failPending queues webhookID's backlog for EndBacklogs, as the store does
// when it switches a webhook off.
func (s *fakeStore) failPending(webhookID string) {
	if s.ending == nil {
		s.ending = map[string]bool{}
	}
	s.ending[webhookID] = true
}

func (s *fakeStore) EndBacklogs(context.Context, int, time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endings++
	n := 0
	for id := range s.ending {
		if s.hooks[id].enabled {
			continue
		}
		for _, d := range s.deliveries {
			if d.job.WebhookID == id && d.status == pathhook.DeliveryPending {
				d.status = pathhook.DeliveryFailed
				n++
			}
		}
	}
	clear(s.ending)
	return n, nil
}

func (s *fakeStore) ReleaseLeases(_ context.Context, owner string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, d := range s.deliveries {
		if d.status == pathhook.DeliveryPending && d.leaseOwner == owner {
			d.leaseOwner, d.leaseUntil = "", time.Time{}
			n++
		}
	}
	return n, nil
}

func (s *fakeStore) Release(_ context.Context, owner string, leases []pathhook.Lease) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range leases {
		if d := s.held(owner, l); d != nil {
			d.leaseOwner, d.leaseUntil = "", time.Time{}
		}
		s.releases = append(s.releases, l.DeliveryID)
	}
	return nil
}

func (s *fakeStore) Park(_ context.Context, owner string, leases []pathhook.Lease, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, l := range leases {
		if d := s.held(owner, l); d != nil {
			d.leaseOwner, d.leaseUntil, d.deferred = "", time.Time{}, until
		}
		ids = append(ids, l.DeliveryID)
	}
	s.parks = append(s.parks, fakePark{until, ids})
	return nil
}

// held returns the pending delivery that owner holds under l, or nil.
func (s *fakeStore) held(owner string, l pathhook.Lease) *fakeDelivery {
	d := s.deliveries[l.DeliveryID]
	if d == nil || d.status != pathhook.DeliveryPending || d.leaseOwner != owner || !d.leaseUntil.Equal(l.Until) {
		return nil
	}
	return d
}

func (s *fakeStore) ParkDue(_ context.Context, webhookID string, now time.Time, turns pathhook.Turns, limit int) (n int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := slices.Clone(s.order)
	slices.SortStableFunc(ids, func(a, b string) int { return s.deliveries[a].due().Compare(s.deliveries[b].due()) })
	for _, id := range ids {
		d := s.deliveries[id]
		if n < limit && d.job.WebhookID == webhookID && d.status == pathhook.DeliveryPending && !d.next.After(now) &&
			!d.deferred.After(now) && (d.leaseOwner == "" || d.leaseUntil.Before(now)) {
			d.leaseOwner, d.leaseUntil, d.deferred = "", time.Time{}, turns.At(n)
			n++
		}
	}
	return n, nil
}

func (s *fakeStore) Unpark(_ context.Context, webhookID string, limit int) (n int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range slices.Sorted(maps.Keys(s.deliveries)) {
		d := s.deliveries[id]
		if n < limit && d.job.WebhookID == webhookID && d.status == pathhook.DeliveryPending && d.leaseOwner == "" && d.deferred.After(d.next) {
			d.deferred = time.Time{}
			n++
		}
	}
	s.unparks = append(s.unparks, webhookID)
	return n, nil
}

// NextDue returns when the first pending delivery can be claimed: its next
// attempt, or the end of its lease if that is later.
func (s *fakeStore) NextDue(context.Context) (time.Time, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next time.Time
	for _, d := range s.deliveries {
		if d.status != pathhook.DeliveryPending {
			continue
		}
		due := d.due()
		if next.IsZero() || due.Before(next) {
			next = due
		}
	}
	return next, !next.IsZero(), nil
}

func (s *fakeStore) DisableFailing(_ context.Context, cutoff, _ time.Time, reason string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweeps = append(s.sweeps, fakeSweep{cutoff, reason})
	var ids []string
	for id, h := range s.hooks {
		if h.enabled && h.failingSince != nil && h.failingSince.Before(cutoff) {
			h.enabled, h.reason = false, reason
			s.failPending(id)
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func (s *fakeStore) Prune(_ context.Context, cutoff time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prunes = append(s.prunes, cutoff)
	return 0, nil
}

// delivery returns a copy of a delivery's state.
func (s *fakeStore) delivery(id string) fakeDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := *s.deliveries[id]
	d.attempts = slices.Clone(d.attempts)
	return d
}

func (s *fakeStore) hook(id string) fakeHook {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.hooks[id]
}

func (s *fakeStore) released() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.releases)
}

func (s *fakeStore) parked() []fakePark {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.parks)
}

// newJob returns a job of delivery n to webhook hook at url.
func newJob(hook string, n int, url string) pathhook.Job {
	id := strconv.Itoa(n)
	return pathhook.Job{DeliveryID: "dlv_" + hook + "_" + id, OrgID: "org_1", WebhookID: hook, EventID: "evt_" + id,
		EventType: pathhook.TypeEnrolmentCreated, URL: url, Secrets: [][]byte{[]byte("a-strong-secret-of-24-characters")},
		Body: []byte(`{"id":"evt_` + id + `","type":"enrolment.created","n":` + id + `}`), Attempt: 1}
}

// waitFor waits until cond holds, failing the test if it does not within
// a generous bound. It waits for the engine's goroutines, never for a
// schedule: schedules run on fake clocks.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
