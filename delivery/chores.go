package delivery

import (
	"context"
	"fmt"
	"time"
)

// How often the chores run, by the engine's clock.
const (
	sweepEvery = time.Minute
	pruneEvery = time.Hour
	choreTick  = time.Minute // real time between looks at the clock
	// idleHook is how long a webhook's in-memory state outlives its work.
	idleHook = 10 * time.Minute
)

// chores runs the engine's housekeeping until ctx ends: failing the
// backlogs of webhooks switched off, disabling webhooks that have failed
// for too long, pruning old deliveries, and forgetting idle webhooks. Each
// runs when it is due by the clock, checked every choreTick and on Poke;
// backlogs also at once when a webhook is switched off.
func (e *Engine) chores(ctx context.Context) {
	ticker := time.NewTicker(choreTick)
	defer ticker.Stop()
	var nextSweep, nextPrune, nextEnd time.Time
	for {
		now := e.c.Clock()
		if e.c.AutoDisableAfter > 0 && !now.Before(nextSweep) {
			e.sweep(ctx, now)
			nextSweep = now.Add(sweepEvery)
		}
		// Every sweepEvery as well: a node, or a process, may have stopped
		// before it failed a backlog.
		if e.switchedOff.Swap(false) || !now.Before(nextEnd) {
			e.endBacklogs(ctx, now)
			nextEnd = now.Add(sweepEvery)
		}
		if e.c.Retention > 0 && !now.Before(nextPrune) {
			e.prune(ctx, now)
			nextPrune = now.Add(pruneEvery)
		}
		e.sched.tidy(now.Add(-idleHook))
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-e.chore:
		}
	}
}

// sweep disables the webhooks whose attempts have all failed since before
// now-AutoDisableAfter, and has their backlogs failed next.
func (e *Engine) sweep(ctx context.Context, now time.Time) {
	cutoff := now.Add(-e.c.AutoDisableAfter)
	reason := fmt.Sprintf("disabled automatically: every delivery attempt has failed since before %s (%s without a success)",
		cutoff.UTC().Format(time.RFC3339), days(e.c.AutoDisableAfter))
	ids, err := e.store.DisableFailing(ctx, cutoff, now, reason)
	if err != nil {
		if ctx.Err() == nil {
			e.c.Logger.Error("delivery: cannot disable failing webhooks", "err", err)
		}
		return
	}
	e.sched.forget(ids)
	for _, id := range ids {
		e.c.Logger.Warn("delivery: webhook disabled", "webhook", id, "reason", reason)
	}
	if len(ids) > 0 {
		e.switchedOff.Store(true) // their backlogs, next
	}
}

// endChunk is the most deliveries of a switched-off webhook failed in one
// transaction: a few milliseconds of SQLite's writer.
const endChunk = 5000

// endBacklogs fails the pending deliveries of the webhooks switched off.
func (e *Engine) endBacklogs(ctx context.Context, now time.Time) {
	if e.serialWrites {
		e.polling.Lock()
	}
	n, err := e.store.EndBacklogs(ctx, endChunk, now)
	if e.serialWrites {
		e.polling.Unlock()
	}
	switch {
	case err != nil && ctx.Err() == nil:
		e.switchedOff.Store(true) // again at the next look
		e.c.Logger.Error("delivery: cannot fail the pending deliveries of switched-off webhooks", "err", err)
	case n > 0:
		e.c.Logger.Info("delivery: failed the pending deliveries of switched-off webhooks", "count", n)
	}
}

// prune deletes the ended deliveries created before now-Retention.
func (e *Engine) prune(ctx context.Context, now time.Time) {
	n, err := e.store.Prune(ctx, now.Add(-e.c.Retention))
	switch {
	case err != nil && ctx.Err() == nil:
		e.c.Logger.Error("delivery: cannot prune old deliveries", "err", err)
	case n > 0:
		e.c.Logger.Info("delivery: pruned old deliveries", "count", n, "retention", days(e.c.Retention))
	}
}

// days writes a duration the way people say windows like these.
func days(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d == day:
		return "1 day"
	case d%day == 0:
		return fmt.Sprintf("%d days", d/day)
	}
	return d.String()
}
