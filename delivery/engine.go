// Package delivery is pathhook's delivery engine. It takes deliveries that
// the Service hands it at commit time (Offer) and those it claims from the
// store (retries that have come due, and deliveries whose lease ran out on
// another node), signs each body, POSTs it, and records the attempts in
// batches with the next retry when there is one.
//
// Deliveries are leased: a node attempts only what it holds a lease on, and
// only while the lease covers the whole attempt, so a crashed node's work is
// taken over once its leases run out, and delivery is at least once.
package delivery

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pathhook/pathhook"
)

// Defaults of Config.
const (
	DefaultPlatform         = "Falkor"
	DefaultTimeout          = 15 * time.Second
	DefaultWorkers          = 64
	DefaultPerWebhook       = 8
	DefaultQueueSize        = 10000
	DefaultLease            = time.Minute
	DefaultFlushInterval    = 2 * time.Millisecond
	DefaultAutoDisableAfter = 5 * 24 * time.Hour
	DefaultRetention        = 30 * 24 * time.Hour
)

// Config holds what an Engine needs. Store is required; the rest may be left
// zero for the defaults.
type Config struct {
	Store Store
	// Owner names this node in leases. It must differ between nodes that
	// share a database; by default it is the host name and a random suffix.
	Owner string
	// Platform names the headers: <Platform>-Webhook-Signature and so on.
	Platform string
	// Transport carries the attempts; by default NewTransport(Control,
	// Timeout, Workers). Control is used only for that default.
	Transport http.RoundTripper
	Control   func(network, address string, c syscall.RawConn) error
	// Schedule is the delay before each retry (DefaultSchedule()).
	Schedule []time.Duration
	// Timeout is one attempt's whole time limit.
	Timeout time.Duration
	// Workers is how many attempts may run at once; PerWebhook is how many
	// of them may go to one webhook.
	Workers    int
	PerWebhook int
	// QueueSize bounds the jobs held in memory, waiting or in flight.
	QueueSize int
	// Lease is how long this node holds the deliveries it claims; it is
	// raised to twice Timeout and a margin if shorter. Pass LeaseOwner() to
	// the Service so that deliveries it creates are leased alike.
	Lease time.Duration
	// FlushInterval is how long a batch of results waits for more before it
	// is written; 0 means the default, negative means not at all.
	FlushInterval time.Duration
	// AutoDisableAfter disables a webhook whose attempts have all failed
	// for that long; Retention is how long ended deliveries are kept.
	// Negative turns either off.
	AutoDisableAfter time.Duration
	Retention        time.Duration
	// Clock tells the time (time.Now); Rand returns numbers in [0,1) for
	// the jitter (math/rand/v2.Float64). Both must be safe for concurrent use.
	Clock func() time.Time
	Rand  func() float64
	// Journal, when set, is a directory where each result is kept from
	// the moment its attempt ends: a process killed before recording it
	// then does not send the delivery again, since Run restores the
	// results the store lacks before it claims anything (see
	// Store.Restore), for deliveries leased to Owner or to no node. One
	// engine at a time may use it (Run returns ErrJournalInUse otherwise;
	// a journal it cannot open for another reason, it logs and runs
	// without), and no other running node may have its Owner name.
	Journal string
	// TakeBack has Run release the leases held under Owner, once it has
	// restored the journal and before it claims anything: what a previous
	// process of this name held then goes to any node at once, instead of
	// when the leases run out. Set it only when no other running process
	// can be Owner (serve's PostgreSQL nodes hold a lock on their name).
	TakeBack bool
	// Logger defaults to one that discards; Observer may be nil.
	Logger   *slog.Logger
	Observer Observer
}

func (c *Config) setDefaults() {
	if c.Owner == "" {
		c.Owner = defaultOwner()
	}
	c.Platform = cmp.Or(c.Platform, DefaultPlatform)
	if len(c.Schedule) == 0 {
		c.Schedule = DefaultSchedule()
	}
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	c.Workers = cmp.Or(c.Workers, DefaultWorkers)
	c.PerWebhook = cmp.Or(c.PerWebhook, DefaultPerWebhook)
	c.QueueSize = cmp.Or(c.QueueSize, DefaultQueueSize)
	c.Lease = max(cmp.Or(c.Lease, DefaultLease), 2*c.Timeout+2*leaseMargin)
	c.FlushInterval = cmp.Or(c.FlushInterval, DefaultFlushInterval)
	c.AutoDisableAfter = cmp.Or(c.AutoDisableAfter, DefaultAutoDisableAfter)
	c.Retention = cmp.Or(c.Retention, DefaultRetention)
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Transport == nil {
		c.Transport = NewTransport(c.Control, c.Timeout, c.Workers)
	}
}

func defaultOwner() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = crand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}

