package delivery

import (
	"context"
	"time"

	"github.com/pathhook/pathhook"
)

// Store is the delivery queue that the engine works from. *sqlstore.DB (from
// sqlite.Open or postgres.Open) implements it.
type Store interface {
	// ClaimDue leases up to limit due deliveries of enabled webhooks to
	// owner until until, oldest due first, and returns them ready to send.
	// With an error that wraps pathhook.ErrCommitUnknown it returns the
	// jobs it claimed, whose leases may or may not have been saved.
	ClaimDue(ctx context.Context, owner string, now, until time.Time, limit int) ([]pathhook.Job, error)
	// Record writes the results of attempts in one transaction and clears
	// their leases. An error with the code EUNAVAILABLE says the store is
	// out of reach (the database is down or restarting), not that one of
	// the results is at fault.
	Record(ctx context.Context, results []pathhook.Result) error
	// Restore records, like Record, those of results whose attempts it
	// does not have yet (the attempt's number is above its delivery's
	// attempt count, and the delivery is leased to owner or to no node),
	// the last of two results of one attempt, and returns how many it
	// recorded.
	Restore(ctx context.Context, owner string, results []pathhook.Result) (int, error)
	// RecordAgain is Record for results whose last Record may have been
	// carried out (its error wrapped pathhook.ErrCommitUnknown): it leaves
	// out the results whose attempts their deliveries have counted.
	RecordAgain(ctx context.Context, results []pathhook.Result) error
	// ReleaseLeases clears every lease that owner holds, and returns how
	// many it cleared (see Config.TakeBack).
	ReleaseLeases(ctx context.Context, owner string) (int64, error)
	// Release clears the given leases that owner still holds, so that
	// any node's next poll finds their deliveries; a delivery under
	// another lease since, even owner's, keeps it.
	Release(ctx context.Context, owner string, leases []pathhook.Lease) error
	// Park gives up the given leases that owner still holds, of pending
	// deliveries, and defers those to until: no node claims them before
	// then, unless Unpark brings them back first.
	Park(ctx context.Context, owner string, leases []pathhook.Lease, until time.Time) error
	// ParkDue defers, as Park does, up to limit of a webhook's pending
	// deliveries that are due at now and leased to no node (or whose
	// lease has run out), without claiming them, and returns how many it
	// deferred: those due first first, the i-th to turns.At(i).
	ParkDue(ctx context.Context, webhookID string, now time.Time, turns pathhook.Turns, limit int) (int, error)
	// Unpark makes up to limit of a webhook's pending deliveries that
	// Park deferred due at their next attempt time again, so that polling,
	// of any node, finds them at once. It returns how many it brought
	// back, fewer than limit when no more are parked.
	Unpark(ctx context.Context, webhookID string, limit int) (int, error)
	// NextDue returns the earliest next attempt time of pending deliveries.
	NextDue(ctx context.Context) (time.Time, bool, error)
	// DisableFailing disables enabled webhooks that have failed without a
	// success since before cutoff, and returns their ids.
	DisableFailing(ctx context.Context, cutoff, now time.Time, reason string) ([]string, error)
	// EndBacklogs fails the pending deliveries of webhooks switched off
	// (pathhook.Tx.EndBacklog, DisableFailing, a result with a
	// DisableReason), up to chunk in one transaction, and returns how many
	// it failed. It looks again at the deliveries made about the time of a
	// switch-off for a while after it (see sqlstore), so it is called
	// regularly, not only after switch-offs.
	EndBacklogs(ctx context.Context, chunk int, now time.Time) (int, error)
	// Prune deletes ended deliveries created before cutoff.
	Prune(ctx context.Context, cutoff time.Time) (int, error)
}

// serialWriter is a Store that may run one write transaction at a time
// (*sqlstore.DB), which SerialWrites reports.
type serialWriter interface{ SerialWrites() bool }

// Observer is told what the engine does, for metrics. The engine calls it
// from its hot paths, so its methods must be quick and safe for concurrent
// use.
type Observer interface {
	// Attempted is called after each attempt with its result and how long
	// it took.
	Attempted(r *pathhook.Result, took time.Duration)
	// Recorded is called after each write of n results to the store.
	Recorded(n int, took time.Duration, err error)
}
