package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/signature"
	"github.com/pathhook/pathhook/sqlite"
	"github.com/pathhook/pathhook/sqlstore"
)

// The tests in this file run the engine for real: the Service and the
// engine on a SQLite file, deliveries to a receiver on 127.0.0.1, time on a
// fake clock moved by the test.

const testSecret = "a-strong-secret-of-24-characters"

// system is a Service and an engine on one SQLite database.
type system struct {
	t       *testing.T
	clock   *fakeClock
	db      *sqlstore.DB
	engine  *Engine
	svc     *pathhook.Service
	org     string
	webhook string // the enrolments webhook of pathway
	pathway string
	stop    func()
}

// newSystem opens a fresh database and starts an engine named owner on it,
// with an enabled enrolments webhook that delivers to url.
func newSystem(t *testing.T, url string) *system {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "pathhook.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := &system{t: t, clock: newFakeClock(), db: db}
	s.engine = s.newEngine("node-a")
	s.svc = pathhook.NewService(pathhook.Config{Store: db, Clock: s.clock.Now, Dispatcher: s.engine,
		Lease: s.engine.LeaseOwner(), AllowHTTP: true})
	ctx := context.Background()
	org, err := s.svc.EnsureOrg(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.svc.CreatePathway(ctx, org.ID, pathhook.PathwayInput{Name: "Safety induction"})
	if err != nil {
		t.Fatal(err)
	}
	s.org, s.pathway, s.webhook = org.ID, p.ID, p.Webhooks[0].ID
	secret := testSecret
	if _, err := s.svc.SetupWebhook(ctx, s.org, s.webhook, pathhook.WebhookSetup{URL: url, Secret: &secret}); err != nil {
		t.Fatal(err)
	}
	on := true
	if _, err := s.svc.SwitchWebhook(ctx, s.org, s.webhook, pathhook.WebhookSwitch{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *system) newEngine(owner string) *Engine {
	return New(Config{Store: s.db, Owner: owner, Platform: "Falkor", Clock: s.clock.Now, Rand: func() float64 { return 0.5 },
		Timeout: 5 * time.Second, Workers: 4, Logger: testLogger(s.t)})
}

// run starts e until the test ends.
func (s *system) run(e *Engine) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := e.Run(ctx); err != nil {
			s.t.Error(err)
		}
	}()
	s.t.Cleanup(func() { cancel(); <-done })
}

// enrol enrols a learner, which makes one delivery, and returns its id.
func (s *system) enrol(learner string) string {
	s.t.Helper()
	ctx := context.Background()
	if _, err := s.svc.Enrol(ctx, s.org, s.pathway, pathhook.EnrolmentInput{Learner: &pathhook.Learner{ID: learner}}); err != nil {
		s.t.Fatal(err)
	}
	ds, _, err := s.svc.Deliveries(ctx, s.org, s.webhook, "", pathhook.Page{Limit: 1})
	if err != nil || len(ds) != 1 {
		s.t.Fatalf("deliveries: %v, %v", ds, err)
	}
	return ds[0].ID
}

// delivery returns a delivery with its attempts.
func (s *system) delivery(id string) *pathhook.Delivery {
	s.t.Helper()
	d, err := s.svc.Delivery(context.Background(), s.org, id)
	if err != nil {
		s.t.Fatal(err)
	}
	return d
}

// waitAttempts waits until delivery id has n attempts recorded.
func (s *system) waitAttempts(id string, n int) *pathhook.Delivery {
	s.t.Helper()
	waitFor(s.t, "attempt "+strconv.Itoa(n)+" of "+id, func() bool { return len(s.delivery(id).Attempts) >= n })
	d := s.delivery(id)
	if len(d.Attempts) != n {
		s.t.Fatalf("%s has %d attempts, want %d", id, len(d.Attempts), n)
	}
	return d
}

func (s *system) advance(d time.Duration) {
	s.clock.Add(d)
	s.engine.Poke()
}

func TestSQLiteDeliversRetriesAndRedelivers(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 0 || n == 1 || n == 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	s := newSystem(t, rc.URL)
	s.run(s.engine)
	id := s.enrol("learner-1")

	d := s.waitAttempts(id, 1)
	if d.Status != pathhook.DeliveryPending || d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(s.clock.Now().Add(5*time.Second)) {
		t.Fatalf("after attempt 1: %+v", d)
	}
	s.advance(5 * time.Second)
	s.waitAttempts(id, 2)
	s.advance(5 * time.Minute)
	d = s.waitAttempts(id, 3)
	if d.Status != pathhook.DeliverySucceeded || d.AttemptCount != 3 {
		t.Fatalf("after attempt 3: status %s, %d attempts", d.Status, d.AttemptCount)
	}

	// A redelivery is one more attempt, numbered after the last, not retried.
	if err := s.svc.Redeliver(context.Background(), s.org, id); err != nil {
		t.Fatal(err)
	}
	d = s.waitAttempts(id, 4)
	if d.Status != pathhook.DeliveryFailed || d.NextAttemptAt != nil {
		t.Fatalf("after the failed redelivery: status %s, next %v", d.Status, d.NextAttemptAt)
	}

	got := rc.got()
	if len(got) != 4 {
		t.Fatalf("receiver got %d requests, want 4", len(got))
	}
	for i, r := range got {
		if !bytes.Equal(r.body, got[0].body) || r.header.Get("Falkor-Webhook-Signature") != signature.Sign([]byte(testSecret), r.body) {
			t.Errorf("attempt %d: body or signature differs", i+1)
		}
		if r.header.Get("Falkor-Webhook-Attempt") != strconv.Itoa(i+1) || r.header.Get("Falkor-Webhook-Delivery") != id {
			t.Errorf("attempt %d: attempt %q, delivery %q", i+1, r.header.Get("Falkor-Webhook-Attempt"), r.header.Get("Falkor-Webhook-Delivery"))
		}
	}
	for i, a := range d.Attempts {
		want := []int{503, 503, 200, 503}[i]
		if a.N != i+1 || a.ResponseStatus == nil || *a.ResponseStatus != want {
			t.Errorf("attempt %d recorded as %+v", i+1, a)
		}
	}
}

func TestSQLiteGoneDisablesTheWebhook(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, status(http.StatusGone))
	s := newSystem(t, rc.URL)
	s.run(s.engine)
	id := s.enrol("learner-1")
	if d := s.waitAttempts(id, 1); d.Status != pathhook.DeliveryFailed {
		t.Fatalf("status %s, want failed", d.Status)
	}
	w, err := s.svc.Webhook(context.Background(), s.org, s.webhook)
	if err != nil {
		t.Fatal(err)
	}
	if w.Enabled || w.DisabledReason == nil || *w.DisabledReason != "receiver answered 410 Gone" {
		t.Fatalf("webhook enabled %v, reason %v", w.Enabled, w.DisabledReason)
	}
}

