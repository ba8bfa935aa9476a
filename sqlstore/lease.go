package sqlstore

import (
	"context"

	"github.com/pathhook/pathhook"
)

// ReleaseAllLeases clears the lease of every pending delivery, whoever holds
// it, brings back every parked one (see Park), and returns how many it
// freed. Only a node that knows it is alone on the database may call it: a
// restarted SQLite server does, so that the work its previous process held
// or parked is taken up at once, instead of when the leases run out or on
// the previous process's estimates of its webhooks' pace.
func (db *DB) ReleaseAllLeases(ctx context.Context) (int64, error) {
	return db.release(ctx, "release all leases", "lease_owner <> '' OR due_at > next_attempt_at")
}

// ReleaseLeases clears the leases that owner holds on pending deliveries
// and returns how many it freed; other nodes' leases and parked deliveries
// stay as they are. A node that starts again under the name of one that
// stopped, crashed or was killed calls it, once it knows no other process
// of that name is running: what its predecessor held is taken up at once
// by any node, instead of when the leases run out.
func (db *DB) ReleaseLeases(ctx context.Context, owner string) (int64, error) {
	if owner == "" {
		return 0, pathhook.Errorf(pathhook.EINVALID, "release leases: no owner named")
	}
	return db.release(ctx, "release leases", "lease_owner = ?", owner)
}

// release makes the pending deliveries that match cond due at their next
// attempt and leased to no node, tells the nodes of new work if it freed
// any, and returns how many.
func (db *DB) release(ctx context.Context, op, cond string, args ...any) (int64, error) {
	var n int64
	err := db.writeTx(ctx, func(t *txn) error {
		res, err := t.exec(ctx, `UPDATE deliveries SET lease_owner = '', lease_until = 0, due_at = next_attempt_at
			WHERE status = 'pending' AND (`+cond+`)`, args...)
		if err != nil {
			return fail(op, err)
		}
		if n, err = res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		return t.newWork(ctx)
	})
	return n, err
}
