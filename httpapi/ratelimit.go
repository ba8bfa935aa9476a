package httpapi

import (
	"math"
	"sync"
	"time"
)

// limiter keeps one token bucket per API key id, in memory. A bucket holds
// up to burst tokens and refills at rate tokens per second; each request
// takes one.
type limiter struct {
	rate  float64
	burst float64

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

// sweepEvery is how often take forgets buckets that have refilled: a full
// bucket is the same as no bucket, so memory stays bounded by recent keys.
const sweepEvery = time.Minute

func newLimiter(rate float64, burst int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), buckets: map[string]*bucket{}}
}

// take takes a token from key's bucket at now. It returns 0 when it got
// one, or else how long until one is available.
func (l *limiter) take(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) >= sweepEvery {
		l.sweep(now)
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.refill(now, l.rate, l.burst)
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	wait := time.Duration(math.Ceil((1 - b.tokens) / l.rate * float64(time.Second)))
	return max(wait, time.Nanosecond)
}

func (b *bucket) refill(now time.Time, rate, burst float64) {
	if elapsed := now.Sub(b.at); elapsed > 0 {
		b.tokens = min(burst, b.tokens+elapsed.Seconds()*rate)
		b.at = now
	}
}

func (l *limiter) sweep(now time.Time) {
	for key, b := range l.buckets {
		if b.refill(now, l.rate, l.burst); b.tokens >= l.burst {
			delete(l.buckets, key)
		}
	}
	l.swept = now
}
