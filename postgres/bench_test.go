package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/postgres"
)

// BenchmarkRecord measures recording attempts in batches of 100, as the
// engine's recorder writes them under load; one op is one attempt
// recorded. The database's own CPU is not in the figures.
func BenchmarkRecord(b *testing.B) {
	ctx := context.Background()
	db, err := postgres.Open(ctx, freshSchema(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	svc := pathhook.NewService(pathhook.Config{Store: db})
	org, err := svc.EnsureOrg(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	p, err := svc.CreatePathway(ctx, org.ID, pathhook.PathwayInput{Name: "Bench"})
	if err != nil {
		b.Fatal(err)
	}
	w := p.Webhooks[0]
	now := time.Now().UTC().Truncate(time.Millisecond)
	var ids []string
	err = db.Update(ctx, func(tx pathhook.Tx) error {
		for range b.N {
			ev := &pathhook.Event{ID: pathhook.NewID(pathhook.PrefixEvent, now), OrgID: org.ID, PathwayID: p.ID,
				Type: pathhook.TypeEnrolmentCreated, Category: pathhook.CategoryEnrolments, CreatedAt: now, Payload: []byte(`{}`)}
			d := pathhook.Delivery{ID: pathhook.NewID(pathhook.PrefixDelivery, now), OrgID: org.ID, WebhookID: w.ID,
				EventID: ev.ID, EventType: ev.Type, Status: pathhook.DeliveryPending, NextAttemptAt: &now, CreatedAt: now}
			if err := tx.CreateEvent(ctx, ev, []pathhook.Delivery{d}); err != nil {
				return err
			}
			ids = append(ids, d.ID)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	status := 200
	body := strings.Repeat("x", 64)
	b.ResetTimer()
	for start := 0; start < len(ids); start += 100 {
		batch := ids[start:min(start+100, len(ids))]
		rs := make([]pathhook.Result, len(batch))
		for i, id := range batch {
			rs[i] = pathhook.Result{DeliveryID: id, WebhookID: w.ID, Status: pathhook.DeliverySucceeded,
				Attempt: pathhook.Attempt{N: 1, StartedAt: now, DurationMS: 20, ResponseStatus: &status, ResponseBody: body}}
		}
		if err := db.Record(ctx, rs); err != nil {
			b.Fatal(err)
		}
	}
}
