package bench

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// drive runs the events through pathhook and fills r.Pathhook, and
// r.Backlog in a backlog run. In a fairness run this is the first phase:
// the healthy webhooks alone.
func (b *bench) drive(ctx context.Context, r *Result) error {
	n := b.c.Events
	t := newTally(n)
	b.rc.begin(t, b.c.ReceiverFail)
	if b.c.Backlog {
		b.rc.hold()
	}
	client := newClient(b.c.Concurrency)
	defer client.CloseIdleConnections()
	l := b.enrolments(client, n, 0, b.paths, b.c.Concurrency, b.c.Rate)

	benchCPU, serverCPU := selfCPU(), b.serverCPU()
	stopSampling := b.sampleRSS()
	defer stopSampling()
	label := "pathhook"
	if b.slow != nil {
		label = "healthy"
	}
	p := showProgress(b.c.Progress, b.c.Terminal, label, n, func() int { return int(l.ok.Load()) }, t.progress, nil)
	defer p.done()

	k := &killer{b: b, l: l}
	killCtx, stopKilling := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if b.c.Kill > 0 {
		wg.Go(func() { k.run(killCtx) })
	}
	l.run(ctx)
	stopKilling()
	wg.Wait()
	if k.err != nil {
		return k.err
	}

	var release time.Duration
	if b.c.Backlog {
		b.sampleNow()
		r.Backlog = &Backlog{Pending: int(l.ok.Load()) - t.progress(), RSSBytes: b.peakRSS()}
		release = time.Since(b.epoch)
		b.rc.release()
	}
	timedOut, pending := b.await(ctx, l, t, b.hooks)
	b.sampleNow()
	benchCPU, serverCPU = selfCPU()-benchCPU, b.serverCPU()-serverCPU

	r.Pathhook = b.measure(l, t)
	r.Pathhook.TimedOut, r.Pathhook.PendingWebhooks = timedOut, pending
	r.Pathhook.Kills, r.Pathhook.RestartMillis = len(k.restarts), k.restarts
	r.Pathhook.BenchCPUSeconds, r.Pathhook.ServerCPUSeconds = round3(benchCPU.Seconds()), round3(serverCPU.Seconds())
	r.Pathhook.CPUMicrosPerDelivery = perEvent(benchCPU+serverCPU, r.Pathhook.Delivered)
	if r.Backlog != nil {
		r.Backlog.DrainSeconds, r.Backlog.DrainPerSecond = drain(t, l, release)
	}
	return nil
}

// enrolments returns a load of n enrolments of learners numbered from base,
// round-robin over paths, spread across the nodes, each call tried again
// on another node if it fails in a way that a crash explains.
func (b *bench) enrolments(client *http.Client, n, base int, paths []string, concurrency int, rate float64) *load {
	l := newLoad(client, n, concurrency, rate, b.epoch)
	l.url = func(i, try int) string { return b.nodes[(i+try)%len(b.nodes)].URL() + paths[i%len(paths)] }
	l.body = func(i int) []byte { return body(base + i) }
	l.auth, l.retry = b.api.auth, true
	return l
}

// measure works out what the run achieved from what was sent and what
// arrived.
func (b *bench) measure(l *load, t *tally) PathhookRun {
	run := PathhookRun{Counts: t.count(l.accepted), PeakRSSBytes: b.peakRSS(),
		APIRetries: int(l.retries.Load()), Throttled: int(l.throttled.Load()),
		APIErrors: int(l.failed.Load()), FirstAPIError: l.firstError()}
	first, lastAnswer := l.window()
	run.IngestPerSecond = rate(run.Accepted, lastAnswer-first)
	sent, arrived := t.arrivals(l.sent, l.accepted)
	if len(arrived) == 0 {
		return run
	}
	last := slices.Max(arrived)
	run.Seconds = (last - first).Seconds()
	run.PerSecond = rate(len(arrived), last-first)
	run.Latency, run.FirstSecond = latencies(sent, arrived)
	run.SteadyPerSecond = steadyRate(arrived)
	return run
}

// drain returns how long the backlog took to arrive after the receiver
// came back at release, and at what rate it did.
func drain(t *tally, l *load, release time.Duration) (seconds, perSecond float64) {
	_, arrived := t.arrivals(l.sent, l.accepted)
	var last time.Duration
	n := 0
	for _, at := range arrived {
		if at >= release {
			n++
			last = max(last, at)
		}
	}
	if n == 0 {
		return 0, 0
	}
	return (last - release).Seconds(), rate(n, last-release)
}

// await waits until every call that l made and the server accepted has
// its event in t and none of hooks has a pending delivery, so that no
// duplicate can still come, or until Wait has passed. It returns whether it
// gave up, and how many of hooks still had pending deliveries then.
func (b *bench) await(ctx context.Context, l *load, t *tally, hooks []string) (timedOut bool, pending int) {
	deadline := time.Now().Add(b.c.Wait)
	accepted := int(l.ok.Load())
	for ctx.Err() == nil {
		wait := 50 * time.Millisecond
		if t.progress() >= accepted && t.count(l.accepted).Lost == 0 {
			n, err := b.api.pending(ctx, hooks)
			if err == nil && n == 0 {
				return false, 0
			}
			if err == nil {
				pending = n
			}
			wait = time.Second // the API's rate limit is shared with nothing else now, but stay light
		}
		if time.Now().After(deadline) {
			if n, err := b.api.pending(ctx, hooks); err == nil {
				pending = n
			}
			return true, pending
		}
		sleepUntil(ctx, time.Now().Add(wait))
	}
	return true, pending
}

// killer kills a server with SIGKILL at even intervals of accepted calls
// and starts it again on the same address and database.
type killer struct {
	b        *bench
	l        *load
	restarts []float64 // how long each restart took to serve, ms
	err      error
}

func (k *killer) run(ctx context.Context) {
	c := k.b.c
	for i := 1; i <= c.Kill; i++ {
		at := int64(c.Events * i / (c.Kill + 1))
		for k.l.ok.Load() < at {
			if !sleepUntil(ctx, time.Now().Add(2*time.Millisecond)) {
				return
			}
		}
		n := k.b.nodes[(i-1)%len(k.b.nodes)]
		n.kill()
		start := time.Now()
		if err := n.start(); err != nil {
			k.err = fmt.Errorf("restart after kill %d: %w", i, err)
			return
		}
		k.restarts = append(k.restarts, ms(time.Since(start)))
	}
}

// sampleRSS samples the servers' peak RSS five times a second until the
// returned function is called.
func (b *bench) sampleRSS() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				b.sampleNow()
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

func (b *bench) sampleNow() {
	for _, n := range b.nodes {
		n.sample()
	}
}

// serverCPU returns the CPU time all server processes have used so far.
func (b *bench) serverCPU() time.Duration {
	var total time.Duration
	for _, n := range b.nodes {
		total += n.cpu()
	}
	return total
}

// peakRSS returns the highest peak RSS of any server process so far.
func (b *bench) peakRSS() int64 {
	var peak int64
	for _, n := range b.nodes {
		peak = max(peak, n.peak.Load())
	}
	return peak
}
