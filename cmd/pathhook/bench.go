package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/pathhook/pathhook/bench"
)

// runBench runs `pathhook bench`: it starts a receiver and the real server
// (this executable, run as `serve`) on a fresh database, drives events
// through the API, and prints throughput, the raw and bare relay ceilings,
// latency, the server's peak RSS, and the lost and duplicate counts. It
// fails when an accepted event was not delivered.
func runBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, asJSON, err := parseBenchFlags(args, stderr)
	if err != nil {
		return err
	}
	if c.ServerBinary == "" {
		if c.ServerBinary, err = os.Executable(); err != nil {
			return fmt.Errorf("--server-binary: cannot find this executable: %w", err)
		}
	}
	c.Progress = stderr
	c.Terminal = isTerminal(stderr) && getenv("TERM") != "dumb"
	r, err := bench.Run(ctx, c)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		r.Print(stdout)
	}
	return benchVerdict(r)
}

// benchVerdict fails a run in which the server broke its promise: an event
// lost, or a delivery that should not exist. Duplicates are allowed, since
// delivery is at least once; they are printed. A slow webhook's event that
// is still pending in the server at the end is not lost.
func benchVerdict(r *bench.Result) error {
	if err := runVerdict(r.Pathhook, r.Config.Wait); err != nil {
		return err
	}
	f := r.Fairness
	if f == nil {
		return nil
	}
	if err := runVerdict(f.Beside, r.Config.Wait); err != nil {
		return fmt.Errorf("%w (beside the slow webhooks)", err)
	}
	s := f.Slow
	if s.Lost != 0 {
		return fmt.Errorf("bench: %d of the slow webhooks' %d accepted events were neither delivered nor pending nor failed in the server", s.Lost, s.Accepted)
	}
	return countsVerdict(s.Counts, s.APIErrors, "", " (the slow webhooks)")
}

// runVerdict is benchVerdict for one run of the real server.
func runVerdict(p bench.PathhookRun, wait time.Duration) error {
	switch {
	case p.Lost > 0 && p.TimedOut && p.PendingWebhooks > 0:
		return fmt.Errorf("bench: %d of %d accepted events were not delivered within --wait %s; %d webhooks still had pending deliveries", p.Lost, p.Accepted, wait, p.PendingWebhooks)
	case p.Lost > 0:
		return fmt.Errorf("bench: %d of %d accepted events were not delivered", p.Lost, p.Accepted)
	}
	return countsVerdict(p.Counts, p.APIErrors, p.FirstAPIError, "")
}

// countsVerdict fails deliveries that should not exist and API calls that
// failed for good, in the counts of one group of webhooks; which names
// the group in the error.
func countsVerdict(c bench.Counts, apiErrors int, firstAPIError, which string) error {
	switch {
	case c.Extra+c.Unexpected+c.Unknown > 0:
		return fmt.Errorf("bench: unexpected deliveries%s: %d extra events, %d for calls not accepted, %d unknown", which, c.Extra, c.Unexpected, c.Unknown)
	case c.BadSignatures > 0:
		return fmt.Errorf("bench: %d deliveries had a bad signature%s", c.BadSignatures, which)
	case apiErrors > 0 && firstAPIError != "":
		return fmt.Errorf("bench: %d API calls failed%s: %s", apiErrors, which, firstAPIError)
	case apiErrors > 0:
		return fmt.Errorf("bench: %d API calls failed%s", apiErrors, which)
	}
	return nil
}

const benchUsage = `usage: pathhook bench [flags]

Measures pathhook end to end on this machine. Starts a receiver on
127.0.0.1 and the real server (this executable, as 'serve') on a fresh
database, enables the enrolments webhook of --webhooks pathways, makes
--events enrolments through the API and waits until every event has
arrived. Prints the delivery throughput beside two ceilings measured with
the same load generator in the same run (the receiver alone, and a bare
relay that signs and forwards each request synchronously), the latency from
API call to receiver, the server's peak RSS, and lost and duplicate
deliveries. Exits 1 if an accepted event was not delivered.

With --slow-webhooks N it measures fairness: after up to 5000 unmeasured
calls that warm the server up, the first phase runs as above over the
healthy webhooks, then a second phase makes the
same number of calls to the healthy webhooks again, with calls to N more
webhooks among them whose endpoint (a second receiver) takes --slow-latency
to answer, and prints the healthy webhooks' throughput in both phases and
what the slow ones cost. It waits for the healthy deliveries only; the
slow webhooks' events are counted at the end as delivered, still pending
in the server, or failed, since a slow webhook drains at --per-webhook
per --slow-latency at most (8 per 5s).

flags:`

