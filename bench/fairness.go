package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"sync"
)

// warmUpCalls bounds the unmeasured calls that warm the server up before
// the first phase of a fairness run.
const warmUpCalls = 5000

// slowConcurrency is how many client connections make the calls for the
// slow webhooks: they are a small share, offered at a pace.
const slowConcurrency = 4

// Fairness is what a run with slow webhooks measured: the healthy webhooks'
// throughput alone (the first phase, the run's Pathhook figures) and beside
// the slow webhooks (the second phase), on the same server and database.
type Fairness struct {
	// Beside is what the healthy webhooks did in the second phase: as many
	// calls as in the first, with the slow webhooks' calls among them. Its
	// CPU figures cover the whole phase, the slow webhooks' calls included.
	Beside PathhookRun `json:"beside_slow"`
	// CostPercent is how much lower the healthy webhooks' throughput was
	// beside the slow ones than alone, in percent of it (negative: higher);
	// SteadyCostPercent is the same for the steady-state rates.
	CostPercent       float64 `json:"cost_percent"`
	SteadyCostPercent float64 `json:"steady_cost_percent"`
	// Slow is what became of the calls for the slow webhooks.
	Slow SlowRun `json:"slow"`
	// WarmUpCalls is how many calls to the healthy webhooks were made, and
	// delivered, before the first phase, unmeasured.
	WarmUpCalls int `json:"warm_up_calls"`
}

// SlowRun accounts for the calls for the slow webhooks at the end of the
// second phase. Delivered counts the events the slow endpoint answered;
// Pending those still pending in the server (queued, in an attempt, or
// waiting for a retry), and Failed those it failed for good. Lost counts
// the accepted calls whose event is in none of these: unlike a healthy
// webhook's, a slow event still on its way is not lost.
type SlowRun struct {
	Counts
	Pending int `json:"pending"`
	Failed  int `json:"failed"`
	// APIErrors counts the slow webhooks' calls that failed for good.
	APIErrors int `json:"api_errors"`
	// OfferedPerSecond is the rate of the slow webhooks' calls that the bench
	// offered; 0 is as fast as possible.
	OfferedPerSecond float64 `json:"offered_per_second"`
}

// warmUp makes calls to the healthy webhooks before the first phase of a
// fairness run and waits for their deliveries, unmeasured. The two phases
// are compared; without it the first would run on a cold server (new
// connections, empty caches, small goroutine stacks) and the second on a
// warm one, which made the second look faster than the first.
func (b *bench) warmUp(ctx context.Context) (int, error) {
	n := min(b.c.Events, warmUpCalls)
	// Learners after those of both phases: each is enrolled once.
	base := 2*b.c.Events + slowCalls(b.c)
	t := newTallyFrom(base, n)
	b.rc.begin(t, b.c.ReceiverFail)
	client := newClient(b.c.Concurrency)
	defer client.CloseIdleConnections()
	l := b.enrolments(client, n, base, b.paths, b.c.Concurrency, b.c.Rate)
	p := showProgress(b.c.Progress, b.c.Terminal, "warm-up", n, func() int { return int(l.ok.Load()) }, t.progress, nil)
	l.run(ctx)
	timedOut, _ := b.await(ctx, l, t, b.hooks)
	p.done()
	if timedOut {
		return n, fmt.Errorf("warm-up: the deliveries of %d calls did not arrive within --wait %s", n, b.c.Wait)
	}
	return n, ctx.Err()
}

// besideSlow runs the second phase of a fairness run and fills r.Fairness.
// It makes as many calls to the healthy webhooks as the first phase did,
// in the same way, and beside them the calls for the slow webhooks, a
// SlowShare of the phase's calls, offered at the pace that spreads them
// over as long as the first phase's calls took, so that the slow endpoint
// has work throughout.
//
// It waits for the healthy webhooks as the first phase did, until each
// accepted event has arrived and none has a pending delivery, but not for
// the slow ones. A slow webhook drains at PerWebhook / SlowLatency at most
// (8 / 5 s = 1.6 deliveries/s with serve's defaults): the 200 calls of a
// 10,000-call phase would take two minutes or more, set by the endpoint,
// not by pathhook, and measure nothing about the healthy webhooks. So when
// the healthy ones are done, each slow call is accounted for instead: its
// event arrived, is pending in the server, or failed; only one in none of
// these is lost.
func (b *bench) besideSlow(ctx context.Context, r *Result) error {
	c := b.c
	n, ns := c.Events, slowCalls(c)
	// The learners go on from the first phase's: an enrolment is made once.
	th, ts := newTallyFrom(n, n), newTallyFrom(2*n, ns)
	b.rc.begin(th, c.ReceiverFail)
	b.slow.begin(ts, 0)
	client, slowClient := newClient(c.Concurrency), newClient(slowConcurrency)
	defer client.CloseIdleConnections()
	defer slowClient.CloseIdleConnections()
	pace := c.Rate
	if pace == 0 {
		pace = r.Pathhook.IngestPerSecond
	}
	slowRate := pace * float64(ns) / float64(n)
	lh := b.enrolments(client, n, n, b.paths, c.Concurrency, c.Rate)
	ls := b.enrolments(slowClient, ns, 2*n, b.slowPaths, slowConcurrency, slowRate)

	benchCPU, serverCPU := selfCPU(), b.serverCPU()
	stopSampling := b.sampleRSS()
	defer stopSampling()
	slowDone := func() string { return fmt.Sprintf("slow %d/%d delivered", ts.progress(), ns) }
	p := showProgress(c.Progress, c.Terminal, "+slow", n, func() int { return int(lh.ok.Load()) }, th.progress, slowDone)
	var wg sync.WaitGroup
	wg.Go(func() { ls.run(ctx) })
	lh.run(ctx)
	wg.Wait()
	timedOut, pending := b.await(ctx, lh, th, b.hooks)
	p.done()
	b.sampleNow()
	benchCPU, serverCPU = selfCPU()-benchCPU, b.serverCPU()-serverCPU

	run := b.measure(lh, th)
	run.TimedOut, run.PendingWebhooks = timedOut, pending
	run.BenchCPUSeconds, run.ServerCPUSeconds = round3(benchCPU.Seconds()), round3(serverCPU.Seconds())
	run.CPUMicrosPerDelivery = perEvent(benchCPU+serverCPU, run.Delivered)
	slow, err := b.slowRun(ctx, ls, ts)
	if err != nil {
		return err
	}
	slow.OfferedPerSecond = math.Round(slowRate*10) / 10
	r.Fairness = &Fairness{Beside: run, Slow: slow,
		CostPercent:       cost(r.Pathhook.PerSecond, run.PerSecond),
		SteadyCostPercent: cost(r.Pathhook.SteadyPerSecond, run.SteadyPerSecond)}
	return nil
}

