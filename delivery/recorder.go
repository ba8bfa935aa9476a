package delivery

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pathhook/pathhook"
)

// recordBatch is the most results written in one transaction.
const recordBatch = 512

// releaseBatch is the most deliveries released or parked in one statement.
const releaseBatch = 500

// unparkBatch is the most parked deliveries brought back in one
// transaction. A webhook's parked backlog may be hundreds of thousands:
// results are written between its transactions.
const unparkBatch = 2000

// writeTimeout bounds one write to the store, including the final flush
// when the engine stops.
const writeTimeout = 10 * time.Second

// recorder is the engine's one writer: it records results in batches, one
// transaction each, and hands released and parked deliveries back to the
// store. While one batch is being written the next gathers, so batches grow
// with load and a quiet engine writes each result at once.
type recorder struct {
	store    Store
	owner    string
	linger   time.Duration
	log      *slog.Logger
	observer Observer
	clock    func() time.Time
	journal  *journal // told what is recorded; nil without one
	disabled func()   // called once results that switch webhooks off are recorded
	// unparked is called once an unpark has ended: all brought back, or
	// given up. May be nil.
	unparked func(webhookID string)

	// stop is closed when the engine begins to stop (nil: never).
	stop <-chan struct{}
	// backoff is the first wait before a failed write is tried again.
	backoff time.Duration
	// waiting is set while results wait for a store out of reach: from
	// the first write the store did not answer until the store has
	// answered and every result added by then is written. A claim
	// meanwhile could lease again the deliveries whose results wait, if
	// their leases ran out, and send them twice.
	waiting atomic.Bool
	// reached is called once waiting ends. May be nil.
	reached func()
	// added counts the results that add has taken or waits to hand over;
	// written (the recorder's own) those that have been through write;
	// drainTo, while waiting once the store answers again, is added as it
	// was then: claims resume once those results are written too.
	added   atomic.Int64
	written int64
	drainTo int64

	results chan kept
	wake    chan struct{}
	mu      sync.Mutex
	back    []handback // deliveries to hand back to the store, in order
}

// kept is a result, and the journal file that holds it (nil when none
// does).
type kept struct {
	res pathhook.Result
	seg *segment
}

// handback is leases to end at until: the zero time releases their
// deliveries, a later one parks them until then. One with a webhook
// instead brings that webhook's parked deliveries back.
type handback struct {
	until   time.Time
	leases  []pathhook.Lease
	webhook string
}

func newRecorder(c *Config) *recorder {
	return &recorder{store: c.Store, owner: c.Owner, linger: c.FlushInterval, log: c.Logger, observer: c.Observer,
		clock: c.Clock, backoff: 50 * time.Millisecond, results: make(chan kept, c.Workers), wake: make(chan struct{}, 1)}
}

// add queues a result, and the journal file that keeps it (if any), for
// the next batch. It blocks while the store is behind, which holds the
// workers back rather than piling results up: without a journal, an
// attempt that has reached its receiver but is not recorded is sent again
// if the process dies, so the results queue holds no more than the
// workers make between two writes.
func (r *recorder) add(res pathhook.Result, seg *segment) {
	r.added.Add(1)
	r.results <- kept{res, seg}
}

// release queues leases to be released. It never blocks.
func (r *recorder) release(leases ...pathhook.Lease) { r.handBack(time.Time{}, leases) }

// park queues leases to be given up and their deliveries parked until
// until. It never blocks.
func (r *recorder) park(until time.Time, leases ...pathhook.Lease) { r.handBack(until, leases) }

