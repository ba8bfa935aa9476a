package delivery

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Jitter is how far each scheduled delay is varied either way, as a
// fraction of it, so that deliveries that failed together do not all come
// back at the same instant.
const Jitter = 0.2

// MaxRetryAfter caps how long a receiver's Retry-After can hold a delivery
// back, so that a bogus header cannot park it for years.
const MaxRetryAfter = 24 * time.Hour

// DefaultSchedule returns the delays before each retry that CONTRACT
// section 1 sets as the default: 8 attempts in all over about 32 hours.
func DefaultSchedule() []time.Duration {
	return []time.Duration{
		5 * time.Second, 5 * time.Minute, 30 * time.Minute,
		2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
	}
}

// NextRetry returns when to make the next attempt of a delivery whose
// attempt number attempt (1, 2, ...) has just failed at now, and false when
// there is to be no next attempt: the schedule has n delays, so n+1 attempts
// in all. The n-th retry waits schedule[n-1] varied by up to Jitter either
// way; rnd, in [0,1), picks where in that range. A 429 or 503 answer whose
// Retry-After (seconds or an HTTP date) asks for longer is honoured, up to
// MaxRetryAfter. status is 0 when there was no answer.
func NextRetry(attempt int, schedule []time.Duration, now time.Time, status int, retryAfter string, rnd float64) (time.Time, bool) {
	if attempt < 1 || attempt > len(schedule) {
		return time.Time{}, false
	}
	base := schedule[attempt-1]
	delay := base + time.Duration(float64(base)*Jitter*(2*rnd-1))
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		if ra, ok := ParseRetryAfter(retryAfter, now); ok && ra > delay {
			delay = min(ra, MaxRetryAfter)
		}
	}
	return now.Add(max(delay, 0)), true
}

// ParseRetryAfter reads a Retry-After header value, either a number of
// seconds or an HTTP date, as a delay from now. A date in the past is a
// zero delay.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