// Engine attempts deliveries. It implements pathhook.Dispatcher.
type Engine struct {
	c       Config
	store   Store
	send    *sender
	rec     *recorder
	journal *journal // nil without Config.Journal
	sched   *scheduler
	wake    chan struct{} // the claimer
	chore   chan struct{} // the chores
	// switchedOff is set when a webhook may have been switched off, for
	// the chores to fail its backlog.
	switchedOff atomic.Bool
	// polling is held by each poll of the store, and, where the store
	// writes serially, by the chores while they fail backlogs: a claim
	// wades through the due deliveries of switched-off webhooks until they
	// are failed, which, for a backlog of a million due, holds SQLite's
	// writer 0.2 s a claim. (PostgreSQL's claims wade as well, beside the
	// chores rather than between their transactions.)
	polling      sync.Mutex
	serialWrites bool
	started      chan struct{} // closed by Run once it attempts deliveries
	running      atomic.Bool

	// doubtful are the leases of deliveries that a change whose COMMIT
	// got no answer may have made (Doubt), for the next poll to give back.
	doubtMu  sync.Mutex
	doubtful []pathhook.Lease
	// storeWasOut is set when the last poll found the store out of reach;
	// claimsFrom is when claims may begin again after it answered (see
	// afterOutage). Both are poll's, under polling.
	storeWasOut bool
	claimsFrom  time.Time
}

// New returns an engine with the given configuration; Run starts it.
func New(c Config) *Engine {
	c.setDefaults()
	e := &Engine{c: c, store: c.Store, send: newSender(c.Platform, c.Transport, c.Timeout, c.Clock), rec: newRecorder(&c),
		wake: make(chan struct{}, 1), chore: make(chan struct{}, 1), started: make(chan struct{})}
	e.sched = newScheduler(c.PerWebhook, c.QueueSize, c.Timeout, c.Clock, e.rec.release, e.rec.park, e.rec.unpark, e.wakeClaimer)
	e.rec.disabled = e.backlogsToEnd
	e.rec.unparked = e.sched.unparked
	e.rec.reached = e.wakeClaimer
	if sw, ok := c.Store.(serialWriter); ok {
		e.serialWrites = sw.SerialWrites()
	}
	return e
}

// LeaseOwner returns the lease that deliveries created for this engine
// should carry: pass it as pathhook.Config.Lease.
func (e *Engine) LeaseOwner() pathhook.LeaseOwner {
	return pathhook.LeaseOwner{Owner: e.c.Owner, For: e.c.Lease}
}

// Offer queues jobs for an attempt at once. It never blocks: jobs that do
// not fit in memory are released in the store, where polling finds them.
// Jobs offered before Run wait for it; jobs offered after Run has returned
// are left to run out their lease.
func (e *Engine) Offer(_ context.Context, jobs []pathhook.Job) {
	e.sched.add(jobs)
}

// Doubt has the next poll that reaches the store give back the leases of
// jobs whose change may not have been saved: if it was, their deliveries
// are claimed at once, rather than when their leases run out. It
// implements pathhook.Doubter.
func (e *Engine) Doubt(jobs []pathhook.Job) {
	e.doubtMu.Lock()
	for i := range jobs {
		e.doubtful = append(e.doubtful, jobs[i].Lease())
	}
	e.doubtMu.Unlock()
	e.wakeClaimer()
}

// releaseDoubtful gives back the leases that Doubt was given, keeping them
// for the next poll if the store fails.
func (e *Engine) releaseDoubtful(ctx context.Context) {
	e.doubtMu.Lock()
	leases := e.doubtful
	e.doubtful = nil
	e.doubtMu.Unlock()
	if len(leases) == 0 {
		return
	}
	if err := e.store.Release(ctx, e.c.Owner, leases); err != nil {
		if ctx.Err() == nil {
			e.c.Logger.Warn("delivery: cannot give back the leases of a change that may not have been saved; trying again at the next poll",
				"leases", len(leases), "err", err)
		}
		e.doubtMu.Lock()
		e.doubtful = append(leases, e.doubtful...)
		e.doubtMu.Unlock()
	}
}

// Poke makes the engine poll the store and run its chores now, rather than
// when its timers say: for a LISTEN/NOTIFY wake-up, or a test's fake clock.
func (e *Engine) Poke() {
	e.wakeClaimer()
	select {
	case e.chore <- struct{}{}:
	default:
	}
}

func (e *Engine) wakeClaimer() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// WebhookChanged drops the jobs of the webhook that wait in memory, and
// hands them back to the store, where the engine claims them again with
// the webhook as it is now (or not at all, if it was switched off): they
// carry its URL and secrets as they were. Attempts already in flight end
// as they began. It implements pathhook.WebhookWatcher.
func (e *Engine) WebhookChanged(webhookID string) {
	e.sched.replace(webhookID)
	e.wakeClaimer()
	e.backlogsToEnd() // the change may have switched it off
}

