package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"time"

	"github.com/pathhook/pathhook"
)

// The queue methods serve the delivery engine, which works for every org:
// they address deliveries and webhooks by their ids, which are unique
// across orgs.

// maxIDsPerQuery bounds the ids in one IN list, well below what either
// database allows in placeholders.
const maxIDsPerQuery = 500

// ClaimDue leases up to limit due deliveries of enabled webhooks to owner
// until until, and returns them as ready Jobs, in due order. A delivery is
// due when it is pending, its next_attempt_at is not after now, and it has
// no lease or its lease ran out before now.
func (db *DB) ClaimDue(ctx context.Context, owner string, now, until time.Time, limit int) ([]pathhook.Job, error) {
	if limit <= 0 {
		return nil, nil
	}
	if limit > maxIDsPerQuery {
		limit = maxIDsPerQuery
	}
	var jobs []pathhook.Job
	err := db.writeTx(ctx, func(t *txn) error {
		ids, err := t.claim(ctx, owner, now, until, limit)
		if err != nil || len(ids) == 0 {
			jobs = nil
			return err
		}
		jobs, err = t.jobs(ctx, ids, now)
		return err
	})
	return jobs, err
}

func (t *txn) claim(ctx context.Context, owner string, now, until time.Time, limit int) ([]any, error) {
	// The due rows are picked in a CTE and joined, not matched with IN: a
	// subquery under IN may be run again, and claim more than limit. The
	// update matches them by id alone: the CTE has locked them as they are
	// now (PostgreSQL) or runs in the one writer (SQLite), so they are
	// still due. A condition on deliveries there, status = 'pending', had
	// PostgreSQL, with statistics from before a backlog, start from every
	// pending delivery and compare each with every claimed one: 3.9 s a
	// claim with 40,000 pending, against 5.5 ms.
	rows, err := t.query(ctx, `WITH due AS (SELECT d.id FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
			WHERE d.status = 'pending' AND d.due_at <= ? AND d.next_attempt_at <= ? AND d.lease_until < ? AND w.enabled = ?
			ORDER BY d.due_at LIMIT ?`+t.db.dialect.SkipLocked()+`)
		UPDATE deliveries SET lease_owner = ?, lease_until = ?, due_at = ? FROM due
		WHERE deliveries.id = due.id
		RETURNING deliveries.id`, micros(now), micros(now), micros(now), true, limit, owner, micros(until), micros(until))
	if err != nil {
		return nil, fail("claim", err)
	}
	defer rows.Close()
	var ids []any
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fail("claim", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("claim", err)
	}
	return ids, nil
}

// jobs reads what the attempts of the claimed deliveries need.
func (t *txn) jobs(ctx context.Context, ids []any, now time.Time) ([]pathhook.Job, error) {
	rows, err := t.query(ctx, `SELECT d.id, d.org_id, d.webhook_id, d.event_id, d.event_type, d.attempt_count, d.manual,
			d.created_at, d.lease_until, e.payload, w.url, w.secret, w.previous_secret, w.previous_secret_expires_at
		FROM deliveries d JOIN events e ON e.id = d.event_id JOIN webhooks w ON w.id = d.webhook_id
		WHERE d.id IN (`+placeholders(len(ids))+`) ORDER BY d.next_attempt_at, d.id`, ids...)
	if err != nil {
		return nil, fail("claimed jobs", err)
	}
	defer rows.Close()
	jobs := make([]pathhook.Job, 0, len(ids))
	secrets := map[string][][]byte{} // by webhook: each is opened once
	for rows.Next() {
		var j pathhook.Job
		var w pathhook.Webhook
		var leaseUntil int64
		err := rows.Scan(&j.DeliveryID, &j.OrgID, &j.WebhookID, &j.EventID, &j.EventType, &j.Attempt, &j.Manual,
			timeCol{&j.CreatedAt}, &leaseUntil, &j.Body, &w.URL, &w.Secret, &w.PreviousSecret,
			nullTimeCol{&w.PreviousSecretExpiresAt})
		if err != nil {
			return nil, fail("claimed jobs", err)
		}
		j.Attempt++
		j.LeaseUntil, j.MadeAt = leaseTime(leaseUntil), now
		if w.URL != nil {
			j.URL = *w.URL
		}
		ss, ok := secrets[j.WebhookID]
		if !ok {
			w.ID = j.WebhookID
			if err := t.db.unseal(&w); err != nil {
				return nil, err
			}
			ss = w.Secrets(now)
			secrets[j.WebhookID] = ss
		}
		j.Secrets = ss
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("claimed jobs", err)
	}
	return jobs, nil
}

