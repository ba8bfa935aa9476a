package bench

import (
	"fmt"
	"io"
	"strings"
)

// Result is everything a run measured. Every figure comes from this run.
type Result struct {
	Config  Config  `json:"config"`
	Machine Machine `json:"machine"`
	// Database is "sqlite" or "postgres".
	Database string `json:"database"`
	// ServerArgs is the command line of the server processes, after the
	// executable.
	ServerArgs []string `json:"server_args"`
	// Raw is the single-hop raw ceiling: the load generator posting
	// straight to the receiver. Relay is the bare relay ceiling. Both are
	// nil when the ceilings were skipped.
	Raw   *Ceiling `json:"raw_ceiling,omitempty"`
	Relay *Ceiling `json:"relay_ceiling,omitempty"`
	// Pathhook is the run through the real server; in a fairness run, its
	// first phase, the healthy webhooks alone.
	Pathhook PathhookRun `json:"pathhook"`
	// RelayRatio is pathhook's throughput over the bare relay's.
	RelayRatio float64 `json:"relay_ratio,omitempty"`
	// Backlog is set by a backlog run.
	Backlog *Backlog `json:"backlog,omitempty"`
	// Fairness is set by a run with slow webhooks.
	Fairness *Fairness `json:"fairness,omitempty"`
}