// backlogsToEnd has the chores fail the backlogs of webhooks switched off
// now.
func (e *Engine) backlogsToEnd() {
	e.switchedOff.Store(true)
	select {
	case e.chore <- struct{}{}:
	default:
	}
}

// WebhooksMayHaveChanged is WebhookChanged for every webhook: for when the
// engine may have missed news of changes (its listener reconnected, say).
func (e *Engine) WebhooksMayHaveChanged() {
	e.sched.replace()
	e.Poke()
}

// Started is closed once Run has restored what the journal held and
// attempts deliveries. A server that takes requests only then keeps them
// from changing deliveries while the restore runs.
func (e *Engine) Started() <-chan struct{} { return e.started }

// Stats returns a snapshot of the work the engine holds in memory.
func (e *Engine) Stats() Stats { return e.sched.stats() }

// Run attempts deliveries until ctx ends. Before it returns, the attempts
// in flight finish (each within Timeout), their results are written, and
// the jobs that were still waiting are released. It may be called once.
func (e *Engine) Run(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return errors.New("delivery: Run called twice")
	}
	// Attempts in flight outlive ctx: cutting one off after the receiver
	// has acted on it would only cause a duplicate.
	attempts := context.WithoutCancel(ctx)
	if e.c.Journal != "" {
		j, results, err := openJournal(e.c.Journal, e.c.Logger)
		if errors.Is(err, ErrJournalInUse) {
			// Two nodes given one directory would restore each other's
			// results: refuse, as for any setting that cannot work.
			return err
		}
		if err != nil {
			e.c.Logger.Error("delivery: running without a journal; a crash sends the deliveries whose results are not yet recorded again", "err", err)
		} else {
			e.journal, e.rec.journal = j, j
			e.restore(attempts, results)
		}
	}
	if e.c.TakeBack {
		e.takeBack(attempts)
	}
	var workers, loops sync.WaitGroup
	for range e.c.Workers {
		workers.Go(func() { e.work(attempts) })
	}
	e.rec.stop = ctx.Done()
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		e.rec.run(attempts)
	}()
	loops.Go(func() { e.claim(ctx) })
	loops.Go(func() { e.chores(ctx) })
	close(e.started)
	e.c.Logger.Info("delivery: engine started", "owner", e.c.Owner, "workers", e.c.Workers,
		"per_webhook", e.c.PerWebhook, "timeout", e.c.Timeout, "lease", e.c.Lease)

	<-ctx.Done()
	loops.Wait()
	e.sched.stop()
	workers.Wait()
	e.rec.close()
	<-recorded
	if e.journal != nil {
		e.journal.close()
	}
	e.c.Logger.Info("delivery: engine stopped", "owner", e.c.Owner)
	return nil
}

// takeBack releases the leases that a previous process of this node's name
// held. If the store fails, they run out as a dead node's would.
func (e *Engine) takeBack(ctx context.Context) {
	n, err := e.store.ReleaseLeases(ctx, e.c.Owner)
	switch {
	case err != nil:
		e.c.Logger.Error("delivery: cannot take back the deliveries that a previous process of this node held; they are taken over when their leases run out",
			"owner", e.c.Owner, "err", err)
	case n > 0:
		e.c.Logger.Info("took over deliveries that a previous process held", "deliveries", n, "owner", e.c.Owner)
	}
}

// work makes attempts until the scheduler stops.
func (e *Engine) work(ctx context.Context) {
	for {
		job, h, ok := e.sched.next()
		if !ok {
			return
		}
		start := e.c.Clock()
		a, ans := e.send.send(ctx, &job)
		end := e.c.Clock()
		res := outcome(&job, a, ans, e.c.Schedule, end, e.c.Rand())
		if !job.LeaseUntil.IsZero() {
			res.LeaseOwner, res.LeaseUntil = e.c.Owner, job.LeaseUntil
		}
		var seg *segment
		if e.journal != nil {
			seg = e.journal.add(&res)
		}
		took := end.Sub(start)
		e.sched.done(h, &res, took)
		if e.c.Observer != nil {
			e.c.Observer.Attempted(&res, took)
		}
		e.logAttempt(&job, &res)
		e.rec.add(res, seg)
	}
}

func (e *Engine) logAttempt(job *pathhook.Job, r *pathhook.Result) {
	log := e.c.Logger
	if r.DisableReason != "" {
		log.Warn("delivery: webhook disabled", "webhook", r.WebhookID, "reason", r.DisableReason)
	}
	if !log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	attrs := []any{"delivery", job.DeliveryID, "webhook", job.WebhookID, "attempt", job.Attempt,
		"status", r.Status, "duration_ms", r.Attempt.DurationMS}
	if r.Attempt.ResponseStatus != nil {
		attrs = append(attrs, "response_status", *r.Attempt.ResponseStatus)
	}
	if r.Attempt.Error != nil {
		attrs = append(attrs, "error", *r.Attempt.Error)
	}
	log.Debug("delivery: attempt", attrs...)
}
