package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/postgres"
	"github.com/pathhook/pathhook/sqlstore"
)

// oneWebhook writes org_1, its pathway pw_1 and that pathway's webhook
// wh_1, and returns a maker of events, each a millisecond after the one
// before, with one delivery to webhookID: the delivery makes CreateEvent
// one statement that waits for the commit. It is safe for concurrent use.
func oneWebhook(t *testing.T, db *sqlstore.DB) func(webhookID string) (*pathhook.Event, []pathhook.Delivery) {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	err := db.Update(ctx, func(tx pathhook.Tx) error {
		if err := tx.CreateOrg(ctx, &pathhook.Org{ID: "org_1", Name: "one", CreatedAt: now}); err != nil {
			return err
		}
		if err := tx.CreatePathway(ctx, &pathhook.Pathway{ID: "pw_1", OrgID: "org_1", Name: "P", CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		return tx.CreateWebhook(ctx, &pathhook.Webhook{ID: "wh_1", OrgID: "org_1", PathwayID: "pw_1",
			Category: pathhook.CategoryEnrolments, CreatedAt: now, UpdatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	return func(webhookID string) (*pathhook.Event, []pathhook.Delivery) {
		mu.Lock()
		now = now.Add(time.Millisecond)
		at := now
		mu.Unlock()
		ev := &pathhook.Event{ID: pathhook.NewID(pathhook.PrefixEvent, at), OrgID: "org_1", PathwayID: "pw_1",
			Type: pathhook.TypeEnrolmentCreated, Category: pathhook.CategoryEnrolments, CreatedAt: at, Payload: []byte(`{}`)}
		return ev, []pathhook.Delivery{{ID: pathhook.NewID(pathhook.PrefixDelivery, at), OrgID: "org_1", WebhookID: webhookID,
			EventID: ev.ID, EventType: ev.Type, Status: pathhook.DeliveryPending, NextAttemptAt: &at, CreatedAt: at}}
	}
}

// TestPipelinedWrites runs write transactions whose last writes go out
// with COMMIT: they commit with it, go with a rollback, and a failing one
// fails its transaction, on every connection of the pool, which keeps
// working.
func TestPipelinedWrites(t *testing.T) {
	t.Parallel()
	db := open(t, nil)
	ctx := context.Background()
	count := func(query string) int {
		t.Helper()
		var n int
		if err := db.SQL().QueryRowContext(ctx, query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	event := oneWebhook(t, db)

	errChanged := errors.New("changed my mind")
	for i := range 2 * postgres.MaxConns {
		// Nothing but the pipelined write: it goes out with COMMIT.
		ev, ds := event("wh_1")
		if err := db.Update(ctx, func(tx pathhook.Tx) error { return tx.CreateEvent(ctx, ev, ds) }); err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
		// A transaction that fails after the write never sends it.
		ev, ds = event("wh_1")
		err := db.Update(ctx, func(tx pathhook.Tx) error {
			if err := tx.CreateEvent(ctx, ev, ds); err != nil {
				return err
			}
			return errChanged
		})
		if err != errChanged {
			t.Fatalf("transaction %d failed with %v, want its closure's error", i, err)
		}
		// A write that fails at the commit (no such webhook) fails the
		// transaction and undoes what went before it.
		ev, ds = event("wh_missing")
		err = db.Update(ctx, func(tx pathhook.Tx) error {
			if _, err := tx.Pathway(ctx, "org_1", "pw_1"); err != nil {
				return err
			}
			return tx.CreateEvent(ctx, ev, ds)
		})
		if pathhook.ErrorCode(err) != pathhook.EINTERNAL || !strings.Contains(err.Error(), "foreign key") {
			t.Fatalf("transaction %d with a delivery to a missing webhook: %v, want the database's error", i, err)
		}
	}
	// A closure that carries on after a failed write, as a group of
	// closures sharing a transaction could, cannot commit what went
	// before: COMMIT answers ROLLBACK.
	before, _ := event("wh_1")
	ev, ds := event("wh_missing")
	err := db.Update(ctx, func(tx pathhook.Tx) error {
		if err := tx.CreateEvent(ctx, before, nil); err != nil {
			return err
		}
		if err := tx.CreateEvent(ctx, ev, ds); err != nil {
			return err
		}
		_, err := tx.Pathway(ctx, "org_1", "pw_1") // sends the failed write
		if err == nil {
			t.Error("the read that sent a failing write succeeded")
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "rolled back") {
		t.Errorf("a transaction whose closure ignored a failed write: %v, want it rolled back", err)
	}
	if n := count("SELECT COUNT(*) FROM events"); n != 2*postgres.MaxConns {
		t.Errorf("events: %d, want %d", n, 2*postgres.MaxConns)
	}
	if n := count("SELECT COUNT(*) FROM deliveries"); n != 2*postgres.MaxConns {
		t.Errorf("deliveries: %d, want %d", n, 2*postgres.MaxConns)
	}
}
