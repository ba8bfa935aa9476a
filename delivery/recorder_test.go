package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
)

func newTestRecorder(t *testing.T, store *fakeStore) *recorder {
	// Room for more results than a batch takes, so that tests can queue
	// them all before run starts.
	c := Config{Store: store, Owner: store.owner, Clock: time.Now, Logger: testLogger(t), FlushInterval: -1,
		Workers: 2 * recordBatch}
	return newRecorder(&c)
}

func TestRecorderBatchesWaitingResults(t *testing.T) {
	t.Parallel()
	store := newFakeStore(time.Now)
	r := newTestRecorder(t, store)
	n := recordBatch + 10
	for i := range n {
		job := store.add(newJob("wh_a", i, ""), time.Minute)
		r.add(pathhook.Result{DeliveryID: job.DeliveryID, WebhookID: "wh_a", Status: pathhook.DeliverySucceeded,
			Attempt: pathhook.Attempt{N: 1}}, nil)
	}
	r.close()
	r.run(context.Background())
	var sizes []int
	for _, batch := range store.records {
		sizes = append(sizes, len(batch))
	}
	if !slices.Equal(sizes, []int{recordBatch, 10}) {
		t.Errorf("batches of %v, want %d then 10", sizes, recordBatch)
	}
}

// TestRecorderTellsOfSwitchOffsRecorded: the engine hears that a webhook
// was switched off once, and only once, a result that did so is recorded.
func TestRecorderTellsOfSwitchOffsRecorded(t *testing.T) {
	t.Parallel()
	for _, recorded := range []bool{true, false} {
		store := newFakeStore(time.Now)
		gone := store.add(newJob("wh_a", 1, ""), time.Minute)
		ok := store.add(newJob("wh_b", 1, ""), time.Minute)
		if !recorded {
			store.recordErr = func(rs []pathhook.Result) error {
				for _, r := range rs {
					if r.DisableReason != "" {
						return errors.New("attempt already recorded")
					}
				}
				return nil
			}
		}
		r := newTestRecorder(t, store)
		r.log = slog.New(slog.DiscardHandler)
		told := 0
		r.disabled = func() { told++ }
		r.add(pathhook.Result{DeliveryID: ok.DeliveryID, WebhookID: "wh_b", Status: pathhook.DeliverySucceeded,
			Attempt: pathhook.Attempt{N: 1}}, nil)
		r.add(pathhook.Result{DeliveryID: gone.DeliveryID, WebhookID: "wh_a", Status: pathhook.DeliveryFailed,
			DisableReason: "receiver answered 410 Gone", Attempt: pathhook.Attempt{N: 1}}, nil)
		r.close()
		r.run(context.Background())
		if want := map[bool]int{true: 1, false: 0}[recorded]; told != want {
			t.Errorf("recorded %v: told %d times, want %d", recorded, told, want)
		}
	}
}

func TestRecorderSplitsABatchThatKeepsFailing(t *testing.T) {
	t.Parallel()
	store := newFakeStore(time.Now)
	var ids []string
	for i := range 3 {
		ids = append(ids, store.add(newJob("wh_a", i, ""), time.Minute).DeliveryID)
	}
	store.recordErr = func(rs []pathhook.Result) error {
		for _, r := range rs {
			if r.DeliveryID == ids[1] {
				return errors.New("attempt already recorded")
			}
		}
		return nil
	}
	r := newTestRecorder(t, store)
	r.log = slog.New(slog.DiscardHandler)
	var batch []pathhook.Result
	for _, id := range ids {
		batch = append(batch, pathhook.Result{DeliveryID: id, WebhookID: "wh_a", Status: pathhook.DeliverySucceeded, Attempt: pathhook.Attempt{N: 1}})
	}
	r.write(context.Background(), batch)
	for i, id := range ids {
		if got, want := len(store.delivery(id).attempts), map[bool]int{true: 0, false: 1}[i == 1]; got != want {
			t.Errorf("%s has %d attempts recorded, want %d", id, got, want)
		}
	}
}

// TestRecorderGivesUpOnAStoreThatDoesNotAnswer checks that once writes of
// a batch have run out of time maxTimeouts times, the rest of the batch is
// left out without a try, each of which would wait as long.
func TestRecorderGivesUpOnAStoreThatDoesNotAnswer(t *testing.T) {
	t.Parallel()
	store := newFakeStore(time.Now)
	batch := timeoutBatch(store, 5)
	tries := 0
	store.recordErr = func([]pathhook.Result) error {
		tries++
		return fmt.Errorf("sqlstore: record: %w", context.DeadlineExceeded)
	}
	r := newTestRecorder(t, store)
	r.log = slog.New(slog.DiscardHandler)
	if failed := r.write(context.Background(), batch); !slices.Equal(failed, []int{0, 1, 2, 3, 4}) {
		t.Errorf("write reported %v as not recorded, want all five", failed)
	}
	if tries != maxTimeouts {
		t.Errorf("the store was asked %d times, want %d", tries, maxTimeouts)
	}
}

