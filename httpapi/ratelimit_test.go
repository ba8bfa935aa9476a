package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
)

func TestRateLimit(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)}
	f := setup(t, func(c *Config) {
		c.Clock = clock.Now
		c.RateLimit = RateLimit{PerSecond: 0.5, Burst: 2}
	})
	f.must(200, f.a.key, "GET", "/v1/pathways", nil)
	f.must(200, f.a.key, "GET", "/v1/pathways", nil)
	res := f.do(f.a.key, "GET", "/v1/pathways", nil)
	checkProblem(t, "third request", res, http.StatusTooManyRequests)
	if got := res.header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After %q, want 2 (one token at 0.5/s)", got)
	}
	// Another key has its own bucket; public routes have none.
	f.must(200, f.b.key, "GET", "/v1/pathways", nil)
	f.must(200, "", "GET", "/healthz", nil)

	clock.Advance(time.Second)
	checkProblem(t, "after 1s", f.do(f.a.key, "GET", "/v1/pathways", nil), http.StatusTooManyRequests)
	clock.Advance(time.Second)
	f.must(200, f.a.key, "GET", "/v1/pathways", nil)
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(10, 3)
	for i := range 3 {
		if wait := l.take("k", start); wait != 0 {
			t.Fatalf("take %d: wait %v", i, wait)
		}
	}
	if wait := l.take("k", start); wait != 100*time.Millisecond {
		t.Errorf("empty bucket: wait %v, want 100ms", wait)
	}
	if wait := l.take("k", start.Add(100*time.Millisecond)); wait != 0 {
		t.Errorf("after refill: wait %v", wait)
	}
	// Idle buckets are forgotten once full.
	l.take("other", start)
	l.take("k", start.Add(time.Hour))
	if len(l.buckets) != 1 {
		t.Errorf("%d buckets after a sweep, want 1", len(l.buckets))
	}
}

func TestRateLimitOff(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *Config) { c.RateLimit = RateLimit{PerSecond: -1} })
	for range 5 {
		f.must(200, f.a.key, "GET", "/v1/pathways", nil)
	}
}

// TestReadiness: a server that cannot do its work answers /readyz with
// 503, says when to ask again, and logs why.
func TestReadiness(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	f := setup(t, func(c *Config) {
		c.Ready = func(context.Context) error { return errors.New("database is down") }
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	res := f.do("", "GET", "/readyz", nil)
	checkProblem(t, "not ready", res, http.StatusServiceUnavailable)
	if got := res.header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1", got)
	}
	if !strings.Contains(logs.String(), "database is down") {
		t.Errorf("the log does not say why the server is not ready:\n%s", logs.String())
	}
	f.must(200, "", "GET", "/healthz", nil)
	checkProblem(t, "no metrics", f.do("", "GET", "/metrics", nil), http.StatusNotFound)
}

// TestUnsureChangeIsNotToBeSentAgainBlindly: a 503 for a change whose
// COMMIT got no answer says no Retry-After: the change may have been
// saved, and a client that resends it blindly could make it twice.
func TestUnsureChangeIsNotToBeSentAgainBlindly(t *testing.T) {
	t.Parallel()
	s := newServer(Config{})
	unsure := fmt.Errorf("%w (%w)", pathhook.Errorf(pathhook.EUNAVAILABLE, "the database did not answer whether the change was saved"),
		pathhook.ErrCommitUnknown)
	for _, c := range []struct {
		err   error
		retry string
	}{
		{pathhook.Errorf(pathhook.EUNAVAILABLE, "the database cannot be reached right now"), "1"},
		{unsure, ""},
	} {
		w := httptest.NewRecorder()
		s.fail(w, httptest.NewRequest("POST", "/v1/pathways", nil), c.err)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != c.retry {
			t.Errorf("%v: %d with Retry-After %q, want 503 with %q", c.err, w.Code, w.Header().Get("Retry-After"), c.retry)
		}
	}
}
