package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/secretbox"
	"github.com/pathhook/pathhook/sqlite"
	"github.com/pathhook/pathhook/sqlstore"
	"github.com/pathhook/pathhook/storetest"
)

// benchStore opens a store with a sealing box, an org, a pathway and its
// enrolments webhook enabled (storeWithWebhook).
func benchStore(b *testing.B, o sqlite.Options) (*sqlstore.DB, *pathhook.Service, string, *pathhook.Pathway) {
	b.Helper()
	box, err := secretbox.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	return storeWithWebhook(b, filepath.Join(b.TempDir(), "bench.db"), box, o)
}

// cpuMeter reports the CPU time (user and system) that the process spends
// per op from now until the returned func is called: on a shared machine
// it says more than the wall time does.
func cpuMeter(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkEnrol measures Service.Enrol with one enabled webhook: the
// enrolment, its event and one delivery in one transaction. The parallel
// variants model concurrent API requests, which group commit serves with
// shared commits.
func BenchmarkEnrol(b *testing.B) {
	for _, o := range []struct {
		name string
		opts sqlite.Options
	}{{"group", sqlite.Options{}}, {"nogroup", sqlite.Options{NoGroupCommit: true}}} {
		b.Run(o.name+"/serial", func(b *testing.B) {
			_, svc, org, p := benchStore(b, o.opts)
			b.ResetTimer()
			defer cpuMeter(b)()
			for i := range b.N {
				enrol(b, svc, org, p, fmt.Sprintf("learner-%d", i))
			}
		})
		b.Run(o.name+"/parallel", func(b *testing.B) {
			_, svc, org, p := benchStore(b, o.opts)
			var n atomic.Int64
			b.SetParallelism(8) // 8 x GOMAXPROCS goroutines
			b.ResetTimer()
			defer cpuMeter(b)()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					enrol(b, svc, org, p, fmt.Sprintf("learner-%d", n.Add(1)))
				}
			})
		})
	}
}

func enrol(b *testing.B, svc *pathhook.Service, org string, p *pathhook.Pathway, learner string) {
	in := pathhook.EnrolmentInput{Learner: &pathhook.Learner{ID: learner, Email: "ada@example.com", Name: "Ada Lovelace"}}
	if _, err := svc.Enrol(context.Background(), org, p.ID, in); err != nil {
		b.Error(err)
	}
}

// BenchmarkClaimDue measures claiming due deliveries in batches of 100;
// one op is one delivery claimed.
func BenchmarkClaimDue(b *testing.B) {
	db, _, org, p := benchStore(b, sqlite.Options{})
	now := time.Now().UTC().Truncate(time.Millisecond)
	storetest.Queue(b, db, org, p, b.N, now)
	ctx := context.Background()
	b.ResetTimer()
	defer cpuMeter(b)()
	claimed := 0
	for claimed < b.N {
		jobs, err := db.ClaimDue(ctx, "node", now, now.Add(time.Minute), 100)
		if err != nil {
			b.Fatal(err)
		}
		if len(jobs) == 0 {
			b.Fatalf("claimed %d of %d", claimed, b.N)
		}
		claimed += len(jobs)
	}
}

// BenchmarkRecord measures recording attempts in batches of 100; one op
// is one attempt recorded.
func BenchmarkRecord(b *testing.B) {
	db, _, org, p := benchStore(b, sqlite.Options{})
	now := time.Now().UTC().Truncate(time.Millisecond)
	ids := storetest.Queue(b, db, org, p, b.N, now)
	b.ResetTimer()
	defer cpuMeter(b)()
	storetest.RecordAll(b, db, p.Webhooks[0].ID, ids, now)
}

// BenchmarkAuthenticate measures Service.Authenticate, a read transaction
// that every API request makes, from concurrent callers.
func BenchmarkAuthenticate(b *testing.B) {
	_, svc, org, _ := benchStore(b, sqlite.Options{})
	key, _, err := svc.CreateAPIKey(context.Background(), org, "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(8)
	b.ResetTimer()
	defer cpuMeter(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := svc.Authenticate(context.Background(), key); err != nil {
				b.Error(err)
			}
		}
	})
}
