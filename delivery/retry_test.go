package delivery

import (
	"net/http"
	"testing"
	"time"
)

func TestNextRetry(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	schedule := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute}
	date := now.Add(2 * time.Hour).Format(http.TimeFormat)
	tests := []struct {
		name       string
		attempt    int
		status     int
		retryAfter string
		rnd        float64
		want       time.Duration
		retry      bool
	}{
		{"first retry, no jitter", 1, 500, "", 0.5, 5 * time.Second, true},
		{"first retry, shortest", 1, 500, "", 0, 4 * time.Second, true},
		{"first retry, near longest", 1, 0, "", 0.75, 5500 * time.Millisecond, true},
		{"second retry", 2, 404, "", 0.5, 5 * time.Minute, true},
		{"last retry", 3, 500, "", 0.5, 30 * time.Minute, true},
		{"schedule spent", 4, 500, "", 0.5, 0, false},
		{"attempt zero is not an attempt", 0, 500, "", 0.5, 0, false},
		{"429 waits Retry-After seconds", 1, 429, "120", 0.5, 2 * time.Minute, true},
		{"503 waits Retry-After date", 1, 503, date, 0.5, 2 * time.Hour, true},
		{"Retry-After shorter than schedule", 2, 503, "10", 0.5, 5 * time.Minute, true},
		{"Retry-After capped", 1, 429, "999999999", 0.5, MaxRetryAfter, true},
		{"Retry-After date capped", 1, 429, now.Add(100 * time.Hour).Format(http.TimeFormat), 0.5, MaxRetryAfter, true},
		{"Retry-After ignored on 500", 1, 500, "120", 0.5, 5 * time.Second, true},
		{"Retry-After garbage", 1, 429, "soon", 0.5, 5 * time.Second, true},
		{"Retry-After negative", 1, 429, "-5", 0.5, 5 * time.Second, true},
		{"Retry-After after the last retry", 4, 429, "60", 0.5, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, retry := NextRetry(tt.attempt, schedule, now, tt.status, tt.retryAfter, tt.rnd)
			if retry != tt.retry {
				t.Fatalf("retry = %v, want %v", retry, tt.retry)
			}
			if !retry {
				return
			}
			if got := next.Sub(now); got != tt.want {
				t.Errorf("delay = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestNextRetryJitterStaysWithinTwentyPercent(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	schedule := DefaultSchedule()
	for n := 1; n <= len(schedule); n++ {
		for _, rnd := range []float64{0, 0.1, 0.5, 0.9, 0.999999} {
			next, ok := NextRetry(n, schedule, now, 500, "", rnd)
			d, base := next.Sub(now), schedule[n-1]
			if !ok || d < base*8/10 || d > base*12/10 {
				t.Errorf("retry %d with rnd %v waits %s; want within 20%% of %s", n, rnd, d, base)
			}
		}
	}
	if _, ok := NextRetry(len(schedule)+1, schedule, now, 500, "", 0.5); ok {
		t.Errorf("retry after the last one of %d delays", len(schedule))
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{" 30 ", 30 * time.Second, true},
		{now.Add(time.Minute).Format(http.TimeFormat), time.Minute, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"", 0, false},
		{"1.5", 0, false},
		{"tomorrow", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRetryAfter(%q) = %s, %v; want %s, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