func timeoutBatch(store *fakeStore, n int) []pathhook.Result {
	var batch []pathhook.Result
	for i := range n {
		id := store.add(newJob("wh_a", i, ""), time.Minute).DeliveryID
		batch = append(batch, pathhook.Result{DeliveryID: id, WebhookID: "wh_a", Status: pathhook.DeliverySucceeded, Attempt: pathhook.Attempt{N: 1}})
	}
	return batch
}

func TestRecorderReleasesInBoundedStatements(t *testing.T) {
	t.Parallel()
	store := newFakeStore(time.Now)
	var calls []int
	counting := &countingStore{fakeStore: store, release: func(leases []pathhook.Lease) { calls = append(calls, len(leases)) }}
	c := Config{Store: counting, Owner: store.owner, Clock: time.Now, Logger: testLogger(t)}
	r := newRecorder(&c)
	leases := make([]pathhook.Lease, releaseBatch+1)
	for i := range leases {
		leases[i] = pathhook.Lease{DeliveryID: "dlv_" + string(rune('a'+i%26))}
	}
	r.release(leases...)
	r.close()
	r.run(context.Background())
	if !slices.Equal(calls, []int{releaseBatch, 1}) {
		t.Errorf("Release calls of %v ids", calls)
	}
}

func TestRecorderParksInBoundedStatements(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	store := newFakeStore(clock.Now)
	var ids []string
	var leases []pathhook.Lease
	for i := range releaseBatch + 1 {
		job := store.add(newJob("wh_a", i, ""), time.Hour)
		ids, leases = append(ids, job.DeliveryID), append(leases, job.Lease())
	}
	r := newTestRecorder(t, store)
	until := clock.Now().Add(maxDefer)
	r.park(until, leases...)
	r.park(until.Add(time.Second), leases[0]) // no longer held: stays as it is
	r.close()
	r.run(context.Background())
	var sizes []int
	for _, p := range store.parked() {
		sizes = append(sizes, len(p.ids))
	}
	if !slices.Equal(sizes, []int{releaseBatch, 1, 1}) {
		t.Errorf("Park calls of %v ids", sizes)
	}
	for _, id := range []string{ids[0], ids[releaseBatch]} {
		if d := store.delivery(id); d.leaseOwner != "" || !d.deferred.Equal(until) {
			t.Errorf("%s is leased to %q and deferred to %s, want unleased and deferred to %s", id, d.leaseOwner, d.deferred, until)
		}
	}
}

// countingStore is a fakeStore that reports each Release.
type countingStore struct {
	*fakeStore
	release func(leases []pathhook.Lease)
}

func (s *countingStore) Release(ctx context.Context, owner string, leases []pathhook.Lease) error {
	s.release(leases)
	return s.fakeStore.Release(ctx, owner, leases)
}

// TestRecorderUnparksInBoundedTransactions: a webhook's parked backlog is
// brought back unparkBatch deliveries a transaction, and a result that
// comes meanwhile is written between them, not after the whole backlog;
// the scheduler is told once the last has come back.
func TestRecorderUnparksInBoundedTransactions(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	store := newFakeStore(clock.Now)
	var leases []pathhook.Lease
	for i := range 2*unparkBatch + 1 {
		job := store.add(newJob("wh_a", i, ""), time.Hour)
		leases = append(leases, job.Lease())
	}
	late := store.add(newJob("wh_b", 0, ""), time.Hour)
	var r *recorder
	var mu sync.Mutex
	var steps []string
	step := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		steps = append(steps, s)
	}
	taken := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(steps)
	}
	st := &stepStore{fakeStore: store, unparked: func(n int) {
		step(fmt.Sprint("unpark ", n))
		if len(taken()) == 1 {
			r.add(pathhook.Result{DeliveryID: late.DeliveryID, WebhookID: "wh_b", Status: pathhook.DeliverySucceeded,
				Attempt: pathhook.Attempt{N: 1}}, nil)
		}
	}, recorded: func() { step("record") }}
	c := Config{Store: st, Owner: store.owner, Clock: clock.Now, Logger: testLogger(t), FlushInterval: -1, Workers: 2}
	r = newRecorder(&c)
	r.unparked = func(id string) { step("ended " + id) }
	r.park(clock.Now().Add(maxDefer), leases...)
	r.unpark("wh_a")
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.run(context.Background())
	}()
	waitFor(t, "the backlog to be brought back", func() bool { return len(taken()) == 5 })
	r.close()
	<-done
	want := []string{fmt.Sprint("unpark ", unparkBatch), "record", fmt.Sprint("unpark ", unparkBatch), "unpark 1", "ended wh_a"}
	if got := taken(); !slices.Equal(got, want) {
		t.Errorf("steps %v, want %v", got, want)
	}
	for _, l := range leases {
		if d := store.delivery(l.DeliveryID); !d.deferred.IsZero() {
			t.Fatalf("%s is still deferred to %s", l.DeliveryID, d.deferred)
		}
	}
}

