package sqlstore

import "context"

// ReleaseAllLeases clears the lease of every pending delivery, whoever holds
// it, brings back every parked one (see Park), and returns how many it
// freed. Only a node that knows it is alone on the database may call it: a
// restarted SQLite server does, so that the work its previous process held
// or parked is taken up at once, instead of when the leases run out or on
// the previous process's estimates of its webhooks' pace.
func (db *DB) ReleaseAllLeases(ctx context.Context) (int64, error) {
	var n int64
	err := db.writeTx(ctx, func(t *txn) error {
		res, err := t.exec(ctx, `UPDATE deliveries SET lease_owner = '', lease_until = 0, due_at = next_attempt_at
			WHERE status = 'pending' AND (lease_owner <> '' OR due_at > next_attempt_at)`)
		if err != nil {
			return fail("release all leases", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
