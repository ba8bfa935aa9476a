package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
)

// nopDispatcher takes offered jobs and does nothing with them, as a node
// whose engine is busy would.
type nopDispatcher struct{}

func (nopDispatcher) Offer(context.Context, []pathhook.Job) {}

// queued makes a pathway with an enabled enrolments webhook and n pending,
// unleased deliveries to it, oldest first.
func (h *harness) queued(t *testing.T, n int) (*pathhook.Webhook, []pathhook.Delivery) {
	t.Helper()
	p := h.pathway(t, "Q")
	w := h.enable(t, p, pathhook.CategoryEnrolments)
	for i := range n {
		h.enrol(t, p, fmt.Sprintf("learner-%03d", i))
	}
	ds := h.deliveries(t, w.ID)
	slices.Reverse(ds)
	return w, ds
}

func (h *harness) claim(t *testing.T, owner string, now time.Time, lease time.Duration, limit int) []pathhook.Job {
	t.Helper()
	return must(h.db.ClaimDue(h.ctx, owner, now, now.Add(lease), limit))(t)
}

func jobIDs(jobs []pathhook.Job) []string {
	return ids(jobs, func(j pathhook.Job) string { return j.DeliveryID })
}

func deliveryIDs(ds []pathhook.Delivery) []string {
	return ids(ds, func(d pathhook.Delivery) string { return d.ID })
}

func testClaim(t *testing.T, h *harness) {
	w, ds := h.queued(t, 3)
	leased := pathhook.NewService(pathhook.Config{Store: h.db, Clock: h.clock.Now, Dispatcher: nopDispatcher{},
		Lease: pathhook.LeaseOwner{Owner: "node-b", For: time.Minute}})
	p := must(h.svc.Pathway(h.ctx, h.org, w.PathwayID))(t)
	must(leased.Enrol(h.ctx, h.org, p.ID, pathhook.EnrolmentInput{Learner: &pathhook.Learner{ID: "leased"}}))(t)

	if jobs := h.claim(t, "node-a", ds[0].CreatedAt.Add(-time.Second), time.Second, 10); len(jobs) != 0 {
		t.Errorf("claimed %d deliveries before they were due", len(jobs))
	}
	now := h.clock.Now()
	jobs := h.claim(t, "node-a", now, 30*time.Second, 10)
	eqSlice(t, "claimed, in due order", jobIDs(jobs), deliveryIDs(ds))
	j := jobs[0]
	ev := must(h.svc.DeliveryEvent(h.ctx, h.org, j.DeliveryID))(t)
	if j.URL != *w.URL || len(j.Secrets) != 1 || string(j.Secrets[0]) != string(w.Secret) || string(j.Body) != string(ev.Payload) ||
		j.Attempt != 1 || j.EventID != ev.ID || j.EventType != pathhook.TypeEnrolmentCreated || j.OrgID != h.org ||
		j.WebhookID != w.ID || j.Manual || !j.LeaseUntil.Equal(now.Add(30*time.Second)) || !j.CreatedAt.Equal(ds[0].CreatedAt) {
		t.Errorf("job = %+v", j)
	}
	if again := h.claim(t, "node-c", now, time.Second, 10); len(again) != 0 {
		t.Errorf("claimed %v, which other leases hold", jobIDs(again))
	}
	// Leases that ran out are taken over; node-b's lease lasts longer.
	later := now.Add(31 * time.Second)
	eqSlice(t, "claimed after the leases ran out", jobIDs(h.claim(t, "node-c", later, time.Second, 10)), deliveryIDs(ds))
	muchLater := now.Add(2 * time.Minute)
	if jobs := h.claim(t, "node-c", muchLater, time.Second, 2); len(jobs) != 2 {
		t.Errorf("claimed %d with limit 2", len(jobs))
	}
	if jobs := h.claim(t, "node-c", muchLater, time.Second, 10); len(jobs) != 2 {
		t.Errorf("claimed %d of the remaining 2", len(jobs))
	}
}

