package delivery

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/signature"
)

func TestRetriesUntilSuccessWithTheSameBodyAndSignature(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n < 2 {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("not yet"))
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	h := setup(t, nil)
	h.start()
	job := h.offer(newJob("wh_a", 1, rc.URL))[0]

	d := h.waitAttempts(job.DeliveryID, 1)
	if d.status != pathhook.DeliveryPending || !d.next.Equal(h.clock.Now().Add(5*time.Second)) {
		t.Fatalf("after attempt 1: status %s, next %s; want pending, in 5s", d.status, d.next)
	}
	h.advance(4 * time.Second)
	if rc.count() != 1 {
		t.Fatalf("attempted before the retry was due")
	}
	h.advance(time.Second)
	d = h.waitAttempts(job.DeliveryID, 2)
	if want := h.clock.Now().Add(5 * time.Minute); d.status != pathhook.DeliveryPending || !d.next.Equal(want) {
		t.Fatalf("after attempt 2: status %s, next %s; want pending at %s", d.status, d.next, want)
	}
	h.advance(5 * time.Minute)
	d = h.waitAttempts(job.DeliveryID, 3)
	if d.status != pathhook.DeliverySucceeded {
		t.Fatalf("after attempt 3: status %s, want succeeded", d.status)
	}

	got := rc.got()
	if len(got) != 3 {
		t.Fatalf("receiver got %d requests, want 3", len(got))
	}
	for i, r := range got {
		if !bytes.Equal(r.body, job.Body) {
			t.Errorf("attempt %d body = %q, want %q", i+1, r.body, job.Body)
		}
		if sig := r.header.Get("ByteKast-Webhook-Signature"); sig != signature.Sign(job.Secrets[0], job.Body) {
			t.Errorf("attempt %d signature = %q", i+1, sig)
		}
		if a := r.header.Get("ByteKast-Webhook-Attempt"); a != strconv.Itoa(i+1) {
			t.Errorf("attempt %d has attempt header %q", i+1, a)
		}
		if id := r.header.Get("ByteKast-Webhook-Delivery"); id != job.DeliveryID {
			t.Errorf("attempt %d has delivery header %q", i+1, id)
		}
	}
	for i, a := range d.attempts {
		if a.N != i+1 || a.ResponseStatus == nil || a.Error != nil {
			t.Errorf("attempt %d recorded as %+v", i+1, a)
		}
	}
	if d.attempts[0].ResponseBody != "not yet" || *d.attempts[0].ResponseStatus != 500 || d.attempts[2].ResponseBody != "ok" {
		t.Errorf("recorded answers: %q %d, %q", d.attempts[0].ResponseBody, *d.attempts[0].ResponseStatus, d.attempts[2].ResponseBody)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 0 {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	h := setup(t, nil)
	h.start()
	job := h.offer(newJob("wh_a", 1, rc.URL))[0]
	d := h.waitAttempts(job.DeliveryID, 1)
	if want := h.clock.Now().Add(time.Hour); !d.next.Equal(want) {
		t.Fatalf("next attempt at %s, want %s", d.next, want)
	}
	h.advance(59 * time.Minute)
	h.advance(time.Minute)
	d = h.waitAttempts(job.DeliveryID, 2)
	if d.status != pathhook.DeliverySucceeded || rc.count() != 2 {
		t.Fatalf("status %s after %d requests", d.status, rc.count())
	}
}

func TestGoneDisablesTheWebhook(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		<-release
		w.WriteHeader(http.StatusGone)
	})
	h := setup(t, func(c *Config) { c.PerWebhook = 1 })
	h.start()
	jobs := h.offer(newJob("wh_a", 1, rc.URL), newJob("wh_a", 2, rc.URL), newJob("wh_a", 3, rc.URL))
	waitFor(t, "the first attempt", func() bool { return rc.count() == 1 })
	close(release)
	d := h.waitAttempts(jobs[0].DeliveryID, 1)
	if d.status != pathhook.DeliveryFailed {
		t.Errorf("status %s, want failed", d.status)
	}
	if hk := h.store.hook("wh_a"); hk.enabled || hk.reason != "receiver answered 410 Gone" {
		t.Errorf("webhook enabled %v, reason %q", hk.enabled, hk.reason)
	}
	// Once the result is recorded, the chores fail the webhook's backlog.
	for _, j := range jobs[1:] {
		waitFor(t, j.DeliveryID+" to be failed", func() bool { return h.store.delivery(j.DeliveryID).status == pathhook.DeliveryFailed })
	}
	h.stop()
	if rc.count() != 1 {
		t.Errorf("receiver got %d requests; the queued ones should have been dropped", rc.count())
	}
	for _, j := range jobs[1:] {
		if d := h.store.delivery(j.DeliveryID); len(d.attempts) != 0 {
			t.Errorf("%s: status %s with %d attempts", j.DeliveryID, d.status, len(d.attempts))
		}
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	var followed atomic.Bool
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			followed.Store(true)
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	h := setup(t, nil)
	h.start()
	job := h.offer(newJob("wh_a", 1, rc.URL+"/hook"))[0]
	d := h.waitAttempts(job.DeliveryID, 1)
	if followed.Load() || rc.count() != 1 {
		t.Fatalf("the redirect was followed")
	}
	if a := d.attempts[0]; a.ResponseStatus == nil || *a.ResponseStatus != http.StatusFound || d.status != pathhook.DeliveryPending {
		t.Errorf("recorded %+v with status %s; want a 302 to be retried", a, d.status)
	}
}

func TestTimeoutIsRecordedAsError(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers; the engine gives up
	})
	h := setup(t, func(c *Config) { c.Timeout = 50 * time.Millisecond })
	h.start()
	job := h.offer(newJob("wh_a", 1, rc.URL))[0]
	d := h.waitAttempts(job.DeliveryID, 1)
	a := d.attempts[0]
	if a.ResponseStatus != nil || a.Error == nil || *a.Error != "timed out after 50ms" {
		t.Fatalf("recorded %+v, error %v", a, a.Error)
	}
	if d.status != pathhook.DeliveryPending {
		t.Errorf("status %s, want pending", d.status)
	}
}