// unpark queues the return of a webhook's parked deliveries. It never
// blocks.
func (r *recorder) unpark(webhookID string) {
	r.mu.Lock()
	r.back = append(r.back, handback{webhook: webhookID})
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) handBack(until time.Time, leases []pathhook.Lease) {
	r.mu.Lock()
	if n := len(r.back); n > 0 && r.back[n-1].webhook == "" && r.back[n-1].until.Equal(until) {
		r.back[n-1].leases = append(r.back[n-1].leases, leases...) // one statement for both
	} else {
		r.back = append(r.back, handback{until: until, leases: slices.Clone(leases)}) // the caller's to reuse
	}
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run writes until close has been called and all is written. ctx carries
// values only: writes must still happen after the engine's context ends.
func (r *recorder) run(ctx context.Context) {
	var b batch
	more := false // hand-backs left for the next call
	for open := true; open; {
		if more {
			// Results that wait are written between the hand-backs.
			select {
			case k, ok := <-r.results:
				open = ok && r.record(ctx, &b, k)
			default:
			}
		} else {
			select {
			case k, ok := <-r.results:
				open = ok && r.record(ctx, &b, k)
			case <-r.wake:
			}
		}
		more = r.handBackQueued(ctx)
	}
	// The engine is stopping: no hand-back call begins after writeTimeout,
	// and what is left then is not lost (leases run out and parks end on
	// their own).
	for stop := time.Now().Add(writeTimeout); more; {
		if time.Now().After(stop) {
			r.mu.Lock()
			rest := r.back
			r.back = nil
			r.mu.Unlock()
			r.dropHandBacks(rest)
			return
		}
		more = r.handBackQueued(ctx)
	}
}

// record writes k and the results that gather adds to it as one batch,
// and returns whether the results channel is still open.
func (r *recorder) record(ctx context.Context, b *batch, k kept) (open bool) {
	b.add(k)
	open = r.gather(b)
	failed := r.write(ctx, b.results)
	r.written += int64(len(b.results))
	if r.waiting.Load() && r.drainTo > 0 && r.written >= r.drainTo {
		r.drainTo = 0
		r.waiting.Store(false)
		if r.reached != nil {
			r.reached()
		}
	}
	r.tellSwitchOffs(b.results, failed)
	if r.journal != nil {
		// A result that could not be written stays in the journal: if the
		// process stops before its delivery is attempted again, the next
		// start restores it.
		for _, i := range failed {
			b.segs[i] = nil
		}
		r.journal.recorded(b.segs)
	}
	b.reset()
	return open
}

// tellSwitchOffs calls disabled if one of results that were recorded (not
// in failed) switched its webhook off.
func (r *recorder) tellSwitchOffs(results []pathhook.Result, failed []int) {
	if r.disabled == nil {
		return
	}
	for i := range results {
		if results[i].DisableReason != "" && !slices.Contains(failed, i) {
			r.disabled()
			return
		}
	}
}

// close ends run once the results queued so far are written. No add may
// follow it.
func (r *recorder) close() { close(r.results) }

// batch is results to write together, and the journal files that hold
// them.
type batch struct {
	results []pathhook.Result
	segs    []*segment
}

func (b *batch) add(k kept) {
	b.results = append(b.results, k.res)
	b.segs = append(b.segs, k.seg)
}

func (b *batch) reset() {
	clear(b.results)
	clear(b.segs)
	b.results, b.segs = b.results[:0], b.segs[:0]
}

// gather adds to b the results that are waiting, and those that come
// within the linger time, up to recordBatch. open is false once the results
// channel has been closed.
func (r *recorder) gather(b *batch) (open bool) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for len(b.results) < recordBatch {
		select {
		case k, ok := <-r.results:
			if !ok {
				return false
			}
			b.add(k)
			continue
		default:
		}
		if r.linger <= 0 {
			return true
		}
		if timer == nil {
			timer = time.NewTimer(r.linger)
		}
		select {
		case k, ok := <-r.results:
			if !ok {
				return false
			}
			b.add(k)
		case <-timer.C:
			return true
		}
	}
	return true
}

