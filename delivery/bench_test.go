package delivery

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"

	"sync/atomic"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
)

// benchBody is a payload of a typical size.
var benchBody = []byte(`{"id":"evt_01JDXK2V9F3W6Q8R0T5Y7U1I3O","type":"enrolment.completed","category":"enrolments",` +
	`"created_at":"2026-11-29T10:00:00.123Z","test":false,"pathway":{"id":"pw_01JDXK2V9F3W6Q8R0T5Y7U1I3P",` +
	`"name":"Safety induction"},"data":{"learner":{"id":"learner-42","email":"ada@example.com","name":"Ada Lovelace"},` +
	`"enrolled_at":"2026-11-20T09:00:00.000Z","completed_at":"2026-11-29T10:00:00.123Z","activities_completed":12}}`)

func benchJob(url string) pathhook.Job {
	job := newJob("wh_bench", 1, url)
	job.Body = benchBody
	return job
}

// BenchmarkSignedRequest measures signing a body and building the request
// of one attempt: what the engine adds to an HTTP client's own cost.
func BenchmarkSignedRequest(b *testing.B) {
	s := newSender("Falkor", http.DefaultTransport, time.Second, time.Now)
	job := benchJob("http://127.0.0.1:1/hook")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.request(ctx, &job, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAttempt measures whole attempts against a local receiver, as
// many at once as GOMAXPROCS allows.
func BenchmarkAttempt(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	s := newSender("Falkor", NewTransport(nil, 5*time.Second, 64), 5*time.Second, time.Now)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		job := benchJob(srv.URL)
		for pb.Next() {
			if a, _ := s.send(context.Background(), &job); a.Error != nil {
				b.Fatal(*a.Error)
			}
		}
	})
}

// BenchmarkJournal measures keeping a result in the journal and letting it
// go once recorded, as many at once as GOMAXPROCS allows: what the journal
// adds to each attempt.
func BenchmarkJournal(b *testing.B) {
	j, _, err := openJournal(b.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := succeeded("dlv_01JDXK2V9F3W6Q8R0T5Y7U1I3O", 1)
		r.WebhookID = "wh_01JDXK2V9F3W6Q8R0T5Y7U1I3P"
		for pb.Next() {
			j.recorded([]*segment{j.add(&r)})
		}
	})
	j.close()
}

// BenchmarkEngine measures deliveries through the engine, from Offer to a
// local receiver and a result handed to a store that keeps nothing: the
// engine's own ceiling, without a database.
func BenchmarkEngine(b *testing.B) {
	for _, hooks := range []int{1, 50} {
		b.Run(strconv.Itoa(hooks)+"webhooks", func(b *testing.B) {
			var got atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
			defer srv.Close()
			store := &nopStore{}
			e := New(Config{Store: store, PerWebhook: 64})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- e.Run(ctx) }()
			jobs := make([]pathhook.Job, b.N)
			for i := range jobs {
				jobs[i] = benchJob(srv.URL)
				jobs[i].WebhookID = "wh_" + strconv.Itoa(i%hooks)
				jobs[i].DeliveryID = "dlv_" + strconv.Itoa(i)
				jobs[i].LeaseUntil = time.Now().Add(time.Hour)
			}
			b.ResetTimer()
			for i := 0; i < len(jobs); i += 64 {
				for e.Stats().Queued > DefaultQueueSize/2 {
					time.Sleep(50 * time.Microsecond)
				}
				e.Offer(ctx, jobs[i:min(i+64, len(jobs))])
			}
			for store.recorded.Load() < int64(b.N) {
				time.Sleep(100 * time.Microsecond)
			}
			b.StopTimer()
			cancel()
			<-done
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// nopStore is a Store that keeps nothing and has nothing due.
type nopStore struct {
	recorded atomic.Int64
}

func (s *nopStore) ClaimDue(context.Context, string, time.Time, time.Time, int) ([]pathhook.Job, error) {
	return nil, nil
}
func (s *nopStore) Record(_ context.Context, rs []pathhook.Result) error {
	s.recorded.Add(int64(len(rs)))
	return nil
}
func (s *nopStore) Restore(context.Context, string, []pathhook.Result) (int, error) { return 0, nil }
func (s *nopStore) RecordAgain(context.Context, []pathhook.Result) error            { return nil }
func (s *nopStore) ReleaseLeases(context.Context, string) (int64, error)            { return 0, nil }
func (s *nopStore) Release(context.Context, string, []pathhook.Lease) error         { return nil }
func (s *nopStore) Park(context.Context, string, []pathhook.Lease, time.Time) error { return nil }

func (s *nopStore) Unpark(context.Context, string, int) (int, error) { return 0, nil }
func (s *nopStore) ParkDue(context.Context, string, time.Time, pathhook.Turns, int) (int, error) {
	return 0, nil
}
func (s *nopStore) NextDue(context.Context) (time.Time, bool, error) {
	return time.Time{}, false, nil
}
func (s *nopStore) DisableFailing(context.Context, time.Time, time.Time, string) ([]string, error) {
	return nil, nil
}
func (s *nopStore) EndBacklogs(context.Context, int, time.Time) (int, error) { return 0, nil }
func (s *nopStore) Prune(context.Context, time.Time) (int, error)            { return 0, nil }
