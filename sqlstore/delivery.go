package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/pathhook/pathhook"
)

const deliveryColumns = `id, org_id, webhook_id, event_id, event_type, status, attempt_count, next_attempt_at,
	created_at, manual, lease_owner, lease_until`

func scanDelivery(s interface{ Scan(...any) error }, d *pathhook.Delivery) error {
	var leaseUntil int64
	err := s.Scan(&d.ID, &d.OrgID, &d.WebhookID, &d.EventID, &d.EventType, &d.Status, &d.AttemptCount,
		nullTimeCol{&d.NextAttemptAt}, timeCol{&d.CreatedAt}, &d.Manual, &d.LeaseOwner, &leaseUntil)
	d.LeaseUntil = leaseTime(leaseUntil)
	return err
}

// leaseMicros keeps "no lease" as 0, so that lease_until < now holds for it.
func leaseMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return micros(t)
}

func leaseTime(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return fromMicros(us)
}

// dueAt is the due_at of a delivery: when it can next be claimed, which
// is never for one that has ended.
func dueAt(d *pathhook.Delivery) any {
	if d.Status != pathhook.DeliveryPending || d.NextAttemptAt == nil {
		return nil
	}
	if d.LeaseOwner != "" && d.LeaseUntil.After(*d.NextAttemptAt) {
		return micros(d.LeaseUntil)
	}
	return micros(*d.NextAttemptAt)
}

// insertDelivery inserts one delivery, given its deliveryArgs.
var insertDelivery = insertDeliveries(1)

func (t *txn) createDelivery(ctx context.Context, d *pathhook.Delivery) error {
	_, err := t.exec(ctx, insertDelivery, deliveryArgs(d)...)
	return t.conflict(err, "create delivery", "delivery %q exists already", d.ID)
}

// insertDeliveries inserts n deliveries, given deliveryArgs of each.
func insertDeliveries(n int) string {
	row := "(" + placeholders(13) + ")"
	return "INSERT INTO deliveries (" + deliveryColumns + ", due_at) VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// deliveryArgs are the values of a new delivery's row.
func deliveryArgs(d *pathhook.Delivery) []any {
	return []any{d.ID, d.OrgID, d.WebhookID, d.EventID, d.EventType, d.Status, d.AttemptCount, nullMicros(d.NextAttemptAt),
		micros(d.CreatedAt), d.Manual, d.LeaseOwner, leaseMicros(d.LeaseUntil), dueAt(d)}
}

// Deliveries lists up to page.Limit deliveries of a webhook older than the
// cursor, newest first, with the given status unless it is "".
func (t *txn) Deliveries(ctx context.Context, orgID, webhookID, status string, page pathhook.Page) ([]pathhook.Delivery, error) {
	q := "SELECT " + deliveryColumns + " FROM deliveries WHERE org_id = ? AND webhook_id = ?"
	args := []any{orgID, webhookID}
	if status != "" {
		q += " AND status = ?"
		args = append(args, status)
	}
	if page.Cursor != "" {
		q += " AND id < ?"
		args = append(args, page.Cursor)
	}
	rows, err := t.query(ctx, q+" ORDER BY id DESC LIMIT ?", append(args, page.Limit)...)
	if err != nil {
		return nil, fail("deliveries", err)
	}
	return collect(rows, "deliveries", scanDelivery)
}

// Delivery returns one of org's deliveries with its attempts, oldest first.
func (t *txn) Delivery(ctx context.Context, orgID, id string) (*pathhook.Delivery, error) {
	d := &pathhook.Delivery{}
	row := t.queryRow(ctx, "SELECT "+deliveryColumns+" FROM deliveries WHERE org_id = ? AND id = ?"+t.forUpdate(), orgID, id)
	if err := one(scanDelivery(row, d), "delivery", pathhook.NotFound("delivery", id)); err != nil {
		return nil, err
	}
	rows, err := t.query(ctx, `SELECT n, started_at, duration_ms, response_status, error, response_body
		FROM attempts WHERE org_id = ? AND delivery_id = ? ORDER BY n, started_at, id`, orgID, id)
	if err != nil {
		return nil, fail("attempts", err)
	}
	d.Attempts, err = collect(rows, "attempts", scanAttempt)
	if err != nil {
		return nil, err
	}
	return d, nil
}

func scanAttempt(s interface{ Scan(...any) error }, a *pathhook.Attempt) error {
	var body []byte
	err := s.Scan(&a.N, timeCol{&a.StartedAt}, &a.DurationMS, &a.ResponseStatus, &a.Error, &body)
	a.ResponseBody = string(body)
	return err
}

// UpdateDelivery writes Status, NextAttemptAt, Manual and the lease.
func (t *txn) UpdateDelivery(ctx context.Context, d *pathhook.Delivery) error {
	res, err := t.exec(ctx, `UPDATE deliveries SET status = ?, next_attempt_at = ?, manual = ?, lease_owner = ?,
		lease_until = ?, due_at = ?, ended_at = NULL, end_reason = NULL WHERE org_id = ? AND id = ?`,
		d.Status, nullMicros(d.NextAttemptAt), d.Manual, d.LeaseOwner, leaseMicros(d.LeaseUntil), dueAt(d), d.OrgID, d.ID)
	if err := mustAffect(res, err, "update delivery", pathhook.NotFound("delivery", d.ID)); err != nil {
		return err
	}
	if d.Status == pathhook.DeliveryPending && d.LeaseOwner == "" {
		if err := t.newWork(ctx); err != nil {
			return err
		}
	}
	return nil
}

// cleanText makes s fit a TEXT column of any database: valid UTF-8 with no
// NUL bytes (PostgreSQL refuses both).
func cleanText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}