// write records batch and returns the indexes of the results it could not
// record. If the batch keeps failing, one result may be at fault (say
// another node has recorded that attempt after this node's lease ran out),
// so each is then tried alone and only the failing ones are left out:
// their deliveries stay leased until the lease runs out, and are then
// attempted again. A write that ran out of writeTimeout is not retried as
// it was. Once maxTimeouts writes in a row have run out of time, the store
// is taken to be down or stuck and the rest are left out without a try,
// each of which would hold the engine (and a shutdown) for writeTimeout
// more.
//
// A store out of reach (EUNAVAILABLE: a database down or restarting, or
// with its disk full) is
// not the batch's fault: it is tried again, at most a second apart, until
// the store answers or the engine stops. The workers wait meanwhile, as
// add blocks, rather than make attempts whose results would be dropped and
// whose deliveries would be sent again once their leases ran out. Once
// the engine stops, a batch the store is out of reach for is left out
// whole, without a try per result: the journal keeps it.
//
// After a write whose COMMIT got no answer (ErrCommitUnknown), which may
// have been carried out, the batch is written with RecordAgain, which
// leaves out the attempts the store has counted, rather than Record, which
// would write them twice.
func (r *recorder) write(ctx context.Context, batch []pathhook.Result) (failed []int) {
	if len(batch) == 0 {
		return nil
	}
	var w writing
	err := r.try(ctx, batch, &w)
	wait := r.backoff
	var waited time.Time
	defer func() {
		if r.waiting.Load() && r.drainTo == 0 {
			// The results added so far may be of attempts whose leases
			// ran out while the store was out of reach. Set once, when
			// the store answers (a later write must not move it on).
			r.drainTo = r.added.Load()
		}
	}()
	for tries := 1; err != nil && !timedOut(err); tries++ {
		if outOfReach(err) {
			r.waiting.Store(true)
			r.drainTo = 0
		}
		if tries >= maxRecordTries {
			if !outOfReach(err) || r.stopping() {
				break
			}
			if waited.IsZero() {
				waited = r.clock()
				r.log.Warn("delivery: the store cannot take results now; they wait for it, and new attempts with them", "err", err)
			}
		}
		r.sleep(wait)
		wait = min(2*wait, 20*r.backoff) // a second by default
		err = r.try(ctx, batch, &w)
	}
	if !waited.IsZero() && err == nil {
		r.log.Info("delivery: the store answers again", "waited", r.clock().Sub(waited).Round(time.Millisecond))
	}
	if err == nil {
		return nil
	}
	if outOfReach(err) {
		r.log.Error("delivery: the store cannot take results and the engine is stopping; these attempts are kept in the journal, if there is one, or attempted again once their leases run out",
			"attempts", len(batch), "err", err)
		failed = make([]int, len(batch))
		for i := range failed {
			failed[i] = i
		}
		return failed
	}
	timeouts := 0
	if timedOut(err) {
		timeouts = 1
	}
	for i := range batch {
		if len(batch) > 1 {
			err = r.try(ctx, batch[i:i+1], &w)
		}
		if err != nil {
			r.log.Error("delivery: cannot record an attempt; the delivery will be attempted again once its lease runs out",
				"delivery", batch[i].DeliveryID, "attempt", batch[i].Attempt.N, "err", err)
			failed = append(failed, i)
		}
		if !timedOut(err) {
			timeouts = 0
			continue
		}
		if timeouts++; timeouts == maxTimeouts {
			r.log.Error("delivery: the store did not answer in time; the deliveries of these attempts will be attempted again once their leases run out",
				"attempts", len(batch)-i-1, "timeout", writeTimeout, "err", err)
			for rest := i + 1; rest < len(batch); rest++ {
				failed = append(failed, rest)
			}
			break
		}
	}
	return failed
}

// maxRecordTries is how many times a batch is written before it is split,
// unless the store is out of reach.
const maxRecordTries = 4

// stopping reports whether the engine is stopping.
func (r *recorder) stopping() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

// sleep waits d, less once the engine is stopping.
func (r *recorder) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.stop:
	}
}

// maxTimeouts is how many writes of one batch in a row may run out of
// writeTimeout before the rest of it is left out.
const maxTimeouts = 3