// TestSQLiteAnotherNodeTakesOverWhenTheLeaseRunsOut stands for a crash: the
// node that created the deliveries never attempts them, and another node
// delivers them once their lease has run out, not before.
func TestSQLiteAnotherNodeTakesOverWhenTheLeaseRunsOut(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s := newSystem(t, rc.URL) // its engine, node-a, never runs
	ids := []string{s.enrol("learner-1"), s.enrol("learner-2")}
	b := s.newEngine("node-b")
	s.run(b)

	s.clock.Add(s.engine.c.Lease - time.Second)
	// Once the second poke is taken, the poll of the first has ended.
	for range 2 {
		b.Poke()
		waitFor(t, "node-b to poll", func() bool { return len(b.wake) == 0 })
	}
	if st := b.Stats(); rc.count() != 0 || st.Queued+st.InFlight != 0 {
		t.Fatalf("node-b took deliveries still leased to node-a: %+v, %d requests", st, rc.count())
	}
	s.clock.Add(2 * time.Second)
	b.Poke()
	for _, id := range ids {
		if d := s.waitAttempts(id, 1); d.Status != pathhook.DeliverySucceeded {
			t.Errorf("%s: status %s", id, d.Status)
		}
	}
	if rc.count() != 2 {
		t.Errorf("receiver got %d requests, want 2", rc.count())
	}
}

func TestSQLiteDisablesWebhooksFailingForFiveDays(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, status(http.StatusInternalServerError))
	s := newSystem(t, rc.URL)
	s.run(s.engine)
	id := s.enrol("learner-1")
	s.waitAttempts(id, 1)
	s.advance(5*24*time.Hour + time.Minute)
	waitFor(t, "the webhook to be disabled", func() bool {
		w, err := s.svc.Webhook(context.Background(), s.org, s.webhook)
		return err == nil && !w.Enabled
	})
	w, _ := s.svc.Webhook(context.Background(), s.org, s.webhook)
	if w.DisabledReason == nil || !bytes.Contains([]byte(*w.DisabledReason), []byte("5 days")) {
		t.Errorf("reason %v", w.DisabledReason)
	}
	// The chores fail its backlog after they disable it.
	waitFor(t, "the pending delivery of the disabled webhook to be failed", func() bool {
		return s.delivery(id).Status == pathhook.DeliveryFailed
	})
}

