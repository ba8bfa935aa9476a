package bench

import (
	"math"
	"slices"
	"time"
)

// Latency summarises a distribution of durations, in milliseconds.
type Latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// latencyOf summarises ds, which it sorts.
func latencyOf(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	return Latency{Count: len(ds), P50: ms(percentile(ds, 0.50)), P95: ms(percentile(ds, 0.95)),
		P99: ms(percentile(ds, 0.99)), Max: ms(ds[len(ds)-1])}
}

// percentile returns the nearest-rank p-quantile of sorted, which must not
// be empty.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// rate returns n events over d as events per second.
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return math.Round(float64(n)/d.Seconds()*10) / 10
}

// steadyRate returns the rate at which the middle 80% of arrivals came,
// leaving out the ramp-up and the tail. It sorts arrivals.
func steadyRate(arrivals []time.Duration) float64 {
	n := len(arrivals)
	if n < 10 {
		return 0
	}
	slices.Sort(arrivals)
	lo, hi := n/10, n-1-n/10
	return rate(hi-lo, arrivals[hi]-arrivals[lo])
}

// latencies returns the latency of each delivery, overall and for the
// events sent in the first second after the first send.
func latencies(sent, arrived []time.Duration) (all, firstSecond Latency) {
	if len(sent) == 0 {
		return Latency{}, Latency{}
	}
	start := slices.Min(sent)
	ds := make([]time.Duration, len(sent))
	var early []time.Duration
	for i := range sent {
		ds[i] = arrived[i] - sent[i]
		if sent[i]-start < time.Second {
			early = append(early, ds[i])
		}
	}
	return latencyOf(ds), latencyOf(early)
}

// perEvent returns cpu per event in microseconds.
func perEvent(cpu time.Duration, events int) float64 {
	if events == 0 {
		return 0
	}
	return math.Round(float64(cpu)/float64(events)/float64(time.Microsecond)*10) / 10
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
