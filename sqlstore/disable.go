package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/pathhook/pathhook"
)

// disableWebhook switches a webhook off with a reason, and has its pending
// deliveries failed with that reason (endBacklog). A webhook already off
// is left as it is: its backlog was seen to when it was switched off.
func (t *txn) disableWebhook(ctx context.Context, id, reason string, now time.Time) error {
	res, err := t.exec(ctx, "UPDATE webhooks SET enabled = ?, disabled_reason = ?, updated_at = ? WHERE id = ? AND enabled = ?",
		false, reason, micros(now), id, true)
	if err != nil {
		return fail("disable webhook", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fail("disable webhook", err)
	}
	if n == 0 {
		return nil
	}
	return t.endBacklog(ctx, id, reason, now)
}

// EndBacklog has every pending delivery of a webhook that the transaction
// switches off ended as failed at now, with reason. It implements
// pathhook.Tx.
func (t *txn) EndBacklog(ctx context.Context, _, webhookID, reason string, now time.Time) error {
	return t.endBacklog(ctx, webhookID, reason, now)
}

// endBacklog queues the pending deliveries of a webhook being switched off
// to be failed by EndBacklogs: failing a large backlog here would hold
// this transaction, and with it the API call or the batch of results that
// switches the webhook off, for as long as that takes. Meanwhile no node
// claims them, since their webhook is off. A later switch-off replaces an
// earlier one still queued.
func (t *txn) endBacklog(ctx context.Context, webhookID, reason string, now time.Time) error {
	return t.execLater(ctx, func(err error) error { return fail("end backlog", err) },
		`INSERT INTO ending_backlogs (webhook_id, org_id, reason, since, swept) SELECT id, org_id, ?, ?, ? FROM webhooks WHERE id = ?
		ON CONFLICT (webhook_id) DO UPDATE SET reason = excluded.reason, since = excluded.since, swept = excluded.swept`,
		reason, micros(now), false, webhookID)
}

// backlog is a switch-off whose backlog is to be failed: a row of
// ending_backlogs.
type backlog struct {
	webhookID, reason string
	since             int64
	swept             bool
}

// lingers is how long a switch-off stays queued once its backlog has been
// failed, with later looks at the deliveries made from that long before
// it: a transaction that read the webhook as on before the switch-off
// (PostgreSQL reads without locking it) may commit a delivery after it,
// up to the bound on a transaction's time.
func (db *DB) lingers() time.Duration { return db.txTimeout + time.Minute }

// EndBacklogs fails the pending deliveries of the webhooks whose backlogs
// endBacklog queued, with the reason and at the time of their switch-off,
// chunk deliveries per transaction (so that failing a large backlog never
// holds the writer, or the webhook, for long), and returns how many it
// failed. A webhook switched on again keeps what is left of its backlog.
// Leases end with the deliveries, as when the store failed them in the
// transaction that switched the webhook off: an attempt under way is
// recorded when it ends, and its delivery stays failed unless the attempt
// succeeded (recordOutcome). A backlog that
// cannot be failed now stays queued, and the others are still seen to.
func (db *DB) EndBacklogs(ctx context.Context, chunk int, now time.Time) (int, error) {
	rows, err := db.read.QueryContext(ctx, "SELECT webhook_id FROM ending_backlogs ORDER BY webhook_id")
	if err != nil {
		return 0, fail("ending backlogs", err)
	}
	ids, err := collect(rows, "ending backlogs", func(s interface{ Scan(...any) error }, id *string) error { return s.Scan(id) })
	if err != nil {
		return 0, err
	}
	ended := 0
	var errs []error
	for _, id := range ids {
		n, err := db.endBacklog(ctx, id, max(chunk, 1), now)
		ended += n
		if err != nil {
			if ctx.Err() != nil {
				return ended, err
			}
			errs = append(errs, err)
		}
	}
	return ended, errors.Join(errs...)
}

// endBacklog fails the backlog of one webhook, in chunks in the order of
// their ids: all of it the first time, those made from lingers before the
// switch-off on later looks; it unqueues the switch-off once it has
// lingered.
func (db *DB) endBacklog(ctx context.Context, webhookID string, chunk int, now time.Time) (int, error) {
	ended, after, since := 0, "", int64(0)
	for {
		var done bool
		var n int
		var upTo string
		var b backlog
		err := db.writeTx(ctx, func(t *txn) error {
			done, n, upTo = true, 0, after
			// The webhook first, as all writes take webhooks before
			// deliveries, and locked where the dialect locks: a switch-on
			// or a switch-off waits for this chunk, or this chunk sees it.
			var on bool
			if err := t.queryRow(ctx, "SELECT enabled FROM webhooks WHERE id = ?"+t.forUpdate(), webhookID).Scan(&on); err != nil {
				return fail("end backlog: webhook", err)
			}
			err := t.queryRow(ctx, "SELECT reason, since, swept FROM ending_backlogs WHERE webhook_id = ?", webhookID).Scan(&b.reason, &b.since, &b.swept)
			if errors.Is(err, sql.ErrNoRows) {
				return nil // seen to by another node
			}
			if err != nil {
				return fail("end backlog", err)
			}
			b.webhookID = webhookID
			if on {
				return t.unqueueBacklog(ctx, b)
			}
			if b.since != since { // the first chunk, or a later switch-off's
				upTo = ""
				if b.swept {
					upTo = pathhook.NewID(pathhook.PrefixDelivery, fromMicros(b.since).Add(-db.lingers()-time.Millisecond))
				}
			}
			var count int
			var maxID *string
			err = t.queryRow(ctx, `SELECT COUNT(*), MAX(id) FROM (SELECT id FROM deliveries
				WHERE webhook_id = ? AND id > ? AND status = ? ORDER BY id LIMIT ?) ids`,
				webhookID, upTo, pathhook.DeliveryPending, chunk).Scan(&count, &maxID)
			if err != nil {
				return fail("end backlog: chunk", err)
			}
			if count > 0 {
				res, err := t.exec(ctx, `UPDATE deliveries SET status = ?, next_attempt_at = NULL, lease_owner = '',
					lease_until = 0, due_at = NULL, ended_at = ?, end_reason = ?
					WHERE webhook_id = ? AND id > ? AND id <= ? AND status = ?`,
					pathhook.DeliveryFailed, b.since, b.reason, webhookID, upTo, *maxID, pathhook.DeliveryPending)
				if err != nil {
					return fail("end backlog: fail deliveries", err)
				}
				affected, err := res.RowsAffected()
				if err != nil {
					return fail("end backlog: fail deliveries", err)
				}
				n, upTo = int(affected), *maxID
			}
			if count < chunk {
				if now.Before(fromMicros(b.since).Add(db.lingers())) {
					_, err := t.exec(ctx, "UPDATE ending_backlogs SET swept = ? WHERE webhook_id = ? AND since = ?", true, webhookID, b.since)
					if err != nil {
						return fail("end backlog", err)
					}
					return nil
				}
				return t.unqueueBacklog(ctx, b)
			}
			done = false
			return nil
		})
		if err != nil {
			return ended, err
		}
		ended += n
		if done {
			return ended, nil
		}
		after, since = upTo, b.since
	}
}

// unqueueBacklog removes a switch-off from ending_backlogs, unless a later
// one has replaced it.
func (t *txn) unqueueBacklog(ctx context.Context, b backlog) error {
	_, err := t.exec(ctx, "DELETE FROM ending_backlogs WHERE webhook_id = ? AND since = ?", b.webhookID, b.since)
	if err != nil {
		return fail("end backlog", err)
	}
	return nil
}

// DisableFailing disables every enabled webhook that has been failing
// since before cutoff, with reason, queues their pending deliveries to be
// failed (EndBacklogs), and returns their ids.
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
			// The status again outside the subquery: a redelivery that
			// made one pending while this waited for its row is seen by
			// PostgreSQL's recheck of the outer condition only.
			res, err := t.exec(ctx, `DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries
				WHERE id < ? AND created_at < ? AND status <> 'pending' ORDER BY id LIMIT ?) AND status <> 'pending'`,
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
