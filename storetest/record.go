package storetest

import (
	"testing"
	"time"

	"github.com/pathhook/pathhook"
)

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
