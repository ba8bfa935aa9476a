package metrics

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
)

// fakeQueue answers QueueStats with fixed numbers.
type fakeQueue struct {
	stats func() (int, time.Time, error)
}

func (f fakeQueue) QueueStats(context.Context) (int, time.Time, error) { return f.stats() }

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: status %d", rec.Code)
	}
	return rec.Body.String()
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	q := fakeQueue{stats: func() (int, time.Time, error) { return 7, now.Add(-90 * time.Second), nil }}
	m := New(q, func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	m.Attempted(&pathhook.Result{WebhookID: "wh_a", Status: pathhook.DeliverySucceeded}, 20*time.Millisecond)
	m.Attempted(&pathhook.Result{WebhookID: "wh_b", Status: pathhook.DeliveryPending}, time.Second)
	m.Attempted(&pathhook.Result{WebhookID: "wh_b", Status: pathhook.DeliveryFailed}, time.Second)
	m.Recorded(3, time.Millisecond, nil)

	out := scrape(t, m)
	for _, want := range []string{
		`pathhook_delivery_attempts_total{outcome="succeeded"} 1`,
		`pathhook_delivery_attempts_total{outcome="retry"} 1`,
		`pathhook_delivery_attempts_total{outcome="failed"} 1`,
		`pathhook_webhook_failed_attempts_total{webhook_id="wh_b"} 2`,
		`pathhook_delivery_attempt_duration_seconds_count 3`,
		`pathhook_results_recorded_total 3`,
		`pathhook_queue_pending_deliveries 7`,
		`pathhook_queue_oldest_pending_age_seconds 90`,
		`go_goroutines`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if strings.Contains(out, `webhook_id="wh_a"`) {
		t.Error("a webhook without failures has a failure series")
	}
}

func TestQueueStatsErrorLeavesGaugesOut(t *testing.T) {
	t.Parallel()
	q := fakeQueue{stats: func() (int, time.Time, error) { return 0, time.Time{}, context.DeadlineExceeded }}
	m := New(q, time.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if out := scrape(t, m); strings.Contains(out, "pathhook_queue_pending_deliveries") {
		t.Error("queue depth reported although the store failed")
	}
}
