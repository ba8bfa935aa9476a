package delivery

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/sqlite"
)

// BenchmarkSQLiteEndToEnd measures deliveries from Service calls to a local
// receiver through the engine on a SQLite file, in one process: the API's
// transaction, the hand-off, the attempt and the batched recording. The
// sub-benchmarks vary how long a batch of results waits for more.
func BenchmarkSQLiteEndToEnd(b *testing.B) {
	for _, flush := range []time.Duration{-1, time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond} {
		b.Run("flush="+flush.String(), func(b *testing.B) { benchSQLite(b, flush) })
	}
}

func benchSQLite(b *testing.B, flush time.Duration) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { got.Add(1) }))
	defer srv.Close()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var recorded atomic.Int64
	e := New(Config{Store: db, FlushInterval: flush, Observer: countRecorded{&recorded}})
	svc := pathhook.NewService(pathhook.Config{Store: db, Dispatcher: e, Lease: e.LeaseOwner(), AllowHTTP: true})
	org, err := svc.EnsureOrg(ctx, "default")
	if err != nil {
		b.Fatal(err)
	}
	const hooks = 10
	var pathways []string
	secret, on := testSecret, true
	for i := range hooks {
		p, err := svc.CreatePathway(ctx, org.ID, pathhook.PathwayInput{Name: "p" + strconv.Itoa(i)})
		if err != nil {
			b.Fatal(err)
		}
		w := p.Webhooks[0].ID
		if _, err := svc.SetupWebhook(ctx, org.ID, w, pathhook.WebhookSetup{URL: srv.URL, Secret: &secret}); err != nil {
			b.Fatal(err)
		}
		if _, err := svc.SwitchWebhook(ctx, org.ID, w, pathhook.WebhookSwitch{Enabled: &on}); err != nil {
			b.Fatal(err)
		}
		pathways = append(pathways, p.ID)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- e.Run(runCtx) }()

	b.ResetTimer()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
				in := pathhook.EnrolmentInput{Learner: &pathhook.Learner{ID: "l" + strconv.FormatInt(n, 10)}}
				if _, err := svc.Enrol(ctx, org.ID, pathways[n%hooks], in); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for recorded.Load() < int64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}

// countRecorded is an Observer that counts recorded results.
type countRecorded struct{ n *atomic.Int64 }

func (countRecorded) Attempted(*pathhook.Result, time.Duration) {}
func (c countRecorded) Recorded(n int, _ time.Duration, err error) {
	if err == nil {
		c.n.Add(int64(n))
	}
}