// parseBenchFlags reads bench's flags.
func parseBenchFlags(args []string, stderr io.Writer) (c bench.Config, asJSON bool, err error) {
	fs := flag.NewFlagSet("pathhook bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), benchUsage)
		fs.PrintDefaults()
	}
	fs.IntVar(&c.Events, "events", bench.DefaultEvents, "enrolments to make, one event and one delivery each")
	fs.IntVar(&c.Webhooks, "webhooks", bench.DefaultWebhooks, "pathways whose enrolments webhook is enabled; the events go round them")
	fs.IntVar(&c.Concurrency, "concurrency", bench.DefaultConcurrency, "client connections driving the API")
	fs.Float64Var(&c.Rate, "rate", 0, "offered events per second; 0 is as fast as possible")
	fs.DurationVar(&c.ReceiverLatency, "receiver-latency", 0, "how long the receiver takes to answer each request")
	fs.Float64Var(&c.ReceiverFail, "receiver-fail", 0, "share of requests (0..1) the receiver answers 500")
	fs.StringVar(&c.DB, "db", "", "a SQLite file that does not exist yet, or a postgres:// URL on which the bench creates and drops its own database (default: a SQLite file in a temporary directory)")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	fs.IntVar(&c.Nodes, "nodes", 1, "server processes sharing the database (PostgreSQL only); API calls are spread across them")
	fs.IntVar(&c.Kill, "kill", 0, "kill a server with SIGKILL this many times during the run, at even intervals, and restart it")
	fs.StringVar(&c.ServerBinary, "server-binary", "", "the pathhook executable to run as 'serve' (default: this one)")
	serverFlags := fs.String("server-flags", "", "more flags for serve, space-separated, e.g. \"--workers 128\"")
	fs.StringVar(&c.RetrySchedule, "retry-schedule", bench.DefaultRetrySchedule, "serve's --retry-schedule for the run")
	fs.BoolVar(&c.Backlog, "backlog", false, "hold every delivery at the receiver until all events are accepted, then answer: measures the server's RSS with that backlog and how fast it drains")
	fs.IntVar(&c.SlowWebhooks, "slow-webhooks", 0, "measure fairness: this many more webhooks, whose endpoint takes --slow-latency to answer, beside the healthy ones in a second phase")
	fs.DurationVar(&c.SlowLatency, "slow-latency", 0, "how long the slow webhooks' endpoint takes to answer; beyond serve's --delivery-timeout every attempt times out (default 5s)")
	fs.Float64Var(&c.SlowShare, "slow-share", 0, "share (0..1) of the second phase's calls that go to the slow webhooks (default: as many per slow webhook as per healthy one)")
	fs.BoolVar(&c.NoCeilings, "no-ceilings", false, "skip the raw and bare relay ceilings")
	fs.DurationVar(&c.Wait, "wait", bench.DefaultWait, "how long to wait for deliveries after the last API call")
	if err := fs.Parse(args); err != nil {
		return c, false, err
	}
	if fs.NArg() > 0 {
		return c, false, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for name, v := range map[string]int{"events": c.Events, "webhooks": c.Webhooks, "concurrency": c.Concurrency, "nodes": c.Nodes} {
		if v < 1 {
			return c, false, fmt.Errorf("--%s %d: must be at least 1", name, v)
		}
	}
	c.ServerFlags = strings.Fields(*serverFlags)
	return c, asJSON, nil
}

// isTerminal reports whether w is a terminal, where a progress bar can be
// redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
