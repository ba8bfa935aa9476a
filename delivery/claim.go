package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/pathhook/pathhook"
)

// claimBatch is the most deliveries claimed in one transaction. A store
// may take fewer a claim (sqlstore takes at most 500), but no fewer than
// this: poll takes a claim that came back short for all that was due.
const claimBatch = 256

// pollInterval is the longest the engine goes without looking for due
// work: retries that have come due and leases that have run out.
const pollInterval = time.Second

// minPoll is the shortest wait between polls that found nothing to claim.
const minPoll = 50 * time.Millisecond

// afterOutage is how long claims wait once the store answers again after
// it was out of reach: the results of other nodes' attempts may have
// waited for it too, past their deliveries' leases, and their recorders
// try again at most a second apart (see recorder.write).
const afterOutage = 3 * time.Second

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
	if e.rec.waiting.Load() {
		// Results wait for the store, out of reach: claims would lease
		// again the deliveries of those whose leases ran out, and send
		// them twice. The recorder wakes us once the store answers.
		e.storeWasOut = true
		return pollInterval
	}
	if now := e.c.Clock(); now.Before(e.claimsFrom) {
		// Never further off than afterOutage, should the clock go back.
		e.claimsFrom = minTime(e.claimsFrom, now.Add(afterOutage))
		return e.claimsFrom.Sub(now)
	}
	if e.storeWasOut {
		if _, _, err := e.store.NextDue(ctx); err != nil {
			e.storeWasOut = outOfReach(err)
			return pollInterval
		}
		// It answers again. Other nodes' results may still wait for it,
		// as this node's do behind the recorder's gate above: claims
		// give them time to be written.
		e.storeWasOut = false
		e.claimsFrom = e.c.Clock().Add(afterOutage)
		return afterOutage
	}
	e.releaseDoubtful(ctx)
	for {
		limit := e.sched.room(claimBatch)
		if limit == 0 {
			return pollInterval // the scheduler wakes us when it has room
		}
		now := e.c.Clock()
		jobs, err := e.store.ClaimDue(ctx, e.c.Owner, now, now.Add(e.c.Lease), limit)
		if errors.Is(err, pathhook.ErrCommitUnknown) && len(jobs) > 0 {
			e.Doubt(jobs) // leased to this node, perhaps, for jobs it does not hold
		}
		if err != nil {
			if ctx.Err() == nil {
				e.c.Logger.Error("delivery: cannot claim due deliveries", "err", err)
			}
			e.storeWasOut = outOfReach(err)
			return pollInterval
		}
		dense := e.sched.addClaimed(jobs)
		if len(jobs) < limit {
			break // nothing else was due to park where it lies
		}
		for _, id := range dense {
			e.parkDue(ctx, id)
		}
	}
	next, ok, err := e.store.NextDue(ctx)
	if err != nil {
		if ctx.Err() == nil {
			e.c.Logger.Error("delivery: cannot read the next due delivery", "err", err)
		}
		e.storeWasOut = outOfReach(err)
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

// parkDueBatch is the most due deliveries of one webhook parked where they
// lie in one transaction.
const parkDueBatch = 2000

// parkDue parks where they lie the due deliveries of a webhook whose
// claimed jobs were parked (see scheduler.addClaimed): a slow webhook's
// due backlog is put out of the claims' way without each delivery being
// leased and read first.
func (e *Engine) parkDue(ctx context.Context, webhookID string) {
	plan, ok := e.sched.parkTurns(webhookID)
	if !ok {
		return
	}
	n, err := e.store.ParkDue(ctx, webhookID, e.c.Clock(), plan.turns, parkDueBatch)
	if err != nil {
		if ctx.Err() == nil {
			e.c.Logger.Error("delivery: cannot park a slow webhook's due deliveries; claims take them as they come", "webhook", webhookID, "err", err)
		}
		return
	}
	e.sched.parkedDue(webhookID, n, plan)
}

// minTime returns the earlier of a and b.
func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