// Machine is where the run happened.
type Machine struct {
	CPUs      int    `json:"cpus"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	GoVersion string `json:"go_version"`
	// LoadAverage is /proc/loadavg's 1, 5 and 15 minute load averages
	// when the run began: other work on the machine skews every figure.
	LoadAverage string `json:"load_average,omitempty"`
}

// PathhookRun is what the real server did.
type PathhookRun struct {
	Counts
	// Seconds runs from the first API call to the last first arrival;
	// PerSecond is Delivered over it.
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	// SteadyPerSecond is the rate of the middle 80% of arrivals.
	SteadyPerSecond float64 `json:"steady_per_second"`
	// IngestPerSecond is the rate at which the API accepted the calls.
	IngestPerSecond float64 `json:"ingest_per_second"`
	// Latency is from the start of the API call that caused an event to
	// the receiver holding it; FirstSecond only for the calls begun in the
	// first second.
	Latency     Latency `json:"latency"`
	FirstSecond Latency `json:"latency_first_second"`
	// ServerCPUSeconds is the CPU time the server processes used from the
	// first API call to the end of the run; BenchCPUSeconds what the bench
	// process (load generator and receiver) used meanwhile.
	// CPUMicrosPerDelivery is both per delivery, to compare with the
	// relay's CPUMicrosPerRequest.
	ServerCPUSeconds     float64 `json:"server_cpu_seconds"`
	BenchCPUSeconds      float64 `json:"bench_cpu_seconds"`
	CPUMicrosPerDelivery float64 `json:"cpu_us_per_delivery"`
	// PeakRSSBytes is the highest VmHWM of any server process.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// APIRetries counts API calls tried again (after a connection error,
	// a 5xx or a 429); Throttled counts the 429s among them; APIErrors
	// counts calls that failed for good, the first with FirstAPIError.
	APIRetries    int    `json:"api_retries"`
	Throttled     int    `json:"throttled"`
	APIErrors     int    `json:"api_errors"`
	FirstAPIError string `json:"first_api_error,omitempty"`
	// Kills is how many times a server was killed with SIGKILL, and
	// RestartMillis how long each took to serve again.
	Kills         int       `json:"kills"`
	RestartMillis []float64 `json:"restart_ms,omitempty"`
	// PendingWebhooks is how many webhooks still had a pending delivery
	// when the run ended: 0 unless it timed out.
	PendingWebhooks int `json:"pending_webhooks"`
	// TimedOut is set when the run stopped waiting before every event
	// had arrived and the queue was empty.
	TimedOut bool `json:"timed_out"`
}

// Backlog is what a backlog run measured: events piled up while the
// receiver held every request, then drained when it answered again.
type Backlog struct {
	// Pending is how many deliveries were waiting when the receiver came
	// back; RSSBytes is the server's peak RSS up to then.
	Pending  int   `json:"pending"`
	RSSBytes int64 `json:"rss_bytes"`
	// DrainSeconds runs from the receiver's return to the last arrival;
	// DrainPerSecond is the deliveries that arrived in it over it.
	DrainSeconds   float64 `json:"drain_seconds"`
	DrainPerSecond float64 `json:"drain_per_second"`
}

// Print writes r for a person to read.
func (r *Result) Print(w io.Writer) {
	c := r.Config
	offered := "as fast as possible"
	if c.Rate > 0 {
		offered = fmt.Sprintf("offered %g/s", c.Rate)
	}
	fmt.Fprintf(w, "pathhook bench: %d events, %d webhooks, %d connections, %s, %s, %d node(s)\n",
		c.Events, c.Webhooks, c.Concurrency, offered, r.Database, c.Nodes)
	if c.ReceiverLatency > 0 || c.ReceiverFail > 0 {
		fmt.Fprintf(w, "receiver: %s latency, %.0f%% answered 500\n", c.ReceiverLatency, 100*c.ReceiverFail)
	}
	fmt.Fprintf(w, "machine: %d CPUs, %s/%s, %s, load average %s\n", r.Machine.CPUs, r.Machine.OS, r.Machine.Arch, r.Machine.GoVersion, cmpOr(r.Machine.LoadAverage, "unknown"))
	fmt.Fprintf(w, "server: serve %s\n\n", strings.Join(r.ServerArgs, " "))

	if r.Raw != nil {
		fmt.Fprintln(w, "ceilings (same load generator, same requests, same concurrency)")
		printCeiling(w, "raw single hop", r.Raw)
		printCeiling(w, "bare relay", r.Relay)
		fmt.Fprintln(w)
	}
	p := r.Pathhook
	if r.Fairness != nil {
		fmt.Fprintln(w, "pathhook, first phase: the healthy webhooks alone")
	} else {
		fmt.Fprintln(w, "pathhook")
	}
	if r.Backlog == nil {
		r.printRates(w)
	} else {
		fmt.Fprintf(w, "  API ingest     %8.0f calls/s  (throughput: see the backlog's drain below; deliveries were held)\n", p.IngestPerSecond)
	}
	fmt.Fprintf(w, "  CPU            %.0f µs per delivery (server %.2fs, bench %.2fs)", p.CPUMicrosPerDelivery, p.ServerCPUSeconds, p.BenchCPUSeconds)
	if r.Relay != nil && r.Relay.CPUMicrosPerRequest > 0 && p.CPUMicrosPerDelivery > 0 {
		fmt.Fprintf(w, "; the bare relay: %.0f µs per request", r.Relay.CPUMicrosPerRequest)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  peak RSS       %8.1f MiB\n", float64(p.PeakRSSBytes)/(1<<20))
	lost := fmt.Sprintf("lost %d", p.Lost)
	if p.TimedOut && p.PendingWebhooks > 0 {
		lost = fmt.Sprintf("not delivered within --wait %d (late or lost: deliveries still pending)", p.Lost)
	}
	fmt.Fprintf(w, "  delivered      %d of %d accepted; %s; duplicates %d (%.3f%%)\n",
		p.Delivered, p.Accepted, lost, p.Duplicates, 100*p.DuplicateRatio())
	if odd := p.Extra + p.Unexpected + p.Unknown + p.BadSignatures; odd > 0 {
		fmt.Fprintf(w, "  anomalies      extra events %d, unexpected %d, unknown %d, bad signatures %d\n", p.Extra, p.Unexpected, p.Unknown, p.BadSignatures)
	}
	if p.FailedOnPurpose > 0 {
		fmt.Fprintf(w, "  receiver 500s  %d\n", p.FailedOnPurpose)
	}
	if p.HungUp > 0 {
		fmt.Fprintf(w, "  cut off        %d requests the server gave up on before the receiver answered\n", p.HungUp)
	}
	if p.APIRetries > 0 || p.APIErrors > 0 {
		fmt.Fprintf(w, "  API retries    %d (%d throttled with 429); failed calls %d %s\n", p.APIRetries, p.Throttled, p.APIErrors, p.FirstAPIError)
	}
	if p.Kills > 0 {
		var ms []string
		for _, m := range p.RestartMillis {
			ms = append(ms, fmt.Sprintf("%.0f", m))
		}
		fmt.Fprintf(w, "  kill -9        %d times; back serving after %s ms\n", p.Kills, strings.Join(ms, ", "))
	}
	if p.TimedOut {
		fmt.Fprintf(w, "  TIMED OUT      after --wait %s; %d webhooks still had pending deliveries\n", c.Wait, p.PendingWebhooks)
	}
	if b := r.Backlog; b != nil {
		fmt.Fprintf(w, "\nbacklog\n  pending        %d deliveries while the receiver was down; server peak RSS so far %.1f MiB\n", b.Pending, float64(b.RSSBytes)/(1<<20))
		fmt.Fprintf(w, "  drain          %8.0f deliveries/s  (%.2fs from the receiver's return to the last arrival)\n", b.DrainPerSecond, b.DrainSeconds)
	}
	if r.Fairness != nil {
		r.Fairness.print(w, c, p)
	}
}

// printRates prints pathhook's throughput and latency.
func (r *Result) printRates(w io.Writer) {
	p := r.Pathhook
	fmt.Fprintf(w, "  throughput     %8.0f deliveries/s  (%d in %.2fs, first API call to last arrival)", p.PerSecond, p.Delivered, p.Seconds)
	if r.RelayRatio > 0 {
		fmt.Fprintf(w, "  = %.0f%% of the bare relay", 100*r.RelayRatio)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  steady state   %8.0f deliveries/s  (middle 80%% of arrivals)\n", p.SteadyPerSecond)
	fmt.Fprintf(w, "  API ingest     %8.0f calls/s\n", p.IngestPerSecond)
	fmt.Fprintf(w, "  latency        %s\n", latencyLine(p.Latency))
	fmt.Fprintf(w, "  first second   %s\n", latencyLine(p.FirstSecond))
}

func printCeiling(w io.Writer, name string, c *Ceiling) {
	if c == nil {
		return
	}
	fmt.Fprintf(w, "  %-14s %8.0f requests/s  (%d in %.2fs, %.0f µs CPU each)  %s", name, c.PerSecond, c.Requests, c.Seconds, c.CPUMicrosPerRequest, latencyLine(c.Latency))
	if c.Errors > 0 {
		fmt.Fprintf(w, "  errors %d", c.Errors)
	}
	fmt.Fprintln(w)
}

func latencyLine(l Latency) string {
	if l.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("p50 %.2f ms  p95 %.2f ms  p99 %.2f ms  max %.1f ms  (%d events)", l.P50, l.P95, l.P99, l.Max, l.Count)
}
