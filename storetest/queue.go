package storetest

import (
	"context"
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

// leases returns the leases the deliveries of ids are under now; an id of
// no delivery has the zero lease.
func (h *harness) leases(t *testing.T, ids ...string) []pathhook.Lease {
	t.Helper()
	var ls []pathhook.Lease
	for _, id := range ids {
		l := pathhook.Lease{DeliveryID: id}
		if d, err := h.svc.Delivery(h.ctx, h.org, id); err == nil {
			l.Until = d.LeaseUntil
		} else if pathhook.ErrorCode(err) != pathhook.ENOTFOUND {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	return ls
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
	if err := h.db.Release(h.ctx, "node-b", h.leases(t, d.ID)); err != nil {
		t.Fatal(err)
	}
	if jobs := h.claim(t, "node-b", now, time.Minute, 10); len(jobs) != 0 {
		t.Fatal("a node released a lease that it did not hold")
	}
	// A job of an earlier lease of the same node (or of a process that ran
	// under its name before) hands back nothing of a later one.
	earlier := pathhook.Lease{DeliveryID: d.ID, Until: d.LeaseUntil.Add(-time.Second)}
	if err := h.db.Release(h.ctx, "node-a", []pathhook.Lease{earlier}); err != nil {
		t.Fatal(err)
	}
	if jobs := h.claim(t, "node-b", now, time.Minute, 10); len(jobs) != 0 {
		t.Fatal("a node released a lease under an earlier one")
	}
	// The store keeps a lease to the microsecond, as it keeps every time.
	held := []pathhook.Lease{{DeliveryID: d.ID, Until: d.LeaseUntil.Add(999 * time.Nanosecond)}, {DeliveryID: "dlv_unknown"}}
	if err := h.db.Release(h.ctx, "node-a", held); err != nil {
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
		if err := h.db.Park(h.ctx, "node-a", h.leases(t, ids...), until); err != nil {
			t.Fatal(err)
		}
	}
	earlier := h.leases(t, ds[0].ID)[0]
	earlier.Until = earlier.Until.Add(-time.Second)
	if err := h.db.Park(h.ctx, "node-a", []pathhook.Lease{earlier}, until); err != nil {
		t.Fatal(err)
	}
	if got := must(h.svc.Delivery(h.ctx, h.org, ds[0].ID))(t); got.LeaseOwner != "node-a" {
		t.Fatalf("a park under an earlier lease left %s leased to %q", ds[0].ID, got.LeaseOwner)
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

	// Parked again, then brought back, a bounded number at a time: due at
	// once, and nothing else moves.
	later := until.Add(time.Second)
	h.record(t, result(ds[4], 2, pathhook.DeliveryPending, later, 500)) // a retry at later+5s
	if err := h.db.Park(h.ctx, "node-c", h.leases(t, ds[0].ID, ds[1].ID), later.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{1, 1, 0} {
		if n, err := h.db.Unpark(h.ctx, w.ID, 1); err != nil || n != want {
			t.Fatalf("Unpark %d = %d, %v; want %d", i+1, n, err, want)
		}
	}
	eqSlice(t, "claimed once unparked", jobIDs(h.claim(t, "node-d", later, time.Minute, 10)), []string{ds[0].ID, ds[1].ID})
	next, ok, err = h.db.NextDue(h.ctx)
	if want := later.Add(5 * time.Second); err != nil || !ok || !next.Equal(want) {
		t.Errorf("NextDue after Unpark = %v, %v, %v; want the retry's, %v", next, ok, err, want)
	}

	// A node alone on the database, starting, brings back what was parked
	// and frees every lease (node-b's of ds[3] too).
	if err := h.db.Park(h.ctx, "node-d", h.leases(t, ds[0].ID), later.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.db.ReleaseAllLeases(h.ctx); err != nil {
		t.Fatal(err)
	}
	eqSlice(t, "claimed after ReleaseAllLeases", jobIDs(h.claim(t, "node-e", later, time.Minute, 10)),
		[]string{ds[0].ID, ds[1].ID, ds[3].ID})
}

// testParkDue: a webhook's due deliveries are parked without being claimed,
// a bounded number at a time, those due first first, at stepped turns up
// to the last; leased ones (unless the lease ran out), ones not yet due
// and other webhooks' stay as they are; Unpark brings them back.
func testParkDue(t *testing.T, h *harness) {
	w, ds := h.queued(t, 5)
	_, others := h.queued(t, 1)
	now := h.clock.Now()
	eqSlice(t, "claimed by node-a", jobIDs(h.claim(t, "node-a", now, 3*time.Hour, 1)), []string{ds[0].ID})
	// ds[4] fails its first attempt: its retry is due 5 s later.
	eqSlice(t, "claimed by node-b", jobIDs(h.claim(t, "node-b", now, time.Second, 4)), []string{ds[1].ID, ds[2].ID, ds[3].ID, ds[4].ID})
	h.record(t, result(ds[4], 1, pathhook.DeliveryPending, now, 500))
	later := now.Add(2 * time.Second) // node-b's leases have run out, node-a's not
	from := later.Add(time.Hour)
	parkDue := func(turns pathhook.Turns, limit, want int) {
		t.Helper()
		if n, err := h.db.ParkDue(h.ctx, w.ID, later, turns, limit); err != nil || n != want {
			t.Fatalf("ParkDue(%d) = %d, %v; want %d", limit, n, err, want)
		}
	}
	far := from.Add(time.Hour)
	// ds[1] at from, ds[2] at the last turn, a second later (not 5 s)
	parkDue(pathhook.Turns{From: from, Step: 5 * time.Second, Last: from.Add(time.Second)}, 2, 2)
	parkDue(pathhook.Turns{From: from.Add(2 * time.Second), Step: time.Second, Last: far}, 10, 1) // ds[3] two seconds later
	parkDue(pathhook.Turns{From: from, Step: time.Second, Last: far}, 10, 0)
	got := must(h.svc.Delivery(h.ctx, h.org, ds[1].ID))(t)
	eq(t, "a parked delivery's lease", got.LeaseOwner, "")
	eqSlice(t, "claimed after the parks", jobIDs(h.claim(t, "node-c", later, 3*time.Hour, 10)), []string{others[0].ID})
	eqSlice(t, "claimed once the retry is due", jobIDs(h.claim(t, "node-c", now.Add(5*time.Second), 3*time.Hour, 10)), []string{ds[4].ID})
	eqSlice(t, "claimed at the first turn", jobIDs(h.claim(t, "node-c", from, time.Minute, 10)), []string{ds[1].ID})
	eqSlice(t, "claimed at the second", jobIDs(h.claim(t, "node-c", from.Add(time.Second), time.Minute, 10)), []string{ds[2].ID})
	if n, err := h.db.Unpark(h.ctx, w.ID, 10); err != nil || n != 1 {
		t.Fatalf("Unpark = %d, %v; want 1", n, err)
	}
	eqSlice(t, "claimed once unparked", jobIDs(h.claim(t, "node-c", later, time.Minute, 10)), []string{ds[3].ID})
}

// testReleaseLeases holds what a node restarted under its old name frees:
// its predecessor's leases, and nothing of other nodes' or parked work.
func testReleaseLeases(t *testing.T, h *harness) {
	_, ds := h.queued(t, 4)
	now := h.clock.Now()
	eqSlice(t, "node-a claimed", jobIDs(h.claim(t, "node-a", now, time.Hour, 2)), []string{ds[0].ID, ds[1].ID})
	eqSlice(t, "node-b claimed", jobIDs(h.claim(t, "node-b", now, time.Hour, 1)), []string{ds[2].ID})
	if err := h.db.Park(h.ctx, "node-a", h.leases(t, ds[1].ID), now.Add(time.Hour)); err != nil {
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
	h.endBacklogs(t, 2)
	for _, d := range ds {
		eq(t, "status", must(h.svc.Delivery(h.ctx, h.org, d.ID))(t).Status, pathhook.DeliveryFailed)
	}
	eq(t, "ended with the reason", h.count(t, "SELECT COUNT(*) FROM deliveries WHERE end_reason = 'failing for 5 days'"), 2)
	eq(t, "healthy webhook enabled", must(h.svc.Webhook(h.ctx, h.org, healthy.ID))(t).Enabled, true)
}

// endBacklogs runs EndBacklogs, two deliveries a transaction, and checks
// how many it failed.
func (h *harness) endBacklogs(t *testing.T, want int) {
	t.Helper()
	eq(t, "deliveries failed by EndBacklogs", must(h.db.EndBacklogs(h.ctx, 2, h.clock.Now()))(t), want)
}

// testEndBacklog switches webhooks off and on: a switch-off leaves its
// backlog pending but unclaimed until EndBacklogs fails it, at the time
// of the switch-off, with its reason; switched on again before that, the
// webhook keeps its backlog; a second switch-off replaces the first.
func testEndBacklog(t *testing.T, h *harness) {
	off, on := false, true
	sw := func(id string, enabled *bool) time.Time {
		t.Helper()
		h.clock.Add(time.Second)
		return must(h.svc.SwitchWebhook(h.ctx, h.org, id, pathhook.WebhookSwitch{Enabled: enabled}))(t).UpdatedAt
	}
	status := func(ds []pathhook.Delivery, want string) {
		t.Helper()
		for _, d := range ds {
			eq(t, "status of "+d.ID, must(h.svc.Delivery(h.ctx, h.org, d.ID))(t).Status, want)
		}
	}
	w, ds := h.queued(t, 3)
	offAt := sw(w.ID, &off)
	status(ds, pathhook.DeliveryPending)
	if jobs := h.claim(t, "node-a", offAt.Add(time.Hour), time.Minute, 10); len(jobs) != 0 {
		t.Errorf("claimed %v of a webhook switched off", jobIDs(jobs))
	}
	h.clock.Add(time.Minute)
	h.endBacklogs(t, 3)
	status(ds, pathhook.DeliveryFailed)
	eq(t, "ended at the switch-off, for it", h.count(t, fmt.Sprintf(
		"SELECT COUNT(*) FROM deliveries WHERE webhook_id = %s AND ended_at = %d AND end_reason = 'webhook disabled'",
		quote(w.ID), offAt.UnixMicro())), 3)
	h.endBacklogs(t, 0)

	// Attempts under way at the switch-off: a success decides its
	// delivery, as the receiver took it; a retry leaves it failed.
	wi, dsi := h.queued(t, 2)
	now := h.clock.Now()
	jobs := h.claim(t, "node-a", now, time.Minute, 2)
	sw(wi.ID, &off)
	h.endBacklogs(t, 2)
	ok, retry := result(dsi[0], 1, pathhook.DeliverySucceeded, now, 200), result(dsi[1], 1, pathhook.DeliveryPending, now, 500)
	ok.LeaseOwner, ok.LeaseUntil = "node-a", jobs[0].LeaseUntil // the lease they ran under, which the switch-off ended
	retry.LeaseOwner, retry.LeaseUntil = "node-a", jobs[1].LeaseUntil
	h.record(t, ok, retry)
	status(dsi[:1], pathhook.DeliverySucceeded)
	status(dsi[1:], pathhook.DeliveryFailed)
	eq(t, "end reason of the success", h.count(t, "SELECT COUNT(*) FROM deliveries WHERE id = "+quote(dsi[0].ID)+" AND end_reason IS NULL"), 1)

	// Switched on again before EndBacklogs: the backlog is sent.
	w2, ds2 := h.queued(t, 2)
	sw(w2.ID, &off)
	sw(w2.ID, &on)
	h.endBacklogs(t, 0)
	status(ds2, pathhook.DeliveryPending)
	eqSlice(t, "claimed", jobIDs(h.claim(t, "node-a", h.clock.Now().Add(time.Hour), time.Minute, 10)), deliveryIDs(ds2))

	// Off, on and off again: the second switch-off's time.
	w3, ds3 := h.queued(t, 2)
	sw(w3.ID, &off)
	sw(w3.ID, &on)
	offAt = sw(w3.ID, &off)
	h.endBacklogs(t, 2)
	eq(t, "ended at the second switch-off", h.count(t, fmt.Sprintf(
		"SELECT COUNT(*) FROM deliveries WHERE webhook_id = %s AND ended_at = %d", quote(w3.ID), offAt.UnixMicro())), 2)
	status(ds3, pathhook.DeliveryFailed)
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

// testEndBacklogLingers: a delivery committed after its webhook's
// switch-off by a transaction that read the webhook as on (PostgreSQL does
// not lock it for the read) is failed by a later look, while the
// switch-off lingers; once it has lingered, the switch-off is unqueued.
func testEndBacklogLingers(t *testing.T, h *harness) {
	w, ds := h.queued(t, 1)
	off := false
	offAt := must(h.svc.SwitchWebhook(h.ctx, h.org, w.ID, pathhook.WebhookSwitch{Enabled: &off}))(t).UpdatedAt
	h.endBacklogs(t, 1)
	// The late transaction's event, made just before the switch-off.
	at := offAt.Add(-time.Second)
	ev := &pathhook.Event{ID: pathhook.NewID(pathhook.PrefixEvent, at), OrgID: h.org, PathwayID: w.PathwayID,
		Type: pathhook.TypeEnrolmentCreated, Category: pathhook.CategoryEnrolments, CreatedAt: at, Payload: []byte(`{}`)}
	next := at
	late := pathhook.Delivery{ID: pathhook.NewID(pathhook.PrefixDelivery, at), OrgID: h.org, WebhookID: w.ID, EventID: ev.ID,
		EventType: ev.Type, Status: pathhook.DeliveryPending, NextAttemptAt: &next, CreatedAt: at}
	if err := h.db.Update(h.ctx, func(tx pathhook.Tx) error { return tx.CreateEvent(h.ctx, ev, []pathhook.Delivery{late}) }); err != nil {
		t.Fatal(err)
	}
	h.endBacklogs(t, 1)
	eq(t, "status of the late delivery", must(h.svc.Delivery(h.ctx, h.org, late.ID))(t).Status, pathhook.DeliveryFailed)
	eq(t, "status of the backlog", must(h.svc.Delivery(h.ctx, h.org, ds[0].ID))(t).Status, pathhook.DeliveryFailed)
	eq(t, "switch-offs queued while lingering", h.count(t, "SELECT COUNT(*) FROM ending_backlogs"), 1)
	h.clock.Add(time.Hour)
	h.endBacklogs(t, 0)
	eq(t, "switch-offs queued after lingering", h.count(t, "SELECT COUNT(*) FROM ending_backlogs"), 0)
}