func TestConnectionErrorIsRecorded(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	url := rc.URL
	rc.Close()
	h := setup(t, nil)
	h.start()
	job := h.offer(newJob("wh_a", 1, url))[0]
	a := h.waitAttempts(job.DeliveryID, 1).attempts[0]
	if a.ResponseStatus != nil || a.Error == nil || !strings.Contains(*a.Error, "refused") || strings.Contains(*a.Error, url) {
		t.Fatalf("recorded error %q", *a.Error)
	}
}

func TestManualJobIsNotRetried(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, status(http.StatusInternalServerError))
	h := setup(t, nil)
	h.start()
	job := newJob("wh_a", 1, rc.URL)
	job.Manual = true
	job = h.offer(job)[0]
	d := h.waitAttempts(job.DeliveryID, 1)
	if d.status != pathhook.DeliveryFailed || !d.next.IsZero() {
		t.Fatalf("status %s, next %s; want failed for good", d.status, d.next)
	}
}

func TestLastRetryFails(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, status(http.StatusBadRequest))
	h := setup(t, func(c *Config) { c.Schedule = []time.Duration{time.Minute} })
	h.start()
	job := h.offer(newJob("wh_a", 1, rc.URL))[0]
	h.waitAttempts(job.DeliveryID, 1)
	h.advance(time.Minute)
	if d := h.waitAttempts(job.DeliveryID, 2); d.status != pathhook.DeliveryFailed {
		t.Fatalf("status %s after the last retry, want failed", d.status)
	}
}

