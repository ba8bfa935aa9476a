package sqlstore

import (
	"context"
	"time"

	"github.com/pathhook/pathhook"
)

// disableWebhook switches a webhook off with a reason and fails its
// pending deliveries.
func (t *txn) disableWebhook(ctx context.Context, id, reason string, now time.Time) error {
	_, err := t.exec(ctx, "UPDATE webhooks SET enabled = ?, disabled_reason = ?, updated_at = ? WHERE id = ? AND enabled = ?",
		false, reason, micros(now), id, true)
	if err != nil {
		return fail("disable webhook", err)
	}
	_, err = t.exec(ctx, `UPDATE deliveries SET status = ?, next_attempt_at = NULL, lease_owner = '', lease_until = 0,
		due_at = NULL, ended_at = ?, end_reason = ? WHERE webhook_id = ? AND status = ?`,
		pathhook.DeliveryFailed, micros(now), reason, id, pathhook.DeliveryPending)
	if err != nil {
		return fail("disable webhook: fail deliveries", err)
	}
	return nil
}

// DisableFailing disables every enabled webhook that has been failing
// since before cutoff, with reason, fails their pending deliveries, and
// returns their ids.
func (db *DB) DisableFailing(ctx context.Context, cutoff, now time.Time, reason string) ([]string, error) {
	var ids []string
	err := db.writeTx(ctx, func(t *txn) error {
		rows, err := t.query(ctx, "SELECT id FROM webhooks WHERE enabled = ? AND failing_since < ? ORDER BY id",
			true, micros(cutoff))
		if err != nil {
			return fail("disable failing", err)
		}
		ids, err = collect(rows, "disable failing", func(s interface{ Scan(...any) error }, id *string) error { return s.Scan(id) })
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := t.disableWebhook(ctx, id, reason, now); err != nil {
				return err
			}
		}
		return nil
	})
	return ids, err
}

// pruneChunk is how many rows one pruning transaction deletes, so that
// pruning a large backlog never holds the writer for long.
const pruneChunk = 1000

// Prune deletes the deliveries that have ended and were created before
// cutoff, with their attempts, then the events left without deliveries
// that were created before cutoff. It returns how many deliveries it
// deleted. It works in small transactions; an error leaves what was
// deleted so far deleted.
func (db *DB) Prune(ctx context.Context, cutoff time.Time) (int, error) {
	// Ids sort by creation time, so the primary key bounds the scan.
	deliveryBound := pathhook.NewID(pathhook.PrefixDelivery, cutoff.Add(time.Millisecond))
	eventBound := pathhook.NewID(pathhook.PrefixEvent, cutoff.Add(time.Millisecond))
	deleted := 0
	for {
		var n int64
		err := db.writeTx(ctx, func(t *txn) error {
			if _, err := t.exec(ctx, `DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries
				WHERE id < ? AND created_at < ? AND status <> 'pending' ORDER BY id LIMIT ?)`,
				deliveryBound, micros(cutoff), pruneChunk); err != nil {
				return fail("prune attempts", err)
			}
			res, err := t.exec(ctx, `DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries
				WHERE id < ? AND created_at < ? AND status <> 'pending' ORDER BY id LIMIT ?)`,
				deliveryBound, micros(cutoff), pruneChunk)
			if err != nil {
				return fail("prune deliveries", err)
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return deleted, err
		}
		deleted += int(n)
		if n < pruneChunk {
			break
		}
	}
	return deleted, db.pruneEvents(ctx, eventBound, cutoff)
}

func (db *DB) pruneEvents(ctx context.Context, bound string, cutoff time.Time) error {
	for {
		var n int64
		err := db.writeTx(ctx, func(t *txn) error {
			res, err := t.exec(ctx, `DELETE FROM events WHERE id IN (SELECT e.id FROM events e
				WHERE e.id < ? AND e.created_at < ?
				AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id) ORDER BY e.id LIMIT ?)`,
				bound, micros(cutoff), pruneChunk)
			if err != nil {
				return fail("prune events", err)
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil || n < pruneChunk {
			return err
		}
	}
}