// stepStore is a fakeStore that reports each Unpark and Record.
type stepStore struct {
	*fakeStore
	unparked func(n int)
	recorded func()
}

func (s *stepStore) Unpark(ctx context.Context, webhookID string, limit int) (int, error) {
	n, err := s.fakeStore.Unpark(ctx, webhookID, limit)
	s.unparked(n)
	return n, err
}

func (s *stepStore) Record(ctx context.Context, results []pathhook.Result) error {
	s.recorded()
	return s.fakeStore.Record(ctx, results)
}

// TestRecorderWaitsForAStoreOutOfReach: results are kept and written again
// while the store is out of reach, past the tries that a failing batch
// gets, and recorded once it answers, rather than dropped for their
// deliveries to be sent again when their leases run out. Once the engine
// stops, it waits no more, and leaves the batch out whole.
func TestRecorderWaitsForAStoreOutOfReach(t *testing.T) {
	t.Parallel()
	for _, stopping := range []bool{false, true} {
		store := newFakeStore(time.Now)
		batch := timeoutBatch(store, 3)
		tries := 0
		store.recordErr = func([]pathhook.Result) error {
			if tries++; tries <= 3*maxRecordTries {
				return pathhook.Errorf(pathhook.EUNAVAILABLE, "the database cannot be reached right now")
			}
			return nil
		}
		r := newTestRecorder(t, store)
		r.log = slog.New(slog.DiscardHandler)
		r.backoff = time.Millisecond
		stop := make(chan struct{})
		if stopping {
			close(stop)
		}
		r.stop = stop
		failed := r.write(context.Background(), batch)
		if stopping {
			// maxRecordTries for the batch, and none for each result: the
			// store is out of reach for them all.
			if tries != maxRecordTries || len(failed) != len(batch) {
				t.Errorf("stopping: %d tries, %v not recorded; want %d tries, all three not recorded", tries, failed, maxRecordTries)
			}
			continue
		}
		if failed != nil || tries != 3*maxRecordTries+1 {
			t.Errorf("%d tries, %v not recorded; want %d tries, all recorded", tries, failed, 3*maxRecordTries+1)
		}
		for _, res := range batch {
			if n := len(store.delivery(res.DeliveryID).attempts); n != 1 {
				t.Errorf("%s has %d attempts recorded, want 1", res.DeliveryID, n)
			}
		}
	}
}

// unsureOnce is a store whose first Record is carried out and its answer
// lost.
type unsureOnce struct {
	*fakeStore
	lost bool
}

func (u *unsureOnce) Record(ctx context.Context, results []pathhook.Result) error {
	if err := u.fakeStore.Record(ctx, results); err != nil || u.lost {
		return err
	}
	u.lost = true
	return fmt.Errorf("%w (%w)", pathhook.Errorf(pathhook.EUNAVAILABLE, "the database did not answer whether the change was saved"),
		pathhook.ErrCommitUnknown)
}

// TestRecorderWritesAgainWhatAnUnsureCommitLacks: after a write whose
// COMMIT got no answer, and was carried out, the batch is written again
// with RecordAgain, which finds the attempts there, not with Record, which
// would write them twice.
func TestRecorderWritesAgainWhatAnUnsureCommitLacks(t *testing.T) {
	t.Parallel()
	store := newFakeStore(time.Now)
	batch := timeoutBatch(store, 2)
	c := Config{Store: &unsureOnce{fakeStore: store}, Owner: store.owner, Clock: time.Now, Logger: slog.New(slog.DiscardHandler),
		FlushInterval: -1, Workers: 4}
	r := newRecorder(&c)
	r.backoff = time.Millisecond
	if failed := r.write(context.Background(), batch); failed != nil {
		t.Errorf("%v not recorded", failed)
	}
	for _, res := range batch {
		if n := len(store.delivery(res.DeliveryID).attempts); n != 1 {
			t.Errorf("%s has %d attempts recorded, want 1", res.DeliveryID, n)
		}
	}
}