func TestSlowWebhookDoesNotStarveOthers(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var inSlow, maxSlow atomic.Int32
	slow := newReceiver(t, func(int, http.ResponseWriter, *http.Request) {
		n := inSlow.Add(1)
		for m := maxSlow.Load(); n > m && !maxSlow.CompareAndSwap(m, n); m = maxSlow.Load() {
		}
		<-release
		inSlow.Add(-1)
	})
	fast := newReceiver(t, nil)
	h := setup(t, func(c *Config) { c.Workers, c.PerWebhook = 4, 2 })
	var jobs []pathhook.Job
	for i := range 10 {
		jobs = append(jobs, newJob("wh_slow", i, slow.URL))
	}
	for i := range 30 {
		jobs = append(jobs, newJob("wh_fast", i, fast.URL))
	}
	h.offer(jobs...) // the slow webhook's first, so that it has every chance to hog
	h.start()

	waitFor(t, "every fast delivery", func() bool { return fast.count() == 30 })
	if n := slow.count(); n != 2 {
		t.Errorf("slow webhook got %d requests while its first 2 hung; want 2 (its limit)", n)
	}
	close(release)
	waitFor(t, "every slow delivery", func() bool { return slow.count() == 10 })
	if m := maxSlow.Load(); m != 2 {
		t.Errorf("slow webhook had %d attempts at once; limit 2", m)
	}
	for _, j := range jobs {
		h.waitAttempts(j.DeliveryID, 1)
	}
}

func TestOfferBeyondQueueSizeReleases(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	h := setup(t, func(c *Config) { c.QueueSize = 3 })
	var jobs []pathhook.Job
	for i := range 5 {
		jobs = append(jobs, newJob("wh_a", i, rc.URL))
	}
	jobs = h.offer(jobs...)
	h.start()
	waitFor(t, "the overflow to be released", func() bool { return len(h.store.released()) >= 2 })
	if r := h.store.released(); r[0] != jobs[3].DeliveryID || r[1] != jobs[4].DeliveryID {
		t.Errorf("released %v, want the last two offered", r)
	}
	// Released, they are claimed back once there is room.
	h.engine.Poke()
	for _, j := range jobs {
		h.waitAttempts(j.DeliveryID, 1)
	}
	if rc.count() != 5 {
		t.Errorf("receiver got %d requests, want 5", rc.count())
	}
}

func TestJobWhoseLeaseIsRunningOutIsNotAttempted(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	h := setup(t, nil)
	job := h.offer(newJob("wh_a", 1, rc.URL))[0]
	// The job waited in memory until its lease can no longer cover an attempt.
	h.clock.Add(h.engine.c.Lease - h.engine.c.Timeout)
	h.start()
	waitFor(t, "the stale job to be released", func() bool { return len(h.store.released()) == 1 })
	h.engine.Poke() // claimed afresh, with a new lease
	d := h.waitAttempts(job.DeliveryID, 1)
	if rc.count() != 1 || d.status != pathhook.DeliverySucceeded {
		t.Fatalf("%d requests, status %s", rc.count(), d.status)
	}
}

func TestRunFinishesAttemptsAndReleasesWaitingJobs(t *testing.T) {
	t.Parallel()
	arrived, answer := make(chan struct{}), make(chan struct{})
	var once sync.Once
	rc := newReceiver(t, func(int, http.ResponseWriter, *http.Request) {
		once.Do(func() { close(arrived) })
		<-answer
	})
	h := setup(t, func(c *Config) { c.Workers = 1 })
	jobs := h.offer(newJob("wh_a", 1, rc.URL), newJob("wh_a", 2, rc.URL), newJob("wh_a", 3, rc.URL))
	h.start()
	<-arrived
	h.cancel()
	waitFor(t, "the engine to stop taking work", func() bool {
		h.engine.sched.mu.Lock()
		defer h.engine.sched.mu.Unlock()
		return h.engine.sched.stopped
	})
	close(answer)
	if err := <-h.done; err != nil {
		t.Fatal(err)
	}
	h.cancel = nil
	if d := h.store.delivery(jobs[0].DeliveryID); len(d.attempts) != 1 || d.status != pathhook.DeliverySucceeded {
		t.Errorf("the attempt in flight: %d attempts recorded, status %s", len(d.attempts), d.status)
	}
	if r := h.store.released(); len(r) != 2 {
		t.Errorf("released %v, want the 2 waiting jobs", r)
	}
	if rc.count() != 1 {
		t.Errorf("receiver got %d requests after shutdown began", rc.count())
	}
}

