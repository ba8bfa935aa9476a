package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/sqlite"
)

// TestRecordBatches checks that Record, which writes a batch through
// multi-row VALUES lists on SQLite, leaves every delivery of a large batch
// as one statement per result would, and applies two results for one
// delivery in their order.
func TestRecordBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, svc, org, p := storeWithWebhook(t, t.TempDir()+"/pathhook.db", nil, sqlite.Options{})
	w := p.Webhooks[0]
	now := time.UnixMilli(1_700_000_000_000).UTC()
	const n = 101 // lists of 64, 32, 4 and 1
	var ds []pathhook.Delivery
	err := db.Update(ctx, func(tx pathhook.Tx) error {
		ds = ds[:0]
		for i := range n {
			ev := &pathhook.Event{ID: fmt.Sprintf("evt_%03d", i), OrgID: org, PathwayID: p.ID, Type: pathhook.TypeEnrolmentCreated,
				Category: pathhook.CategoryEnrolments, CreatedAt: now, Payload: []byte("{}")}
			d := pathhook.Delivery{ID: fmt.Sprintf("dlv_%03d", i), OrgID: org, WebhookID: w.ID, EventID: ev.ID, EventType: ev.Type,
				Status: pathhook.DeliveryPending, NextAttemptAt: &now, CreatedAt: now}
			if err := tx.CreateEvent(ctx, ev, []pathhook.Delivery{d}); err != nil {
				return err
			}
			ds = append(ds, d)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	code, retry := 200, 503
	var rs []pathhook.Result
	for i, d := range ds {
		r := pathhook.Result{DeliveryID: d.ID, WebhookID: w.ID, Status: pathhook.DeliverySucceeded,
			Attempt: pathhook.Attempt{N: 1, StartedAt: now.Add(time.Duration(i) * time.Millisecond), DurationMS: 3, ResponseStatus: &code,
				ResponseBody: "ok"}}
		rs = append(rs, r)
		if i == 0 {
			// A retry of the first delivery comes after its success.
			again := r
			again.Status, again.NextAttemptAt, again.Attempt.ResponseStatus = pathhook.DeliveryPending, now.Add(time.Minute), &retry
			again.Attempt.N = 2
			rs = append(rs, again)
		}
	}
	if err := db.Record(ctx, rs); err != nil {
		t.Fatal(err)
	}
	for i, d := range ds {
		got, err := svc.Delivery(ctx, org, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			// The results apply in their order: the retry is the last word.
			if got.Status != pathhook.DeliveryPending || got.NextAttemptAt == nil || got.AttemptCount != 2 || len(got.Attempts) != 2 ||
				*got.Attempts[1].ResponseStatus != retry {
				t.Fatalf("delivery with two results after Record = %+v", got)
			}
			continue
		}
		if got.Status != pathhook.DeliverySucceeded || got.NextAttemptAt != nil || got.AttemptCount != 1 ||
			len(got.Attempts) != 1 || *got.Attempts[0].ResponseStatus != code || got.Attempts[0].ResponseBody != "ok" {
			t.Fatalf("delivery %d after Record = %+v", i, got)
		}
	}
}
