package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/sqlstore"
)

// Queue writes n pending deliveries to the first webhook of pathway p, of
// org, each with its own event (a 300-byte payload), a thousand to a
// transaction, due at now; it returns their ids. For benchmarks.
func Queue(tb testing.TB, db *sqlstore.DB, org string, p *pathhook.Pathway, n int, now time.Time) []string {
	tb.Helper()
	ctx := context.Background()
	payload := []byte(`{"id":"evt","type":"enrolment.created","data":{"learner":{"id":"x","email":"ada@example.com","name":"Ada Lovelace"}},"padding":"` +
		strings.Repeat("x", 300) + `"}`)
	var ids []string
	for done := 0; done < n; {
		err := db.Update(ctx, func(tx pathhook.Tx) error {
			for i := 0; i < 1000 && done+i < n; i++ {
				ev := &pathhook.Event{ID: pathhook.NewID(pathhook.PrefixEvent, now), OrgID: org, PathwayID: p.ID,
					Type: pathhook.TypeEnrolmentCreated, Category: pathhook.CategoryEnrolments, CreatedAt: now, Payload: payload}
				d := pathhook.Delivery{ID: pathhook.NewID(pathhook.PrefixDelivery, now), OrgID: org, WebhookID: p.Webhooks[0].ID,
					EventID: ev.ID, EventType: ev.Type, Status: pathhook.DeliveryPending, NextAttemptAt: &now, CreatedAt: now}
				if err := tx.CreateEvent(ctx, ev, []pathhook.Delivery{d}); err != nil {
					return err
				}
				ids = append(ids, d.ID)
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
		done = len(ids)
	}
	return ids
}

// RecordAll records a successful attempt of each of the deliveries ids, of
// webhook webhookID, in batches of 100, as the engine's recorder writes
// them under load. For benchmarks: it is what they time.
func RecordAll(b *testing.B, db *sqlstore.DB, webhookID string, ids []string, now time.Time) {
	ctx := context.Background()
	status := 200
	for start := 0; start < len(ids); start += 100 {
		batch := ids[start:min(start+100, len(ids))]
		rs := make([]pathhook.Result, len(batch))
		for i, id := range batch {
			rs[i] = pathhook.Result{DeliveryID: id, WebhookID: webhookID, Status: pathhook.DeliverySucceeded,
				Attempt: pathhook.Attempt{N: 1, StartedAt: now, DurationMS: 20, ResponseStatus: &status, ResponseBody: "ok"}}
		}
		if err := db.Record(ctx, rs); err != nil {
			b.Fatal(err)
		}
	}
}
