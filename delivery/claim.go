package delivery

import (
	"context"
	"time"
)

// claimBatch is the most deliveries claimed in one transaction.
const claimBatch = 256

// pollInterval is the longest the engine goes without looking for due
// work: retries that have come due and leases that have run out.
const pollInterval = time.Second

// minPoll is the shortest wait between polls that found nothing to claim.
const minPoll = 50 * time.Millisecond

// claim polls the store for due deliveries until ctx ends: at once, then
// when the earliest retry falls due, at least every pollInterval, and
// whenever Poke or finished attempts make it worthwhile.
func (e *Engine) claim(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
		case <-timer.C:
		}
		timer.Reset(e.poll(ctx))
	}
}

// poll claims due deliveries while there are some and there is room for
// them, and returns how long to wait before the next poll.
func (e *Engine) poll(ctx context.Context) time.Duration {
	e.polling.Lock()
	defer e.polling.Unlock()
	for {
		limit := e.sched.room(claimBatch)
		if limit == 0 {
			return pollInterval // the scheduler wakes us when it has room
		}
		now := e.c.Clock()
		jobs, err := e.store.ClaimDue(ctx, e.c.Owner, now, now.Add(e.c.Lease), limit)
		if err != nil {
			if ctx.Err() == nil {
				e.c.Logger.Error("delivery: cannot claim due deliveries", "err", err)
			}
			return pollInterval
		}
		e.sched.add(jobs)
		if len(jobs) < limit {
			break
		}
	}
	next, ok, err := e.store.NextDue(ctx)
	if err != nil {
		if ctx.Err() == nil {
			e.c.Logger.Error("delivery: cannot read the next due delivery", "err", err)
		}
		return pollInterval
	}
	wait := next.Sub(e.c.Clock())
	switch {
	case !ok:
		return pollInterval
	case wait <= 0:
		// It fell due since the claim, or cannot be claimed: look again
		// soon, without spinning.
		return minPoll
	}
	return min(wait, pollInterval)
}