func TestChoresDisableFailingWebhooksAndPrune(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, status(http.StatusInternalServerError))
	h := setup(t, nil)
	h.start()
	job := h.offer(newJob("wh_a", 1, rc.URL))[0]
	h.waitAttempts(job.DeliveryID, 1)
	waitFor(t, "the first chores", func() bool { h.store.mu.Lock(); defer h.store.mu.Unlock(); return len(h.store.prunes) == 1 })

	h.advance(5*24*time.Hour + time.Minute)
	waitFor(t, "the webhook to be disabled", func() bool { return !h.store.hook("wh_a").enabled })
	h.store.mu.Lock()
	defer h.store.mu.Unlock()
	last := h.store.sweeps[len(h.store.sweeps)-1]
	if want := h.clock.Now().Add(-5 * 24 * time.Hour); !last.cutoff.Equal(want) {
		t.Errorf("sweep cutoff %s, want %s", last.cutoff, want)
	}
	if !strings.Contains(last.reason, "5 days") {
		t.Errorf("reason %q does not say how long", last.reason)
	}
	if want := h.clock.Now().Add(-30 * 24 * time.Hour); !h.store.prunes[len(h.store.prunes)-1].Equal(want) {
		t.Errorf("prune cutoffs %v, want the last %s", h.store.prunes, want)
	}
}

// TestChoresEndTheBacklogsOfWebhooksTheyDisable: a webhook that the sweep
// disables has its backlog failed in the same pass, although the chores
// failed backlogs since the last sweep (after a switch-off through the
// API) and their next regular turn is later.
func TestChoresEndTheBacklogsOfWebhooksTheyDisable(t *testing.T) {
	t.Parallel()
	h := setup(t, nil) // AutoDisableAfter: 5 days
	job := h.store.add(newJob("wh_a", 1, "http://127.0.0.1:1/unused"), time.Hour)
	since := h.clock.Now().Add(30*time.Second - 5*24*time.Hour) // failing 5 days 30 s from now
	h.store.mu.Lock()
	h.store.hooks["wh_a"].failingSince = &since
	h.store.mu.Unlock()
	endings := func(n int) func() bool {
		return func() bool { h.store.mu.Lock(); defer h.store.mu.Unlock(); return h.store.endings == n }
	}
	h.start()
	waitFor(t, "the first chores", endings(1))
	h.clock.Add(20 * time.Second)
	h.engine.WebhookChanged("wh_b") // as the Service tells it of a change
	waitFor(t, "the backlogs to be looked at again", endings(2))
	h.advance(45 * time.Second) // the sweep's turn, not yet the backlogs'
	waitFor(t, "wh_a to be disabled", func() bool { return !h.store.hook("wh_a").enabled })
	waitFor(t, "its backlog to be failed", func() bool { return h.store.delivery(job.DeliveryID).status == pathhook.DeliveryFailed })
}

func TestRunTwiceFails(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.engine.Run(ctx); err != nil {
		t.Fatalf("first Run: %v", err)
	}
	if err := h.engine.Run(ctx); err == nil {
		t.Fatal("second Run returned nil")
	}
}

// TestTakeBackReleasesWhatAPreviousProcessHeld: deliveries leased to the
// engine's owner name by a process that is gone are attempted at once, not
// when their leases run out; without TakeBack they wait.
func TestTakeBackReleasesWhatAPreviousProcessHeld(t *testing.T) {
	t.Parallel()
	for _, takeBack := range []bool{true, false} {
		h := setup(t, func(c *Config) { c.TakeBack = takeBack })
		rc := newReceiver(t, nil)
		// Leased for an hour on the fake clock, which never gets there.
		held := h.store.add(newJob("wh_a", 1, rc.URL), time.Hour)
		other := h.store.add(newJob("wh_a", 2, rc.URL), 0)
		if err := h.store.Release(context.Background(), h.store.owner, []pathhook.Lease{other.Lease()}); err != nil { // leased to nobody
			t.Fatal(err)
		}
		h.start()
		h.waitAttempts(other.DeliveryID, 1)
		if !takeBack {
			if n := len(h.store.delivery(held.DeliveryID).attempts); n != 0 {
				t.Errorf("without TakeBack a held delivery was attempted %d times before its lease ran out", n)
			}
			continue
		}
		if d := h.waitAttempts(held.DeliveryID, 1); d.status != pathhook.DeliverySucceeded {
			t.Fatalf("taken back: %s", d.status)
		}
		if got := len(rc.got()); got != 2 {
			t.Errorf("receiver got %d requests, want 2", got)
		}
	}
}