// Release clears the given leases that owner still holds, so that the next
// poll, of any node, finds their deliveries at once. A delivery under
// another lease since, even one of owner's (a later claim of the same
// node, or of a process that took over its name), keeps it.
func (db *DB) Release(ctx context.Context, owner string, leases []pathhook.Lease) error {
	if len(leases) == 0 {
		return nil
	}
	return db.writeTx(ctx, func(t *txn) error {
		released, err := t.updateLeases(ctx, "release", `SET lease_owner = '', lease_until = 0, due_at = next_attempt_at`, nil, owner, leases)
		if err != nil || released == 0 {
			return err
		}
		return t.newWork(ctx)
	})
}

// leaseColumns are the columns of a list of leases (see updateLeases): the
// delivery, the end of its lease, its owner and its status.
var leaseColumns = []string{"text", "bigint", "text", "text"}

// updateLeases runs the update of deliveries set (a SET clause, with its
// parameters args) on the pending deliveries that owner still holds under
// leases, a bounded number per statement, and returns how many it changed.
//
// The owner and the status come in the rows with each lease, not as
// parameters, so that the statement has no condition on deliveries alone
// and the database finds each row by its id. With lease_owner = $owner,
// statistics from a moment when few deliveries were leased to this node
// (or pending at all) made PostgreSQL start from those it thought were
// few, and compare each with every lease: 1.3 s for 500 leases among
// 50,000 deliveries, against 10 ms through the primary key.
func (t *txn) updateLeases(ctx context.Context, op, set string, args []any, owner string, leases []pathhook.Lease) (int64, error) {
	var changed int64
	for _, list := range lists(leases, t.db.dialect.ListRows) {
		values := make([]any, 0, len(leaseColumns)*len(list))
		for _, l := range list {
			values = append(values, l.DeliveryID, leaseMicros(l.Until), owner, pathhook.DeliveryPending)
		}
		from, vargs := t.db.dialect.Rows(leaseColumns, values)
		res, err := t.exec(ctx, "UPDATE deliveries "+set+" FROM "+from+
			" WHERE deliveries.id = v.column1 AND deliveries.lease_until = v.column2 AND deliveries.lease_owner = v.column3 AND deliveries.status = v.column4",
			append(slices.Clip(args), vargs...)...)
		if err != nil {
			return changed, fail(op, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return changed, fail(op, err)
		}
		changed += n
	}
	return changed, nil
}

// Park gives up the given leases that owner still holds (as Release does)
// and defers their deliveries: their due_at moves to until (or stays at
// their next attempt, if that is later), so that no node claims them
// before then and NextDue tells the claimers to look again then. A
// deferred delivery is pending, unleased, and due after its next attempt
// time, which is how Unpark finds it.
//
// No node is told of new work: none is due before until.
func (db *DB) Park(ctx context.Context, owner string, leases []pathhook.Lease, until time.Time) error {
	if len(leases) == 0 {
		return nil
	}
	u := micros(until)
	return db.writeTx(ctx, func(t *txn) error {
		_, err := t.updateLeases(ctx, "park",
			`SET lease_owner = '', lease_until = 0, due_at = CASE WHEN next_attempt_at > ? THEN next_attempt_at ELSE ? END`,
			[]any{u, u}, owner, leases)
		return err
	})
}

// ParkDue defers up to limit deliveries of a webhook that are due at now
// and leased to no node (or whose lease ran out before now), as Park
// defers the deliveries it is given, and returns how many: those due first
// first, the i-th to turns.At(i). The engine puts a slow webhook's due
// backlog out of the claims' way with it, without leasing and reading
// each delivery first. It reads them through the due index, those due
// first first, as claims do: appending an empty string to webhook_id keeps
// the planner off the webhook's index, which would walk its whole history.
func (db *DB) ParkDue(ctx context.Context, webhookID string, now time.Time, turns pathhook.Turns, limit int) (int, error) {
	var n int64
	err := db.writeTx(ctx, func(t *txn) error {
		// Picked in a CTE and joined by id alone, as a claim's rows are
		// (see claim): a subquery under IN may be run again, and park
		// more than limit. The turns are numbered in a second CTE:
		// PostgreSQL takes no window function beside a row lock.
		from, step, last := micros(turns.From), turns.Step.Microseconds(), micros(turns.Last)
		res, err := t.exec(ctx, `WITH due AS (SELECT d.id, d.due_at FROM deliveries d
				WHERE d.status = 'pending' AND d.due_at <= ? AND d.next_attempt_at <= ? AND d.lease_until < ? AND d.webhook_id || '' = ?
				ORDER BY d.due_at LIMIT ?`+t.db.dialect.SkipLocked()+`),
			turns AS (SELECT id, ? + (ROW_NUMBER() OVER (ORDER BY due_at, id) - 1) * ? AS at FROM due)
			UPDATE deliveries SET lease_owner = '', lease_until = 0, due_at = CASE WHEN turns.at < ? THEN turns.at ELSE ? END FROM turns
			WHERE deliveries.id = turns.id`,
			micros(now), micros(now), micros(now), webhookID, limit, from, step, last, last)
		if err != nil {
			return fail("park due", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// Unpark makes up to limit deliveries of a webhook that Park deferred due
// at their next attempt time again, tells the nodes of new work, and
// returns how many it brought back. A backlog parked for an hour may hold
// hundreds of thousands, more than one transaction should write: the
// caller goes on while it gets limit.
//
// It reads them through the partial index of parked deliveries
// (deliveries_parked, whose condition is parked), in two steps as
// EndBacklogs does: the greatest id of a chunk, then the chunk, which
// leaves the index.
func (db *DB) Unpark(ctx context.Context, webhookID string, limit int) (n int, err error) {
	err = db.writeTx(ctx, func(t *txn) error {
		var last sql.NullString
		err := t.queryRow(ctx, `SELECT COUNT(*), MAX(id) FROM (SELECT id FROM deliveries
				WHERE webhook_id = ? AND `+parked+` ORDER BY id LIMIT ?) ids`, webhookID, limit).Scan(&n, &last)
		if err != nil {
			return fail("unpark", err)
		}
		if n == 0 {
			return nil
		}
		if _, err := t.exec(ctx, `UPDATE deliveries SET due_at = next_attempt_at
				WHERE webhook_id = ? AND `+parked+` AND id <= ?`, webhookID, last.String); err != nil {
			return fail("unpark", err)
		}
		return t.newWork(ctx)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// parked is what a delivery that Park deferred, and nothing else, matches:
// the condition of the deliveries_parked index, which a query must repeat
// to read through it.
const parked = "status = 'pending' AND lease_owner = '' AND due_at > next_attempt_at"

// QueueStats returns how many deliveries are pending and when the oldest
// of them was created (zero when none is).
func (db *DB) QueueStats(ctx context.Context) (pending int, oldest time.Time, err error) {
	var first sql.NullInt64
	err = db.read.QueryRowContext(ctx, `SELECT COUNT(*), MIN(created_at) FROM deliveries WHERE status = 'pending'`).
		Scan(&pending, &first)
	if err != nil {
		return 0, time.Time{}, fail("queue stats", err)
	}
	if first.Valid {
		oldest = fromMicros(first.Int64)
	}
	return pending, oldest, nil
}

// NextDue returns when the earliest pending delivery becomes claimable:
// its next_attempt_at, or the end of its lease if that is later (so that
// the engine does not poll for deliveries that another node is attempting).
// ok is false when no delivery is pending.
func (db *DB) NextDue(ctx context.Context) (next time.Time, ok bool, err error) {
	var due sql.NullInt64
	err = db.read.QueryRowContext(ctx, "SELECT MIN(due_at) FROM deliveries WHERE status = 'pending'").Scan(&due)
	if err != nil {
		return time.Time{}, false, db.unavailable(fail("next due", err))
	}
	if !due.Valid {
		return time.Time{}, false, nil
	}
	return fromMicros(due.Int64), true, nil
}
