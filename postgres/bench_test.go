package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/postgres"
	"github.com/pathhook/pathhook/storetest"
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
	now := time.Now().UTC().Truncate(time.Millisecond)
	ids := storetest.Queue(b, db, org.ID, p, b.N, now)
	b.ResetTimer()
	storetest.RecordAll(b, db, p.Webhooks[0].ID, ids, now)
}