func testConcurrentClaims(t *testing.T, h *harness) {
	_, ds := h.queued(t, 40)
	now := h.clock.Now()
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	for c := range 4 {
		owner := fmt.Sprintf("node-%d", c)
		wg.Go(func() {
			for {
				jobs, err := h.db.ClaimDue(h.ctx, owner, now, now.Add(time.Minute), 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(jobs) == 0 {
					return
				}
				mu.Lock()
				for _, j := range jobs {
					if other, ok := seen[j.DeliveryID]; ok {
						t.Errorf("%s claimed by %s and %s", j.DeliveryID, other, owner)
					}
					seen[j.DeliveryID] = owner
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	eq(t, "deliveries claimed", len(seen), len(ds))
}

// result is an attempt's outcome for Record.
func result(d pathhook.Delivery, n int, status string, at time.Time, code int) pathhook.Result {
	r := pathhook.Result{DeliveryID: d.ID, WebhookID: d.WebhookID, Status: status,
		Attempt: pathhook.Attempt{N: n, StartedAt: at, DurationMS: 7, ResponseStatus: &code, ResponseBody: fmt.Sprintf("answer %d", code)}}
	if status == pathhook.DeliveryPending {
		r.NextAttemptAt = at.Add(5 * time.Second)
	}
	return r
}

// record records rs as the node that holds each delivery's lease now
// would: a result without a lease of its own is given the delivery's.
func (h *harness) record(t *testing.T, rs ...pathhook.Result) {
	t.Helper()
	rs = slices.Clone(rs)
	for i := range rs {
		if r := &rs[i]; r.LeaseOwner == "" && r.LeaseUntil.IsZero() {
			r.LeaseOwner, r.LeaseUntil = h.lease(t, r.DeliveryID)
		}
	}
	if err := h.db.Record(h.ctx, rs); err != nil {
		t.Fatal(err)
	}
}

// lease returns the lease a delivery is under, if it exists.
func (h *harness) lease(t *testing.T, id string) (string, time.Time) {
	t.Helper()
	var owner string
	var until int64
	err := h.db.SQL().QueryRowContext(h.ctx, "SELECT lease_owner, lease_until FROM deliveries WHERE id = "+quote(id)).Scan(&owner, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}
	}
	if err != nil {
		t.Fatal(err)
	}
	if until == 0 {
		return owner, time.Time{}
	}
	return owner, time.UnixMicro(until)
}

func (h *harness) failingSince(t *testing.T, id string) *time.Time {
	t.Helper()
	return must(h.svc.Webhook(h.ctx, h.org, id))(t).FailingSince
}

// under gives r the lease of a job that node claimed.
func under(r pathhook.Result, node string, job pathhook.Job) pathhook.Result {
	r.LeaseOwner, r.LeaseUntil = node, job.LeaseUntil
	return r
}

func testRecord(t *testing.T, h *harness) {
	w, ds := h.queued(t, 3)
	now := h.clock.Now()
	first := h.claim(t, "node-a", now, time.Minute, 10)
	t1, t2, t3 := now.Add(time.Second), now.Add(2*time.Second), now.Add(3*time.Second)
	h.record(t, result(ds[0], 1, pathhook.DeliveryPending, t1, 500), result(ds[1], 1, pathhook.DeliverySucceeded, t2, 200),
		result(ds[2], 1, pathhook.DeliveryPending, t3, 503))
	if fs := h.failingSince(t, w.ID); fs == nil || !fs.Equal(t3) {
		t.Errorf("failing_since = %v, want the first failure after the last success, %v", fs, t3)
	}
	d0 := must(h.svc.Delivery(h.ctx, h.org, ds[0].ID))(t)
	if d0.Status != pathhook.DeliveryPending || d0.AttemptCount != 1 || d0.NextAttemptAt == nil || !d0.NextAttemptAt.Equal(t1.Add(5*time.Second)) ||
		d0.LeaseOwner != "" || len(d0.Attempts) != 1 || *d0.Attempts[0].ResponseStatus != 500 || !d0.Attempts[0].StartedAt.Equal(t1) ||
		d0.Attempts[0].DurationMS != 7 || d0.Attempts[0].ResponseBody != "answer 500" {
		t.Errorf("retried delivery = %+v", d0)
	}
	d1 := must(h.svc.Delivery(h.ctx, h.org, ds[1].ID))(t)
	if d1.Status != pathhook.DeliverySucceeded || d1.NextAttemptAt != nil || d1.AttemptCount != 1 {
		t.Errorf("succeeded delivery = %+v", d1)
	}
	// Retries are claimable once due, with the next attempt number.
	jobs := h.claim(t, "node-a", t3.Add(5*time.Second), time.Minute, 10)
	eqSlice(t, "claimed retries", jobIDs(jobs), []string{ds[0].ID, ds[2].ID})
	eq(t, "next attempt", jobs[0].Attempt, 2)

	t4 := now.Add(10 * time.Second)
	errText := "connection refused"
	r := result(ds[0], 2, pathhook.DeliveryFailed, t4, 0)
	r.Attempt.ResponseStatus, r.Attempt.Error = nil, &errText
	h.record(t, under(r, "node-a", jobs[0]))
	if fs := h.failingSince(t, w.ID); fs == nil || !fs.Equal(t3) {
		t.Errorf("failing_since = %v, want it kept at %v", fs, t3)
	}
	d0 = must(h.svc.Delivery(h.ctx, h.org, ds[0].ID))(t)
	if d0.Status != pathhook.DeliveryFailed || d0.AttemptCount != 2 || len(d0.Attempts) != 2 || d0.Attempts[1].Error == nil ||
		*d0.Attempts[1].Error != errText || d0.Attempts[1].ResponseStatus != nil {
		t.Errorf("failed delivery = %+v", d0)
	}

	// Results written late, under a lease that has ended (their node's
	// ran out while it retried the write; the delivery was recorded, or
	// claimed by another node, since), are logged but decide nothing: a
	// retry of ds[2]'s first attempt, a failure of ds[1]'s, which
	// succeeded, and ds[2]'s retry under node-a's second lease once
	// node-b has claimed it.
	h.record(t, under(result(ds[2], 1, pathhook.DeliveryPending, t4, 502), "node-a", first[2]),
		under(result(ds[1], 1, pathhook.DeliveryFailed, t4, 500), "node-a", first[1]))
	d2 := must(h.svc.Delivery(h.ctx, h.org, ds[2].ID))(t)
	if d2.AttemptCount != 1 || len(d2.Attempts) != 2 || d2.LeaseOwner != "node-a" || !d2.LeaseUntil.Equal(jobs[1].LeaseUntil) {
		t.Errorf("delivery after a late result = %+v", d2)
	}
	if d1 := must(h.svc.Delivery(h.ctx, h.org, ds[1].ID))(t); d1.Status != pathhook.DeliverySucceeded || d1.NextAttemptAt != nil {
		t.Errorf("succeeded delivery after a late failure = %+v", d1)
	}
	taken := h.claim(t, "node-b", jobs[1].LeaseUntil.Add(time.Second), time.Minute, 10) // node-a's lease ran out
	eqSlice(t, "taken over", jobIDs(taken), []string{ds[2].ID})
	h.record(t, under(result(ds[2], 2, pathhook.DeliveryPending, t4, 503), "node-a", jobs[1]))
	if d2 = must(h.svc.Delivery(h.ctx, h.org, ds[2].ID))(t); d2.LeaseOwner != "node-b" || d2.Status != pathhook.DeliveryPending ||
		d2.AttemptCount != 2 { // counted, so that the next attempt is 3
		t.Errorf("node-b's delivery after node-a's late result = %+v", d2)
	}
	h.record(t, under(result(ds[2], 2, pathhook.DeliverySucceeded, t4.Add(time.Second), 204), "node-b", taken[0]))
	if fs := h.failingSince(t, w.ID); fs != nil {
		t.Errorf("failing_since = %v after a success, want nil", fs)
	}
	if d2 = must(h.svc.Delivery(h.ctx, h.org, ds[2].ID))(t); d2.Status != pathhook.DeliverySucceeded || d2.AttemptCount != 2 {
		t.Errorf("delivery after node-b's success = %+v", d2)
	}
}

// testRestore records results kept by a process that died: those already
// recorded, of deliveries leased to another node, ended or gone, are left out,
// and of two results of one attempt the later counts. Deliveries leased to
// the name the process runs again under are its own.
func testRestore(t *testing.T, h *harness) {
	_, ds := h.queued(t, 5)
	now := h.clock.Now()
	h.claim(t, "node-a", now, time.Minute, 10)
	t1, t2 := now.Add(time.Second), now.Add(2*time.Second)
	h.record(t, result(ds[0], 1, pathhook.DeliverySucceeded, t1, 200))
	h.record(t, result(ds[4], 1, pathhook.DeliveryFailed, t1, 500))                     // ended meanwhile, as by a disable
	if err := h.db.Release(h.ctx, "node-a", []string{ds[1].ID, ds[2].ID}); err != nil { // ds[3] stays leased
		t.Fatal(err)
	}
	kept := []pathhook.Result{
		result(ds[0], 1, pathhook.DeliverySucceeded, t1, 200), // recorded before the process died
		result(ds[1], 1, pathhook.DeliveryPending, t1, 503),
		result(ds[1], 2, pathhook.DeliverySucceeded, t2, 204),
		result(ds[2], 1, pathhook.DeliveryPending, t1, 500), // sent again: the later result counts
		result(ds[2], 1, pathhook.DeliveryPending, t2, 502),
		result(ds[3], 1, pathhook.DeliverySucceeded, t2, 200),
		result(pathhook.Delivery{ID: "dlv_gone", WebhookID: ds[0].WebhookID}, 1, pathhook.DeliverySucceeded, t2, 200),
		result(ds[4], 2, pathhook.DeliverySucceeded, t2, 200),
	}
	n, err := h.db.Restore(h.ctx, "node-b", kept)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "results restored", n, 3)
	d0 := must(h.svc.Delivery(h.ctx, h.org, ds[0].ID))(t)
	eq(t, "attempts of the delivery recorded before", len(d0.Attempts), 1)
	d1 := must(h.svc.Delivery(h.ctx, h.org, ds[1].ID))(t)
	if d1.Status != pathhook.DeliverySucceeded || d1.AttemptCount != 2 || len(d1.Attempts) != 2 || *d1.Attempts[1].ResponseStatus != 204 ||
		d1.LeaseOwner != "" {
		t.Errorf("restored delivery = %+v", d1)
	}
	d2 := must(h.svc.Delivery(h.ctx, h.org, ds[2].ID))(t)
	if d2.Status != pathhook.DeliveryPending || d2.AttemptCount != 1 || len(d2.Attempts) != 1 || *d2.Attempts[0].ResponseStatus != 502 ||
		d2.NextAttemptAt == nil || !d2.NextAttemptAt.Equal(t2.Add(5*time.Second)) {
		t.Errorf("restored retry = %+v", d2)
	}
	d3 := must(h.svc.Delivery(h.ctx, h.org, ds[3].ID))(t)
	if d3.LeaseOwner != "node-a" || len(d3.Attempts) != 0 {
		t.Errorf("a delivery leased to another node was restored: %+v", d3)
	}
	// Restoring again changes nothing.
	eq(t, "results restored twice", must(h.db.Restore(h.ctx, "node-b", kept))(t), 0)
	eq(t, "attempts after restoring twice", len(must(h.svc.Delivery(h.ctx, h.org, ds[1].ID))(t).Attempts), 2)
	// Due at its retry, not before.
	eqSlice(t, "claimed at the retry", jobIDs(h.claim(t, "node-b", t2.Add(5*time.Second), time.Minute, 10)), []string{ds[2].ID})

	// node-a, started again, restores what it kept of the delivery it
	// still holds.
	eq(t, "results restored by the holder", must(h.db.Restore(h.ctx, "node-a", kept))(t), 1)
	d3 = must(h.svc.Delivery(h.ctx, h.org, ds[3].ID))(t)
	if d3.Status != pathhook.DeliverySucceeded || d3.LeaseOwner != "" || len(d3.Attempts) != 1 {
		t.Errorf("the holder's delivery after its restore = %+v", d3)
	}
	if d4 := must(h.svc.Delivery(h.ctx, h.org, ds[4].ID))(t); d4.Status != pathhook.DeliveryFailed || len(d4.Attempts) != 1 {
		t.Errorf("a delivery that had ended was restored: %+v", d4)
	}
}

func testRecordDisables(t *testing.T, h *harness) {
	w, ds := h.queued(t, 3)
	now := h.clock.Now()
	h.claim(t, "node-a", now, time.Minute, 1)
	r := result(ds[0], 1, pathhook.DeliveryFailed, now, 410)
	r.DisableReason = "the receiver answered 410 Gone"
	h.record(t, r)
	got := must(h.svc.Webhook(h.ctx, h.org, w.ID))(t)
	if got.Enabled || got.DisabledReason == nil || *got.DisabledReason != r.DisableReason {
		t.Errorf("webhook after 410 = %+v", got)
	}
	for _, d := range ds {
		eq(t, "status of "+d.ID, must(h.svc.Delivery(h.ctx, h.org, d.ID))(t).Status, pathhook.DeliveryFailed)
	}
	// A retry that was in flight for the disabled webhook ends as failed.
	h.record(t, result(ds[1], 1, pathhook.DeliveryPending, now.Add(time.Second), 500))
	d1 := must(h.svc.Delivery(h.ctx, h.org, ds[1].ID))(t)
	if d1.Status != pathhook.DeliveryFailed || len(d1.Attempts) != 1 {
		t.Errorf("retry for a disabled webhook = %+v", d1)
	}
	if jobs := h.claim(t, "node-a", now.Add(time.Hour), time.Minute, 10); len(jobs) != 0 {
		t.Errorf("claimed %v of a disabled webhook", jobIDs(jobs))
	}
}

func testRelease(t *testing.T, h *harness) {
	p := h.pathway(t, "P")
	h.enable(t, p, pathhook.CategoryEnrolments)
	svc := pathhook.NewService(pathhook.Config{Store: h.db, Clock: h.clock.Now, Dispatcher: nopDispatcher{},
		Lease: pathhook.LeaseOwner{Owner: "node-a", For: time.Hour}})
	must(svc.Enrol(h.ctx, h.org, p.ID, pathhook.EnrolmentInput{Learner: &pathhook.Learner{ID: "ada"}}))(t)
	d := h.deliveries(t, p.Webhooks[0].ID)[0]
	eq(t, "lease owner", d.LeaseOwner, "node-a")
	now := h.clock.Now()
	if jobs := h.claim(t, "node-b", now, time.Minute, 10); len(jobs) != 0 {
		t.Fatalf("claimed %v under another node's lease", jobIDs(jobs))
	}
	if err := h.db.Release(h.ctx, "node-b", []string{d.ID}); err != nil {
		t.Fatal(err)
	}
	if jobs := h.claim(t, "node-b", now, time.Minute, 10); len(jobs) != 0 {
		t.Fatal("a node released a lease that it did not hold")
	}
	if err := h.db.Release(h.ctx, "node-a", []string{d.ID, "dlv_unknown"}); err != nil {
		t.Fatal(err)
	}
	eqSlice(t, "claimed after release", jobIDs(h.claim(t, "node-b", now, time.Minute, 10)), []string{d.ID})
}

func testPark(t *testing.T, h *harness) {
	w, ds := h.queued(t, 5)
	now := h.clock.Now()
	eq(t, "claimed by node-a", len(h.claim(t, "node-a", now, time.Hour, 3)), 3)
	eq(t, "claimed by node-b", len(h.claim(t, "node-b", now, time.Hour, 1)), 1)
	eq(t, "claimed by node-a", len(h.claim(t, "node-a", now, time.Hour, 1)), 1)
	// ds[2] succeeds; ds[4] fails and waits for its retry, 5 s later.
	h.record(t, result(ds[2], 1, pathhook.DeliverySucceeded, now, 200), result(ds[4], 1, pathhook.DeliveryPending, now, 500))
	until := now.Add(30 * time.Second)
	park := func(ids []string, until time.Time) {
		t.Helper()
		if err := h.db.Park(h.ctx, "node-a", ids, until); err != nil {
			t.Fatal(err)
		}
	}
	park(append(deliveryIDs(ds), "dlv_unknown"), until)
	park([]string{ds[0].ID}, now.Add(2*time.Hour)) // node-a no longer holds it
	lease := func(d pathhook.Delivery) string {
		got := must(h.svc.Delivery(h.ctx, h.org, d.ID))(t)
		return fmt.Sprintf("%s %q until %s", got.Status, got.LeaseOwner, got.LeaseUntil.Format(time.RFC3339Nano))
	}
	at := func(status, owner string, until time.Time) string {
		return fmt.Sprintf("%s %q until %s", status, owner, until.Format(time.RFC3339Nano))
	}
	eq(t, "parked", lease(ds[0]), at(pathhook.DeliveryPending, "", time.Time{}))
	eq(t, "parked", lease(ds[1]), at(pathhook.DeliveryPending, "", time.Time{}))
	eq(t, "ended delivery", lease(ds[2]), at(pathhook.DeliverySucceeded, "", time.Time{}))
	eq(t, "another node's lease", lease(ds[3]), at(pathhook.DeliveryPending, "node-b", now.Add(time.Hour)))
	next, ok, err := h.db.NextDue(h.ctx)
	if want := now.Add(5 * time.Second); err != nil || !ok || !next.Equal(want) {
		t.Errorf("NextDue = %v, %v, %v; want the retry's, %v", next, ok, err, want)
	}
	eqSlice(t, "claimed before the parks end", jobIDs(h.claim(t, "node-c", until.Add(-time.Millisecond), time.Minute, 10)),
		[]string{ds[4].ID})
	eqSlice(t, "claimed once the parks end", jobIDs(h.claim(t, "node-c", until, time.Minute, 10)),
		[]string{ds[0].ID, ds[1].ID})

	// Parked again, then brought back: due at once, and nothing else moves.
	later := until.Add(time.Second)
	h.record(t, result(ds[4], 2, pathhook.DeliveryPending, later, 500)) // a retry at later+5s
	if err := h.db.Park(h.ctx, "node-c", []string{ds[0].ID, ds[1].ID}, later.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := h.db.Unpark(h.ctx, w.ID, later); err != nil {
		t.Fatal(err)
	}
	eqSlice(t, "claimed once unparked", jobIDs(h.claim(t, "node-d", later, time.Minute, 10)), []string{ds[0].ID, ds[1].ID})
	next, ok, err = h.db.NextDue(h.ctx)
	if want := later.Add(5 * time.Second); err != nil || !ok || !next.Equal(want) {
		t.Errorf("NextDue after Unpark = %v, %v, %v; want the retry's, %v", next, ok, err, want)
	}

	// A node alone on the database, starting, brings back what was parked
	// and frees every lease (node-b's of ds[3] too).
	if err := h.db.Park(h.ctx, "node-d", []string{ds[0].ID}, later.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.db.ReleaseAllLeases(h.ctx); err != nil {
		t.Fatal(err)
	}
	eqSlice(t, "claimed after ReleaseAllLeases", jobIDs(h.claim(t, "node-e", later, time.Minute, 10)),
		[]string{ds[0].ID, ds[1].ID, ds[3].ID})
}

// testReleaseLeases holds what a node restarted under its old name frees:
// its predecessor's leases, and nothing of other nodes' or parked work.
func testReleaseLeases(t *testing.T, h *harness) {
	_, ds := h.queued(t, 4)
	now := h.clock.Now()
	eqSlice(t, "node-a claimed", jobIDs(h.claim(t, "node-a", now, time.Hour, 2)), []string{ds[0].ID, ds[1].ID})
	eqSlice(t, "node-b claimed", jobIDs(h.claim(t, "node-b", now, time.Hour, 1)), []string{ds[2].ID})
	if err := h.db.Park(h.ctx, "node-a", []string{ds[1].ID}, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.db.ReleaseLeases(h.ctx, ""); pathhook.ErrorCode(err) != pathhook.EINVALID {
		t.Errorf("ReleaseLeases with no owner = %v, want an %s error", err, pathhook.EINVALID)
	}
	n, err := h.db.ReleaseLeases(h.ctx, "node-a")
	if err != nil || n != 1 {
		t.Fatalf("ReleaseLeases(node-a) = %d, %v; want 1 (its parked delivery is not leased)", n, err)
	}
	eqSlice(t, "claimed after node-a's release", jobIDs(h.claim(t, "node-c", now, time.Hour, 10)), []string{ds[0].ID, ds[3].ID})
	if n, err := h.db.ReleaseLeases(h.ctx, "node-a"); err != nil || n != 0 {
		t.Errorf("ReleaseLeases(node-a) again = %d, %v; want 0", n, err)
	}
	got := must(h.svc.Delivery(h.ctx, h.org, ds[2].ID))(t)
	eq(t, "node-b's lease", got.LeaseOwner, "node-b")
}

func testDisableFailing(t *testing.T, h *harness) {
	w, ds := h.queued(t, 2)
	p := must(h.svc.Pathway(h.ctx, h.org, w.PathwayID))(t)
	healthy := h.enable(t, p, pathhook.CategoryBookings)
	now := h.clock.Now()
	h.record(t, result(ds[0], 1, pathhook.DeliveryPending, now, 500))
	if ids := must(h.db.DisableFailing(h.ctx, now, now, "failing"))(t); len(ids) != 0 {
		t.Errorf("disabled %v failing only since the cutoff", ids)
	}
	later := now.Add(time.Hour)
	ids := must(h.db.DisableFailing(h.ctx, now.Add(time.Millisecond), later, "failing for 5 days"))(t)
	eqSlice(t, "disabled", ids, []string{w.ID})
	got := must(h.svc.Webhook(h.ctx, h.org, w.ID))(t)
	if got.Enabled || got.DisabledReason == nil || *got.DisabledReason != "failing for 5 days" || !got.UpdatedAt.Equal(later) {
		t.Errorf("disabled webhook = %+v", got)
	}
	for _, d := range ds {
		eq(t, "status", must(h.svc.Delivery(h.ctx, h.org, d.ID))(t).Status, pathhook.DeliveryFailed)
	}
	eq(t, "healthy webhook enabled", must(h.svc.Webhook(h.ctx, h.org, healthy.ID))(t).Enabled, true)
}

func testPrune(t *testing.T, h *harness) {
	p := h.pathway(t, "P")
	h.enrol(t, p, "nobody-listens") // an event without deliveries
	w, ds := h.queued(t, 3)
	now := h.clock.Now()
	h.record(t, result(ds[0], 1, pathhook.DeliverySucceeded, now, 200), result(ds[1], 1, pathhook.DeliveryPending, now, 500))
	cutoff := h.clock.Now()
	_, fresh := h.queued(t, 1)
	h.record(t, result(fresh[0], 1, pathhook.DeliveryFailed, h.clock.Now(), 400))
	events, attempts := h.count(t, "SELECT COUNT(*) FROM events"), h.count(t, "SELECT COUNT(*) FROM attempts")

	n := must(h.db.Prune(h.ctx, cutoff))(t)
	eq(t, "deliveries pruned", n, 1)
	_, err := h.svc.Delivery(h.ctx, h.org, ds[0].ID)
	wantCode(t, err, pathhook.ENOTFOUND)
	for _, d := range []pathhook.Delivery{ds[1], ds[2], fresh[0]} {
		must(h.svc.Delivery(h.ctx, h.org, d.ID))(t)
	}
	eq(t, "events left", h.count(t, "SELECT COUNT(*) FROM events"), events-2)
	eq(t, "attempts left", h.count(t, "SELECT COUNT(*) FROM attempts"), attempts-1)
	eq(t, "deliveries of the webhook", len(h.deliveries(t, w.ID)), 2)
	eq(t, "pruned again", must(h.db.Prune(h.ctx, cutoff))(t), 0)
}

func testQueueStats(t *testing.T, h *harness) {
	n, oldest, err := h.db.QueueStats(h.ctx)
	if err != nil || n != 0 || !oldest.IsZero() {
		t.Errorf("QueueStats on an empty queue = %d, %v, %v", n, oldest, err)
	}
	if _, ok, err := h.db.NextDue(h.ctx); ok || err != nil {
		t.Errorf("NextDue on an empty queue: ok %v, %v", ok, err)
	}
	_, ds := h.queued(t, 2)
	n, oldest, err = h.db.QueueStats(h.ctx)
	if err != nil || n != 2 || !oldest.Equal(ds[0].CreatedAt) {
		t.Errorf("QueueStats = %d, %v, %v; want 2, %v", n, oldest, err, ds[0].CreatedAt)
	}
	next, ok, err := h.db.NextDue(h.ctx)
	if err != nil || !ok || !next.Equal(*ds[0].NextAttemptAt) {
		t.Errorf("NextDue = %v, %v, %v; want %v", next, ok, err, *ds[0].NextAttemptAt)
	}
	// While leased, a delivery is due when its lease runs out.
	now := h.clock.Now()
	h.claim(t, "node-a", now, time.Minute, 10)
	next, ok, err = h.db.NextDue(h.ctx)
	if err != nil || !ok || !next.Equal(now.Add(time.Minute)) {
		t.Errorf("NextDue while leased = %v, %v, %v; want %v", next, ok, err, now.Add(time.Minute))
	}
	h.record(t, result(ds[0], 1, pathhook.DeliverySucceeded, now, 200), result(ds[1], 1, pathhook.DeliveryPending, now, 500))
	next, ok, err = h.db.NextDue(h.ctx)
	if err != nil || !ok || !next.Equal(now.Add(5*time.Second)) {
		t.Errorf("NextDue after a retry = %v, %v, %v; want %v", next, ok, err, now.Add(5*time.Second))
	}
	if n, _, _ := h.db.QueueStats(h.ctx); n != 1 {
		t.Errorf("pending after recording = %d, want 1", n)
	}
}
