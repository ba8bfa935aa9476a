package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/postgres"
)

// TestGroupCommitAnswersEachCall runs calls that share a transaction: one
// whose queued write fails (an event whose id exists already) gets its
// own conflict, whether another call's statement or COMMIT reports it,
// and the other call commits.
func TestGroupCommitAnswersEachCall(t *testing.T) {
	t.Parallel()
	db := open(t, nil)
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
	taken := "" // an event id that exists
	event := func(webhookID string) (*pathhook.Event, []pathhook.Delivery) {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Millisecond)
		ev := &pathhook.Event{ID: pathhook.NewID(pathhook.PrefixEvent, now), OrgID: "org_1", PathwayID: "pw_1",
			Type: pathhook.TypeEnrolmentCreated, Category: pathhook.CategoryEnrolments, CreatedAt: now, Payload: []byte(`{}`)}
		return ev, []pathhook.Delivery{{ID: pathhook.NewID(pathhook.PrefixDelivery, now), OrgID: "org_1", WebhookID: webhookID,
			EventID: ev.ID, EventType: ev.Type, Status: pathhook.DeliveryPending, NextAttemptAt: &now, CreatedAt: now}}
	}
	ev, ds := event("wh_1")
	if err := db.Update(ctx, func(tx pathhook.Tx) error { return tx.CreateEvent(ctx, ev, ds) }); err != nil {
		t.Fatal(err)
	}
	taken = ev.ID
	exists := func(id string) bool {
		var n int
		if err := db.SQL().QueryRowContext(ctx, "SELECT COUNT(*) FROM events WHERE id = $1", id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	// call is one Update that writes an event with a delivery, after
	// reading the pathway if read, or, if again, an event whose id exists;
	// tx is the first transaction it ran in.
	type call struct {
		ev  *pathhook.Event
		tx  pathhook.Tx
		err error
	}
	update := func(c *call, again, read bool) {
		ev, ds := event("wh_1")
		if again {
			ev.ID, ds[0].EventID = taken, taken
		}
		c.ev = ev
		c.err = db.Update(ctx, func(tx pathhook.Tx) error {
			if c.tx == nil {
				c.tx = tx
			}
			if read {
				if _, err := tx.Pathway(ctx, "org_1", "pw_1"); err != nil {
					return err
				}
			}
			return tx.CreateEvent(ctx, ev, ds)
		})
	}

	for _, tc := range []struct {
		name      string
		failFirst bool // the failing call is the first of the group; else the last
	}{
		{"failure reported by the next call's read", true},
		{"failure reported by COMMIT", false},
	} {
		grouped := false
		for try := 0; try < 5 && !grouped; try++ {
			// Hold every loop of the committer but one inside a call, so
			// that the two calls below wait for the same loop.
			release := make(chan struct{})
			var held sync.WaitGroup
			for range postgres.Groups - 1 {
				started := make(chan struct{})
				held.Go(func() {
					_ = db.Update(ctx, func(pathhook.Tx) error {
						close(started)
						<-release
						return nil
					})
				})
				<-started
			}
			// And the last one, until both calls are queued.
			started, last := make(chan struct{}), make(chan struct{})
			held.Go(func() {
				_ = db.Update(ctx, func(pathhook.Tx) error {
					close(started)
					<-last
					return nil
				})
			})
			<-started
			var failing, good call
			var calls sync.WaitGroup
			first, second := func() { update(&failing, true, false) }, func() { update(&good, false, true) }
			if !tc.failFirst {
				first, second = func() { update(&good, false, false) }, func() { update(&failing, true, false) }
			}
			calls.Go(first)
			time.Sleep(20 * time.Millisecond) // queued in this order
			calls.Go(second)
			time.Sleep(50 * time.Millisecond)
			close(last)
			calls.Wait()
			close(release)
			held.Wait()

			if pathhook.ErrorCode(failing.err) != pathhook.ECONFLICT || !strings.Contains(failing.err.Error(), taken) {
				t.Errorf("%s: the call with an event that exists: %v, want its conflict", tc.name, failing.err)
			}
			if good.err != nil {
				t.Errorf("%s: the other call: %v", tc.name, good.err)
			}
			if !exists(good.ev.ID) {
				t.Errorf("%s: the other call's event was not committed", tc.name)
			}
			grouped = failing.tx == good.tx
		}
		if !grouped {
			t.Errorf("%s: the two calls never shared a transaction in five tries", tc.name)
		}
	}
}