// blockedSystem is a system whose engine runs one attempt per webhook at a
// time, with the first delivery held at its receiver (old) until release is
// closed, and a second waiting in memory behind it: their ids.
func blockedSystem(t *testing.T) (s *system, old *receiver, first, second string, release chan struct{}) {
	arrived, release := make(chan struct{}), make(chan struct{})
	old = newReceiver(t, func(n int, _ http.ResponseWriter, _ *http.Request) {
		if n == 0 {
			close(arrived)
			<-release
		}
	})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	s = newSystem(t, old.URL)
	s.engine = New(Config{Store: s.db, Owner: "node-a", Platform: "Falkor", Clock: s.clock.Now, Rand: func() float64 { return 0.5 },
		Timeout: 5 * time.Second, Workers: 4, PerWebhook: 1, Logger: testLogger(t)})
	s.svc = pathhook.NewService(pathhook.Config{Store: s.db, Clock: s.clock.Now, Dispatcher: s.engine,
		Lease: s.engine.LeaseOwner(), AllowHTTP: true})
	s.run(s.engine)
	first = s.enrol("learner-1")
	<-arrived
	second = s.enrol("learner-2")
	if st := s.engine.Stats(); st.Queued != 1 {
		t.Fatalf("stats %+v, want the second delivery queued", st)
	}
	return s, old, first, second, release
}

// TestSQLiteMovedWebhookGetsNoStaleJobs moves a webhook to a new URL while
// a job waits in memory with the old one: the job is dropped and claimed
// again, and goes to the new URL.
func TestSQLiteMovedWebhookGetsNoStaleJobs(t *testing.T) {
	t.Parallel()
	s, old, first, second, release := blockedSystem(t)
	moved := newReceiver(t, nil)
	if _, err := s.svc.SetupWebhook(context.Background(), s.org, s.webhook, pathhook.WebhookSetup{URL: moved.URL}); err != nil {
		t.Fatal(err)
	}
	if st := s.engine.Stats(); st.Queued != 0 {
		t.Fatalf("stats %+v after the move, want nothing queued", st)
	}
	close(release)
	s.waitAttempts(first, 1)
	s.waitAttempts(second, 1)
	if old.count() != 1 || moved.count() != 1 {
		t.Errorf("the old URL got %d requests and the new one %d, want 1 each", old.count(), moved.count())
	}
}

