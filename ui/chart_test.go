package ui

import (
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	xs := []int64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}
	for p, want := range map[int]int64{0: 10, 50: 50, 90: 90, 95: 100, 100: 100} {
		if got := percentile(xs, p); got != want {
			t.Errorf("p%d = %d, want %d", p, got, want)
		}
	}
	if got := percentile([]int64{7}, 95); got != 7 {
		t.Errorf("p95 of one = %d", got)
	}
}

func TestNiceCeil(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ v, min, want float64 }{
		{0, 2, 2}, {3, 2, 5}, {7, 2, 10}, {11, 2, 20}, {180, 10, 200}, {499, 10, 500}, {501, 10, 1000},
	} {
		if got := niceCeil(c.v, c.min); got != c.want {
			t.Errorf("niceCeil(%g, %g) = %g, want %g", c.v, c.min, got, c.want)
		}
	}
}

func sampleStats() *stats {
	start := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	st := &stats{Hours: make([]hourStat, statsHours)}
	for i := range st.Hours {
		st.Hours[i].Start = start.Add(time.Duration(i) * time.Hour)
	}
	st.Hours[3] = hourStat{Start: st.Hours[3].Start, Succeeded: 4, Failed: 1, Latencies: []int64{80, 120}, LatencyP50: 80, LatencyMax: 120, HasLatency: true}
	st.Hours[20] = hourStat{Start: st.Hours[20].Start, Pending: 2}
	st.Succeeded, st.Failed, st.Pending, st.Samples, st.P50, st.P95 = 4, 1, 2, 2, 80, 120
	return st
}

func TestCharts(t *testing.T) {
	t.Parallel()
	st := sampleStats()
	d := string(st.DeliveriesChart())
	if n := strings.Count(d, `<rect class="ok"`); n != 1 {
		t.Errorf("deliveries chart: %d succeeded bars, want 1", n)
	}
	if !strings.Contains(d, `<rect class="bad"`) || !strings.Contains(d, `<rect class="pend"`) {
		t.Error("deliveries chart lacks failed or pending parts")
	}
	if !strings.Contains(d, `aria-label="Deliveries per hour over the last 24 hours: 7 in all, 4 succeeded, 1 failed, 2 pending"`) {
		t.Errorf("deliveries chart label: %s", d[:200])
	}
	if !strings.Contains(d, "13:00–13:59 UTC: 4 succeeded, 1 failed, 0 pending") {
		t.Error("deliveries chart lacks the hour's tooltip")
	}
	r := string(st.RateChart())
	if !strings.Contains(r, "80.0% overall") || strings.Count(r, "<circle") != 1 {
		t.Errorf("rate chart: %s", r)
	}
	l := string(st.LatencyChart())
	if !strings.Contains(l, "median 80 ms, 95th percentile 120 ms") || !strings.Contains(l, `class="range"`) {
		t.Errorf("latency chart: %s", l)
	}
	if got := st.RateText(); got != "80.0%" {
		t.Errorf("RateText = %q", got)
	}
	if !strings.Contains(string(st.Sparkline()), `<rect class="bad"`) {
		t.Error("sparkline does not mark the hour with a failure")
	}

	empty := &stats{Hours: make([]hourStat, statsHours)}
	for _, svg := range []string{string(empty.DeliveriesChart()), string(empty.RateChart()), string(empty.LatencyChart())} {
		if !strings.Contains(svg, `class="empty"`) || strings.Contains(svg, "NaN") || strings.Contains(svg, "Inf") {
			t.Errorf("empty chart: %s", svg)
		}
	}
	if empty.RateText() != "—" || empty.P50Text() != "—" {
		t.Error("empty headline numbers are not dashes")
	}
}

func TestFormatMS(t *testing.T) {
	t.Parallel()
	for ms, want := range map[int64]string{0: "0 ms", 999: "999 ms", 1500: "1.5 s", 15000: "15 s"} {
		if got := formatMS(ms); got != want {
			t.Errorf("formatMS(%d) = %q, want %q", ms, got, want)
		}
	}
}
