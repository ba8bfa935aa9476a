package pathhook

import (
	"context"
	"errors"
	"time"
)

// Service applies pathhook's rules: every change and the events it causes
// are written in one transaction, and the deliveries it creates are offered
// to the dispatcher once that transaction has committed.
type Service struct {
	ids        idSource
	store      Store
	clock      Clock
	dispatcher Dispatcher
	lease      LeaseOwner
	allowHTTP  bool
	checkHost  func(ctx context.Context, host string) error
	keys       keyCache
}

// Config holds what a Service needs. Store is required; the rest may be
// left zero.
type Config struct {
	Store Store
	// Clock defaults to time.Now.
	Clock Clock
	// Dispatcher, if set, is offered the deliveries of each committed
	// change; they are created leased to Lease.Owner for Lease.For so that
	// no other node takes them meanwhile.
	Dispatcher Dispatcher
	Lease      LeaseOwner
	// AllowHTTP accepts http:// webhook URLs.
	AllowHTTP bool
	// CheckHost, if set, returns an EINVALID error for a webhook URL host
	// that deliveries must not reach.
	CheckHost func(ctx context.Context, host string) error
}

// NewService returns a Service with the given configuration.
func NewService(c Config) *Service {
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Dispatcher == nil {
		c.Lease = LeaseOwner{}
	}
	return &Service{store: c.Store, clock: c.Clock, dispatcher: c.Dispatcher, lease: c.Lease, allowHTTP: c.AllowHTTP, checkHost: c.CheckHost}
}

// update runs fn in a transaction with an emitter for its events, then
// offers the deliveries that fn created to the dispatcher.
func (s *Service) update(ctx context.Context, now time.Time, fn func(Tx, *emitter) error) error {
	var e *emitter
	err := s.store.Update(ctx, func(tx Tx) error {
		e = &emitter{now: now, lease: s.lease, ids: &s.ids}
		return fn(tx, e)
	})
	if err != nil {
		if d, ok := s.dispatcher.(Doubter); ok && e != nil && len(e.jobs) > 0 && errors.Is(err, ErrCommitUnknown) {
			d.Doubt(e.jobs)
		}
		return err
	}
	if len(e.jobs) > 0 && s.dispatcher != nil {
		s.dispatcher.Offer(ctx, e.jobs)
	}
	return nil
}