// slowCalls returns how many calls the second phase makes for the slow
// webhooks: SlowShare of all its calls, at least one per slow webhook.
func slowCalls(c Config) int {
	return max(c.SlowWebhooks, int(math.Round(float64(c.Events)*c.SlowShare/(1-c.SlowShare))))
}

// slowRun accounts for the calls that l made for the slow webhooks, whose
// arrivals t counted. It asks the server first and the receiver second: an
// event that has not arrived by then had not arrived when the server was
// asked either, so its delivery cannot have succeeded, and the server
// listed it as pending or failed unless it lost it.
func (b *bench) slowRun(ctx context.Context, l *load, t *tally) (SlowRun, error) {
	inServer := map[string]map[string]bool{}
	for _, status := range []string{"pending", "failed"} {
		inServer[status] = map[string]bool{}
		for _, hook := range b.slowHooks {
			ids, err := b.api.eventIDs(ctx, hook, status)
			if err != nil {
				return SlowRun{}, fmt.Errorf("list the slow webhooks' deliveries: %w", err)
			}
			for _, id := range ids {
				inServer[status][id] = true
			}
		}
	}
	s := SlowRun{Counts: t.count(l.accepted)}
	arrived := t.eventIDs()
	for id := range inServer["pending"] {
		if !arrived[id] {
			s.Pending++
		}
	}
	for id := range inServer["failed"] {
		if !arrived[id] {
			s.Failed++
		}
	}
	s.Lost = s.Accepted - s.Delivered - s.Pending - s.Failed
	s.APIErrors = int(l.failed.Load())
	return s, nil
}

// cost returns how much lower beside is than alone, in percent of alone.
func cost(alone, beside float64) float64 {
	if alone <= 0 {
		return 0
	}
	return math.Round((1-beside/alone)*1000) / 10
}

// print writes the fairness run's figures; alone is the first phase.
func (f *Fairness) print(w io.Writer, c Config, alone PathhookRun) {
	s := f.Slow
	fmt.Fprintf(w, "\nwarm-up: %d unmeasured calls to the healthy webhooks, delivered before the first phase\n", f.WarmUpCalls)
	fmt.Fprintf(w, "beside %d slow webhook(s): the same %d calls to the %d healthy webhooks again, and %d calls (%.1f%%) to the slow ones, which take %s to answer\n",
		c.SlowWebhooks, c.Events, c.Webhooks, slowCalls(c), 100*c.SlowShare, c.SlowLatency)
	for _, phase := range []struct {
		name string
		p    PathhookRun
	}{{"healthy alone", alone}, {"beside slow", f.Beside}} {
		fmt.Fprintf(w, "  %-14s %8.0f deliveries/s  steady %.0f/s  latency p50 %.2f ms  p99 %.2f ms\n",
			phase.name, phase.p.PerSecond, phase.p.SteadyPerSecond, phase.p.Latency.P50, phase.p.Latency.P99)
	}
	fmt.Fprintf(w, "  cost           %.1f%% of the healthy throughput (steady state %.1f%%)\n", f.CostPercent, f.SteadyCostPercent)
	p := f.Beside
	fmt.Fprintf(w, "  healthy        %d of %d accepted delivered; lost %d; duplicates %d\n", p.Delivered, p.Accepted, p.Lost, p.Duplicates)
	if p.TimedOut {
		fmt.Fprintf(w, "  TIMED OUT      after --wait %s; %d healthy webhooks still had pending deliveries\n", c.Wait, p.PendingWebhooks)
	}
	fmt.Fprintf(w, "  slow webhooks  %d accepted: %d delivered, %d pending in the server, %d failed, %d lost\n",
		s.Accepted, s.Delivered, s.Pending, s.Failed, s.Lost)
	fmt.Fprintf(w, "  slow endpoint  %d requests received: %d answered, %d cut off by the server, %d still being answered at the end\n",
		s.Received, s.Requests, s.HungUp, s.Received-s.Requests-s.HungUp)
	if odd := p.Extra + p.Unexpected + p.Unknown + p.BadSignatures + s.Extra + s.Unexpected + s.Unknown + s.BadSignatures; odd > 0 {
		fmt.Fprintf(w, "  anomalies      healthy: extra %d, unexpected %d, unknown %d, bad signatures %d; slow: extra %d, unexpected %d, unknown %d, bad signatures %d\n",
			p.Extra, p.Unexpected, p.Unknown, p.BadSignatures, s.Extra, s.Unexpected, s.Unknown, s.BadSignatures)
	}
}
