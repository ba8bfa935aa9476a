package sqlstore

import (
	"context"

	"github.com/pathhook/pathhook"
)

const insertEvent = `INSERT INTO events (id, org_id, pathway_id, type, category, test, created_at, payload)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

// eventsWith holds insertEventWith's statements for the usual numbers of
// deliveries, worked out once.
var eventsWith = func() (qs [8]string) {
	for n := 1; n < len(qs); n++ {
		qs[n] = "WITH event AS (" + insertEvent + ") " + insertDeliveries(n)
	}
	return qs
}()

// insertEventWith is the statement that inserts an event and n > 0
// deliveries of it, for dialects that WriteInWith.
func insertEventWith(n int) string {
	if n < len(eventsWith) {
		return eventsWith[n]
	}
	return "WITH event AS (" + insertEvent + ") " + insertDeliveries(n)
}

// CreateEvent writes an event and its deliveries. When some delivery is
// left unleased, any node may take it, so the dialect is told of new work.
func (t *txn) CreateEvent(ctx context.Context, ev *pathhook.Event, ds []pathhook.Delivery) error {
	eventArgs := []any{ev.ID, ev.OrgID, ev.PathwayID, ev.Type, ev.Category, ev.Test, micros(ev.CreatedAt), ev.Payload}
	if len(ds) > 0 && t.db.dialect.WriteInWith() {
		// One statement, where each is a round trip; nothing waits for
		// it, so a Pipe sends it with the next one or with COMMIT.
		args := eventArgs
		for i := range ds {
			args = append(args, deliveryArgs(&ds[i])...)
		}
		conflict := func(err error) error {
			return t.conflict(err, "create event", "event %q or one of its deliveries exists already", ev.ID)
		}
		if err := t.execLater(ctx, conflict, insertEventWith(len(ds)), args...); err != nil {
			return err
		}
	} else {
		_, err := t.exec(ctx, insertEvent, eventArgs...)
		if err := t.conflict(err, "create event", "event %q exists already", ev.ID); err != nil {
			return err
		}
		for i := range ds {
			if err := t.createDelivery(ctx, &ds[i]); err != nil {
				return err
			}
		}
	}
	unleased := false
	for i := range ds {
		unleased = unleased || ds[i].LeaseOwner == ""
	}
	if unleased {
		if err := t.newWork(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Event returns one of org's events with its payload.
func (t *txn) Event(ctx context.Context, orgID, id string) (*pathhook.Event, error) {
	ev := &pathhook.Event{}
	err := t.queryRow(ctx, `SELECT id, org_id, pathway_id, type, category, test, created_at, payload
		FROM events WHERE org_id = ? AND id = ?`, orgID, id).
		Scan(&ev.ID, &ev.OrgID, &ev.PathwayID, &ev.Type, &ev.Category, &ev.Test, timeCol{&ev.CreatedAt}, &ev.Payload)
	if err := one(err, "event", pathhook.NotFound("event", id)); err != nil {
		return nil, err
	}
	return ev, nil
}