// timedOut says whether err is a store that did not answer within
// writeTimeout.
func timedOut(err error) bool { return errors.Is(err, context.DeadlineExceeded) }

// outOfReach says whether err is a store out of reach, or unavailable
// otherwise (EUNAVAILABLE: its disk is full, say), as opposed to a write
// at fault or a store that did not answer in time.
func outOfReach(err error) bool {
	return pathhook.ErrorCode(err) == pathhook.EUNAVAILABLE && !timedOut(err)
}

// writing is what the tries of one batch have learnt.
type writing struct {
	// unsure is set once a write's COMMIT got no answer: it may have been
	// carried out, and the next must write only what the store lacks.
	unsure bool
}

func (r *recorder) try(ctx context.Context, batch []pathhook.Result, w *writing) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	start := r.clock()
	var err error
	if w.unsure {
		err = r.store.RecordAgain(ctx, batch)
	} else {
		err = r.store.Record(ctx, batch)
	}
	if errors.Is(err, pathhook.ErrCommitUnknown) {
		w.unsure = true
	}
	if r.observer != nil {
		r.observer.Recorded(len(batch), r.clock().Sub(start), err)
	}
	return err
}

// handBackQueued releases, parks and brings back the deliveries queued by
// release, park and unpark, in order, a bounded number per statement. It
// runs at most one transaction that brings deliveries back (at most
// unparkBatch) a call: after one, it keeps the rest of the queue for the
// next call and returns true. Once the store has not answered within
// writeTimeout the rest are dropped, as any that fail are, rather than
// each waiting writeTimeout more: leases run out and parks end on their
// own.
func (r *recorder) handBackQueued(ctx context.Context) (more bool) {
	r.mu.Lock()
	back := r.back
	r.back = nil
	r.mu.Unlock()
	for k, hb := range back {
		if hb.webhook != "" {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
			n, err := r.store.Unpark(ctx, hb.webhook, unparkBatch)
			cancel()
			if err != nil {
				// Not lost: they come back when their parks end.
				r.log.Warn("delivery: cannot bring parked deliveries back", "webhook", hb.webhook, "err", err)
			}
			if n < unparkBatch || err != nil {
				r.unparkEnded(hb.webhook)
			}
			if timedOut(err) {
				r.dropHandBacks(back[k+1:])
				return false
			}
			if err != nil || n == 0 {
				continue
			}
			// One transaction that brought deliveries back is enough for
			// a call: the results that wait go first.
			rest := back[k+1:]
			if n == unparkBatch {
				rest = back[k:] // there may be more
			}
			if len(rest) == 0 {
				return false
			}
			r.mu.Lock()
			r.back = append(rest, r.back...)
			r.mu.Unlock()
			return true
		}
		for until, leases := hb.until, hb.leases; len(leases) > 0; {
			n := min(len(leases), releaseBatch)
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
			var err error
			if until.IsZero() {
				err = r.store.Release(ctx, r.owner, leases[:n])
			} else {
				err = r.store.Park(ctx, r.owner, leases[:n], until)
			}
			cancel()
			if err != nil {
				// Not lost: their leases run out and polling finds them then.
				r.log.Warn("delivery: cannot hand deliveries back", "count", n, "parked_until", until, "err", err)
			}
			if timedOut(err) {
				r.dropHandBacks(back[k+1:])
				return false
			}
			leases = leases[n:]
		}
	}
	return false
}

// dropHandBacks logs the hand-backs that a store that did not answer in
// time leaves out.
func (r *recorder) dropHandBacks(rest []handback) {
	if len(rest) > 0 {
		r.log.Warn("delivery: the store did not answer in time; deliveries not handed back wait for their leases or parks to end",
			"hand_backs", len(rest))
	}
	for _, hb := range rest {
		if hb.webhook != "" {
			r.unparkEnded(hb.webhook)
		}
	}
}

func (r *recorder) unparkEnded(webhookID string) {
	if r.unparked != nil {
		r.unparked(webhookID)
	}
}
