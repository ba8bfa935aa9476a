package storetest

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
)

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
	h.record(t, result(ds[4], 1, pathhook.DeliveryFailed, t1, 500))                        // ended meanwhile, as by a disable
	if err := h.db.Release(h.ctx, "node-a", h.leases(t, ds[1].ID, ds[2].ID)); err != nil { // ds[3] stays leased
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
	if jobs := h.claim(t, "node-b", now.Add(time.Hour), time.Minute, 10); len(jobs) != 0 {
		t.Errorf("claimed %v of a disabled webhook before its backlog was failed", jobIDs(jobs))
	}
	h.endBacklogs(t, 2)
	for _, d := range ds {
		eq(t, "status of "+d.ID, must(h.svc.Delivery(h.ctx, h.org, d.ID))(t).Status, pathhook.DeliveryFailed)
	}
	eq(t, "ended with the reason", h.count(t, "SELECT COUNT(*) FROM deliveries WHERE end_reason = 'the receiver answered 410 Gone'"), 2)
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

// testRecordBatch records one batch of 202 results, more than a
// statement's list holds, for three webhooks mixed: successes, retries and
// failures with and without a response, two results for one delivery
// (twice: a retry and then its success, and a result of attempt 2 and
// then a late one of attempt 1), a result for a delivery that is gone,
// and one that disables its webhook, all under the claim's lease. Each
// delivery ends as its first result left it: that one ends the lease, and
// a later result of the delivery under it comes late, logged but not
// deciding.
func testRecordBatch(t *testing.T, h *harness) {
	a, as := h.queued(t, 90) // succeed, retry and fail in turn
	b, bs := h.queued(t, 90) // succeed, the first after a failure before the batch
	c, cs := h.queued(t, 19) // the first disables the webhook; the others ask for retries
	now := h.clock.Now()
	h.claim(t, "node-a", now, time.Minute, 500)
	h.record(t, result(bs[0], 1, pathhook.DeliveryPending, now, 500))

	var rs []pathhook.Result
	decides := map[string]pathhook.Result{}
	attempts := map[string]int{bs[0].ID: 1}
	highest := map[string]int{bs[0].ID: 1}
	add := func(r pathhook.Result) {
		rs = append(rs, r)
		if _, ok := decides[r.DeliveryID]; !ok {
			decides[r.DeliveryID] = r
		}
		attempts[r.DeliveryID]++
		highest[r.DeliveryID] = max(highest[r.DeliveryID], r.Attempt.N)
	}
	at := func() time.Time { return now.Add(time.Duration(len(rs)+1) * time.Second) }
	errText := "connection reset by peer"
	var aSince, cSince time.Time
	for i := range 90 {
		switch i % 3 {
		case 0:
			add(result(as[i], 1, pathhook.DeliverySucceeded, at(), 200))
		case 1:
			if i == 88 {
				aSince = at() // the first failure after a's last success
			}
			n := 1
			if i == 4 {
				n = 2 // claimed again when the lease of attempt 1 ran out
			}
			add(result(as[i], n, pathhook.DeliveryPending, at(), 503))
		case 2:
			r := result(as[i], 1, pathhook.DeliveryFailed, at(), 0)
			r.Attempt.ResponseStatus, r.Attempt.Error = nil, &errText
			add(r)
		}
		n := 1
		if i == 0 {
			n = 2 // after the failure before the batch
		}
		add(result(bs[i], n, pathhook.DeliverySucceeded, at(), 204))
		switch {
		case i == 0:
			cSince = at()
			r := result(cs[0], 1, pathhook.DeliveryFailed, cSince, 410)
			r.DisableReason = "the receiver answered 410 Gone"
			add(r)
		case i < len(cs):
			add(result(cs[i], 1, pathhook.DeliveryPending, at(), 500))
		}
		if i == 10 { // close enough to share a list with the first results of as[1] and as[4]
			add(result(as[1], 2, pathhook.DeliverySucceeded, at(), 200))
			add(result(as[4], 1, pathhook.DeliveryPending, at(), 503))
			add(result(pathhook.Delivery{ID: "dlv_gone", WebhookID: b.ID}, 1, pathhook.DeliverySucceeded, at(), 200))
		}
	}
	eq(t, "results", len(rs), 202)
	h.record(t, rs...)

	for _, d := range append(append(as, bs...), cs...) {
		r := decides[d.ID]
		if d.WebhookID == c.ID {
			r.Status, r.NextAttemptAt = pathhook.DeliveryFailed, time.Time{}
		}
		checkRecorded(t, must(h.svc.Delivery(h.ctx, h.org, d.ID))(t), r, attempts[d.ID], highest[d.ID])
	}
	eq(t, "attempts", h.count(t, "SELECT COUNT(*) FROM attempts"), 1+90+90+19+2)
	eq(t, "attempts without a response", h.count(t, "SELECT COUNT(*) FROM attempts WHERE response_status IS NULL"), 30)
	eq(t, "attempts with an error", h.count(t, "SELECT COUNT(*) FROM attempts WHERE error IS NOT NULL"), 30)
	eq(t, "pending deliveries with an end", h.count(t, `SELECT COUNT(*) FROM deliveries WHERE status = 'pending'
		AND (ended_at IS NOT NULL OR end_reason IS NOT NULL OR due_at IS NULL OR next_attempt_at IS NULL)`), 0)
	eq(t, "ended deliveries still due", h.count(t, `SELECT COUNT(*) FROM deliveries WHERE status <> 'pending'
		AND (ended_at IS NULL OR due_at IS NOT NULL OR next_attempt_at IS NOT NULL)`), 0)
	eq(t, "retries failed by the disabled webhook", h.count(t, "SELECT COUNT(*) FROM deliveries WHERE end_reason = 'webhook disabled'"), 18)

	if fs := h.failingSince(t, a.ID); fs == nil || !fs.Equal(aSince) {
		t.Errorf("failing_since of a = %v, want the first failure after the last success, %v", fs, aSince)
	}
	if fs := h.failingSince(t, b.ID); fs != nil {
		t.Errorf("failing_since of b = %v after successes, want nil", fs)
	}
	if fs := h.failingSince(t, c.ID); fs == nil || !fs.Equal(cSince) {
		t.Errorf("failing_since of c = %v, want its first failure, %v", fs, cSince)
	}
	if got := must(h.svc.Webhook(h.ctx, h.org, c.ID))(t); got.Enabled {
		t.Error("webhook c is enabled after a result disabled it")
	}
}

// checkRecorded fails the test unless d is in the state that r, the result
// that decided it, leaves it in, with n attempts logged, the highest
// numbered count, and r's attempt among them.
func checkRecorded(t *testing.T, d *pathhook.Delivery, r pathhook.Result, n, count int) {
	t.Helper()
	var next *time.Time
	if r.Status == pathhook.DeliveryPending {
		next = &r.NextAttemptAt
	}
	if d.Status != r.Status || d.AttemptCount != count || len(d.Attempts) != n || d.LeaseOwner != "" ||
		(d.NextAttemptAt == nil) != (next == nil) || (next != nil && !d.NextAttemptAt.Equal(*next)) {
		t.Fatalf("delivery %s = %+v, want it left by %+v with %d attempts logged, count %d", d.ID, d, r, n, count)
	}
	got, want := d.Attempts[r.Attempt.N-1], r.Attempt
	if got.N != want.N || !got.StartedAt.Equal(want.StartedAt) || got.DurationMS != want.DurationMS ||
		got.ResponseBody != want.ResponseBody || !samePtr(got.ResponseStatus, want.ResponseStatus) || !samePtr(got.Error, want.Error) {
		t.Fatalf("attempt %d of %s = %+v, want %+v", want.N, d.ID, got, want)
	}
}

// samePtr reports whether a and b are both nil or point to equal values.
func samePtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// testRecordAgain writes again results whose Record may have been carried
// out: those their deliveries have counted are left out; the rest are
// recorded as Record records them, under the lease each names, so that a
// delivery claimed again since keeps its new lease.
func testRecordAgain(t *testing.T, h *harness) {
	_, ds := h.queued(t, 2)
	now := h.clock.Now()
	first := h.claim(t, "node-a", now, time.Minute, 10)
	t1 := now.Add(time.Second)
	saved := under(result(ds[0], 1, pathhook.DeliverySucceeded, t1, 200), "node-a", first[0])
	h.record(t, saved) // carried out, its answer lost
	lost := under(result(ds[1], 1, pathhook.DeliverySucceeded, t1, 200), "node-a", first[1])
	// node-a's lease on ds[1] runs out before the store answers again, and
	// node-b claims it.
	taken := h.claim(t, "node-b", first[1].LeaseUntil.Add(time.Second), time.Minute, 10)
	eqSlice(t, "taken over", jobIDs(taken), []string{ds[1].ID})

	if err := h.db.RecordAgain(h.ctx, []pathhook.Result{saved, lost}); err != nil {
		t.Fatal(err)
	}
	d0 := must(h.svc.Delivery(h.ctx, h.org, ds[0].ID))(t)
	if d0.Status != pathhook.DeliverySucceeded || d0.AttemptCount != 1 || len(d0.Attempts) != 1 {
		t.Errorf("a delivery whose result was recorded, after RecordAgain: %+v", d0)
	}
	d1 := must(h.svc.Delivery(h.ctx, h.org, ds[1].ID))(t)
	if d1.Status != pathhook.DeliveryPending || d1.AttemptCount != 1 || len(d1.Attempts) != 1 || d1.LeaseOwner != "node-b" ||
		!d1.LeaseUntil.Equal(taken[0].LeaseUntil) {
		t.Errorf("a delivery claimed again, after RecordAgain of the old lease's result: %+v (want it logged, counted, and node-b's still)", d1)
	}
	h.record(t, under(result(ds[1], 2, pathhook.DeliverySucceeded, t1.Add(time.Minute), 204), "node-b", taken[0]))
	if d1 = must(h.svc.Delivery(h.ctx, h.org, ds[1].ID))(t); d1.Status != pathhook.DeliverySucceeded || d1.AttemptCount != 2 {
		t.Errorf("node-b's delivery after its own result = %+v", d1)
	}
}
