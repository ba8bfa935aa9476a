// Package pathhook is the domain of the pathhook webhook system: pathways of
// activities and rewards, the learners who enrol in them, the events their
// changes cause, and the webhooks that carry those events to integrators.
//
// The package holds the types, the rules (what a completion emits, which
// rewards it unlocks) and the Service that applies them inside one store
// transaction. It imports only the standard library; stores, the delivery
// engine, the HTTP API and the admin UI are adapters around it.
package pathhook

import (
	"context"
	"time"
)

// Version is the version of pathhook, sent in the User-Agent of deliveries.
const Version = "0.1.0"

// Page selects one page of a list: at most Limit items older than the item
// whose id is Cursor (the first page when Cursor is empty).
type Page struct {
	Limit  int
	Cursor string
}

// Page limits.
const (
	DefaultPageLimit = 20
	MaxPageLimit     = 100
)

// Clock tells the time. Tests pass a fake one instead of sleeping.
type Clock func() time.Time

// now returns the clock's time in UTC, cut to milliseconds so that what the
// API shows, what the store keeps and what payloads carry are equal.
func (c Clock) now() time.Time {
	return c().UTC().Truncate(time.Millisecond)
}

// Dispatcher takes deliveries that a committed transaction created, so that
// they can be attempted at once instead of waiting for the next poll. Offer
// must not block; deliveries it cannot take stay in the store and are found
// by polling when their lease runs out.
type Dispatcher interface {
	Offer(ctx context.Context, jobs []Job)
}

// A Dispatcher may also be a Doubter. When an Update's COMMIT got no
// answer (ErrCommitUnknown), the Service gives it the jobs it would have
// offered: their deliveries exist only if the change was saved, and are
// then leased to the dispatcher for jobs it was never given. A Doubter
// gives those leases back once the store answers, so that the deliveries
// are claimed at once rather than when the leases run out.
type Doubter interface {
	Doubt(jobs []Job)
}

// A Dispatcher that holds jobs may also be a WebhookWatcher: the Service
// tells it, once the transaction has committed, of each change to a
// webhook (its URL, its secrets, its switch), since the jobs it holds carry
// the webhook as it was, and it must not send them so.
type WebhookWatcher interface {
	WebhookChanged(webhookID string)
}