// TestSQLiteDisabledWebhookGetsNoStaleJobs switches a webhook off while a
// job waits in memory: it is not sent, and its delivery stays failed.
func TestSQLiteDisabledWebhookGetsNoStaleJobs(t *testing.T) {
	t.Parallel()
	s, old, first, second, release := blockedSystem(t)
	off := false
	if _, err := s.svc.SwitchWebhook(context.Background(), s.org, s.webhook, pathhook.WebhookSwitch{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	if st := s.engine.Stats(); st.Queued != 0 {
		t.Fatalf("stats %+v after the switch, want nothing queued", st)
	}
	close(release)
	s.waitAttempts(first, 1) // the attempt in flight ends as it began
	// The chores fail the backlog after the switch-off (EndBacklogs).
	waitFor(t, "the second delivery to fail", func() bool { return s.delivery(second).Status != pathhook.DeliveryPending })
	if d := s.delivery(second); d.Status != pathhook.DeliveryFailed || len(d.Attempts) != 0 || old.count() != 1 {
		t.Errorf("second delivery %s with %d attempts, receiver got %d requests; want it failed, never sent", d.Status, len(d.Attempts), old.count())
	}
}

// changingDispatcher changes the webhook once, between the commit of the
// transaction that made jobs and their Offer, as a change committed by
// another request in that window does.
type changingDispatcher struct {
	*Engine
	change func()
	once   sync.Once
}

func (d *changingDispatcher) Offer(ctx context.Context, jobs []pathhook.Job) {
	d.once.Do(d.change)
	d.Engine.Offer(ctx, jobs)
}

// TestSQLiteJobMadeBeforeAChangeIsMadeAgain offers a job made from the
// webhook as it was before a change that the engine has already heard of:
// it is not sent so, but claimed again, and goes to the new URL; or,
// switched off, nowhere.
func TestSQLiteJobMadeBeforeAChangeIsMadeAgain(t *testing.T) {
	t.Parallel()
	for _, move := range []bool{true, false} {
		old, moved := newReceiver(t, nil), newReceiver(t, nil)
		s := newSystem(t, old.URL)
		ctx := context.Background()
		d := &changingDispatcher{Engine: s.engine, change: func() {
			s.clock.Add(time.Millisecond) // time passes between the job's read and the change
			var err error
			if move {
				_, err = s.svc.SetupWebhook(ctx, s.org, s.webhook, pathhook.WebhookSetup{URL: moved.URL})
			} else {
				off := false
				_, err = s.svc.SwitchWebhook(ctx, s.org, s.webhook, pathhook.WebhookSwitch{Enabled: &off})
			}
			if err != nil {
				t.Error(err)
			}
		}}
		s.svc = pathhook.NewService(pathhook.Config{Store: s.db, Clock: s.clock.Now, Dispatcher: d,
			Lease: s.engine.LeaseOwner(), AllowHTTP: true})
		s.run(s.engine)
		id := s.enrol("learner-1")
		if old.count() != 0 {
			t.Fatalf("move %v: the old URL got %d requests, after a job made before the change", move, old.count())
		}
		if !move {
			if st := s.engine.Stats(); st.Queued != 0 || st.InFlight != 0 {
				t.Fatalf("stats %+v after a job made before the webhook was switched off", st)
			}
			// The engine's chores fail the backlog once they hear of the switch-off.
			waitFor(t, "the delivery to be failed", func() bool { return s.delivery(id).Status == pathhook.DeliveryFailed })
			if got := s.delivery(id); len(got.Attempts) != 0 {
				t.Errorf("delivery of a webhook switched off: %s with %d attempts", got.Status, len(got.Attempts))
			}
			continue
		}
		s.engine.Poke()
		s.waitAttempts(id, 1)
		if old.count() != 0 || moved.count() != 1 {
			t.Errorf("the old URL got %d requests and the new one %d, want 0 and 1", old.count(), moved.count())
		}
	}
}

// unsureStore saves every change, and answers as a store whose COMMIT got
// no answer does.
type unsureStore struct{ pathhook.Store }

func (u unsureStore) Update(ctx context.Context, fn func(pathhook.Tx) error) error {
	if err := u.Store.Update(ctx, fn); err != nil {
		return err
	}
	return fmt.Errorf("the connection broke after COMMIT went out: %w", pathhook.ErrCommitUnknown)
}

// TestSQLiteUnsureCommitGivesItsLeasesBack: a change whose COMMIT got no
// answer was saved after all. Its delivery, leased to the engine for a job
// it was never given, is given back and sent at once, not when its lease
// runs out (which, on the test's clock, never comes).
func TestSQLiteUnsureCommitGivesItsLeasesBack(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s := newSystem(t, rc.URL)
	s.svc = pathhook.NewService(pathhook.Config{Store: unsureStore{s.db}, Clock: s.clock.Now, Dispatcher: s.engine,
		Lease: s.engine.LeaseOwner(), AllowHTTP: true})
	s.run(s.engine)
	ctx := context.Background()
	_, err := s.svc.Enrol(ctx, s.org, s.pathway, pathhook.EnrolmentInput{Learner: &pathhook.Learner{ID: "learner-1"}})
	if !errors.Is(err, pathhook.ErrCommitUnknown) {
		t.Fatalf("enrol: %v, want ErrCommitUnknown", err)
	}
	ds, _, err := s.svc.Deliveries(ctx, s.org, s.webhook, "", pathhook.Page{Limit: 10})
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries: %v, %v; want the one the enrolment made", ds, err)
	}
	if d := s.waitAttempts(ds[0].ID, 1); d.Status != pathhook.DeliverySucceeded || rc.count() != 1 {
		t.Errorf("delivery %s, receiver got %d requests; want it sent once", d.Status, rc.count())
	}
}

// unsureClaims is a store whose first claim is saved and its answer lost.
type unsureClaims struct {
	*sqlstore.DB
	lost bool
}

func (u *unsureClaims) ClaimDue(ctx context.Context, owner string, now, until time.Time, limit int) ([]pathhook.Job, error) {
	jobs, err := u.DB.ClaimDue(ctx, owner, now, until, limit)
	if err != nil || u.lost || len(jobs) == 0 {
		return jobs, err
	}
	u.lost = true
	return jobs, fmt.Errorf("the connection broke after COMMIT went out: %w", pathhook.ErrCommitUnknown)
}

// TestSQLiteUnsureClaimGivesItsLeasesBack: a claim whose COMMIT got no
// answer was saved after all. The deliveries it leased to the engine, for
// jobs it never got, are given back and sent at once, not when their
// leases run out (which, on the test's clock, never comes).
func TestSQLiteUnsureClaimGivesItsLeasesBack(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s := newSystem(t, rc.URL)
	// Deliveries made unleased, for a claim to find.
	s.svc = pathhook.NewService(pathhook.Config{Store: s.db, Clock: s.clock.Now, AllowHTTP: true})
	id := s.enrol("learner-1")
	s.engine = New(Config{Store: &unsureClaims{DB: s.db}, Owner: "node-b", Platform: "Falkor", Clock: s.clock.Now,
		Rand: func() float64 { return 0.5 }, Timeout: 5 * time.Second, Workers: 4, Logger: testLogger(t)})
	s.run(s.engine)
	if d := s.waitAttempts(id, 1); d.Status != pathhook.DeliverySucceeded || rc.count() != 1 {
		t.Errorf("delivery %s, receiver got %d requests; want it sent once", d.Status, rc.count())
	}
}
