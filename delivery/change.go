package delivery

import (
	"time"

	"github.com/pathhook/pathhook"
)

// What the scheduler does when what its jobs were made from changes: a
// delivery claimed again while its job waits (renew), and a webhook whose
// URL, secrets or switch changed (replace, stale). Jobs carry the webhook
// as it was when they were made, so those of a changed webhook are handed
// back to the store and claimed again as it is now.

// replace drops the queued jobs of the webhooks that have changed (all of
// them, with none given) and releases them, so that they are claimed again
// as the webhooks are now; jobs made before the change that come later (a
// claim or an Offer under way) are released as they come (stale).
func (s *scheduler) replace(webhookIDs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	if len(webhookIDs) == 0 {
		s.changedAll = now
		for id := range s.hooks {
			webhookIDs = append(webhookIDs, id)
		}
	}
	var leases []pathhook.Lease
	for _, id := range webhookIDs {
		h := s.changedHook(id, now)
		leases = s.givableLeases(leases, h, now)
		s.drop(h)
	}
	if len(leases) > 0 {
		s.release(leases...)
	}
	s.roomMade()
}

// changedHook returns the state of webhook id, made if the scheduler had
// none, marked changed at now: jobs made before then are stale. tidy keeps
// it while such jobs may still come.
func (s *scheduler) changedHook(id string, now time.Time) *hook {
	h := s.hooks[id]
	if h == nil {
		h = &hook{id: id}
		s.hooks[id] = h
	}
	h.changed, h.used = now, now
	return h
}

// givableLeases appends to leases those of h's queued jobs worth handing
// back (givable).
func (s *scheduler) givableLeases(leases []pathhook.Lease, h *hook, now time.Time) []pathhook.Lease {
	for _, job := range h.queue {
		if s.givable(&job, now) {
			leases = append(leases, job.Lease())
		}
	}
	return leases
}

// stale reports whether job, of h (nil if the scheduler has no state of
// its webhook), was made (Job.MadeAt) before its webhook's last change, or
// every webhook's: from what the webhook was, perhaps. One made in the
// same instant is taken as made after it, so that a clock that does not
// move (a test's) cannot hand the same job back for ever; real clocks move
// between a read of the webhook and a change that commits after it.
func (s *scheduler) stale(h *hook, job *pathhook.Job) bool {
	changed := s.changedAll
	if h != nil && h.changed.After(changed) {
		changed = h.changed
	}
	return job.MadeAt.Before(changed)
}

// renew replaces the queued job of job's delivery, if there is one, with
// job: a claim of a delivery whose lease ran out while it waited in memory
// renews the lease in the store, and the job queued under the old lease
// would otherwise be dropped as stale when its turn came, leaving the
// delivery to wait out the new lease.
func (s *scheduler) renew(job *pathhook.Job) {
	h := s.hooks[job.WebhookID]
	if h == nil {
		return
	}
	for i := range h.queue {
		if h.queue[i].DeliveryID == job.DeliveryID {
			h.queue[i] = *job
			return
		}
	}
}
