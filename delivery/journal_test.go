package delivery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
)

// openTestJournal opens the journal in dir, failing the test if it cannot.
func openTestJournal(t *testing.T, dir string) (*journal, []pathhook.Result) {
	t.Helper()
	j, held, err := openJournal(dir, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return j, held
}

// die leaves j as a process killed with it would: its files as they are,
// and its lock released.
func (j *journal) die() { j.lock.Close() }

// heldIn reads the results that the journal in dir holds, without taking
// its lock.
func heldIn(t *testing.T, dir string) []pathhook.Result {
	t.Helper()
	var held []pathhook.Result
	for _, name := range journalNames(t, dir) {
		rs, err := readSegment(filepath.Join(dir, name), testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, rs...)
	}
	return held
}

func journalNames(t *testing.T, dir string) []string {
	t.Helper()
	names, err := journalFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func succeeded(id string, n int) pathhook.Result {
	code := 200
	return pathhook.Result{DeliveryID: id, WebhookID: "wh_a", Status: pathhook.DeliverySucceeded,
		Attempt: pathhook.Attempt{N: n, StartedAt: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC), DurationMS: 3, ResponseStatus: &code, ResponseBody: "ok"}}
}

func TestJournalDeletesAFileOnceItsResultsAreRecorded(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "results")
	j, held, err := openJournal(dir, testLogger(t))
	if err != nil || len(held) != 0 {
		t.Fatalf("a new journal holds %v (%v)", held, err)
	}
	j.maxSize = 1 // one result a file
	r1, r2, r3 := succeeded("dlv_1", 1), succeeded("dlv_2", 1), succeeded("dlv_3", 2)
	s1, s2 := j.add(&r1), j.add(&r2)
	if s1 == nil || s2 == nil || s1 == s2 {
		t.Fatalf("files %p, %p: want one each", s1, s2)
	}
	if got := journalNames(t, dir); !slices.Equal(got, []string{"0", "1"}) {
		t.Fatalf("files %v, want 0 and 1", got)
	}
	j.recorded([]*segment{s2, nil})
	if got := journalNames(t, dir); !slices.Equal(got, []string{"0"}) {
		t.Fatalf("files %v after the second result was recorded, want 0", got)
	}

	// A process that dies now leaves the first result and the third,
	// which the next process reads back in order, skipping a line cut
	// short.
	j.maxSize = segmentSize
	j.add(&r3)
	f, err := os.OpenFile(filepath.Join(dir, "2"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"DeliveryID":"dlv_4","Attem`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	j.die()
	j2, held := openTestJournal(t, dir)
	var ids []string
	for _, r := range held {
		ids = append(ids, r.DeliveryID)
	}
	if !slices.Equal(ids, []string{"dlv_1", "dlv_3"}) || held[1].Attempt.N != 2 || *held[1].Attempt.ResponseStatus != 200 ||
		!held[1].Attempt.StartedAt.Equal(r3.Attempt.StartedAt) {
		t.Fatalf("read back %+v", held)
	}
	if err := j2.drop(); err != nil {
		t.Fatal(err)
	}
	s4 := j2.add(&r1)
	if got := journalNames(t, dir); !slices.Equal(got, []string{"3"}) {
		t.Fatalf("files %v after drop and a new result, want 3", got)
	}
	j2.recorded([]*segment{s4})
	j2.close()
	if got := journalNames(t, dir); len(got) != 0 {
		t.Fatalf("files %v after close, want none", got)
	}
}

// TestSQLiteJournalledResultsAreNotSentAgain stands for a process killed
// after its attempts ended and before their results were recorded: the
// next engine restores what the journal holds instead of sending those
// deliveries again.
func TestSQLiteJournalledResultsAreNotSentAgain(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s := newSystem(t, rc.URL) // its engine, node-a, is the one that died
	done, retry, recorded, fresh := s.enrol("learner-1"), s.enrol("learner-2"), s.enrol("learner-3"), s.enrol("learner-4")
	at := s.clock.Now()
	if err := s.db.Record(context.Background(), []pathhook.Result{result(s, recorded, 1, pathhook.DeliverySucceeded, at)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ReleaseAllLeases(context.Background()); err != nil { // as serve does on start
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "results")
	j, _ := openTestJournal(t, dir)
	retried := result(s, retry, 1, pathhook.DeliveryPending, at)
	retried.NextAttemptAt = at.Add(time.Hour)
	for _, r := range []pathhook.Result{result(s, done, 1, pathhook.DeliverySucceeded, at), retried,
		result(s, recorded, 1, pathhook.DeliverySucceeded, at)} {
		if j.add(&r) == nil {
			t.Fatal("journal add failed")
		}
	}
	j.die()

	t.Cleanup(func() { // after the engine has stopped
		if got := journalNames(t, dir); len(got) != 0 {
			t.Errorf("journal files %v after the engine stopped, want none", got)
		}
	})
	e := New(Config{Store: s.db, Owner: "node-b", Platform: "Falkor", Clock: s.clock.Now, Timeout: 5 * time.Second,
		Workers: 4, Journal: dir, Logger: testLogger(t)})
	s.run(e)
	if d := s.waitAttempts(fresh, 1); d.Status != pathhook.DeliverySucceeded {
		t.Fatalf("the delivery that had no result: %s", d.Status)
	}
	if got := rc.got(); len(got) != 1 || got[0].header.Get("Falkor-Webhook-Delivery") != fresh {
		t.Fatalf("receiver got %d requests, want only %s's", len(got), fresh)
	}
	if d := s.delivery(done); d.Status != pathhook.DeliverySucceeded || len(d.Attempts) != 1 || *d.Attempts[0].ResponseStatus != 200 {
		t.Errorf("journalled success: %+v", d)
	}
	if d := s.delivery(retry); d.Status != pathhook.DeliveryPending || d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(at.Add(time.Hour)) {
		t.Errorf("journalled failure: %+v", d)
	}
	if d := s.delivery(recorded); len(d.Attempts) != 1 {
		t.Errorf("a result recorded before the crash was recorded again: %d attempts", len(d.Attempts))
	}
	// The restored files are gone; the new result's file goes when the
	// engine stops.
	if got := journalNames(t, dir); !slices.Equal(got, []string{"1"}) {
		t.Errorf("journal files %v while running, want only 1", got)
	}
}

// result is an attempt's result as the node that holds the delivery's
// lease now would record it.
func result(s *system, id string, n int, status string, at time.Time) pathhook.Result {
	code := http.StatusOK
	if status != pathhook.DeliverySucceeded {
		code = http.StatusServiceUnavailable
	}
	d := s.delivery(id)
	return pathhook.Result{DeliveryID: id, WebhookID: s.webhook, Status: status,
		Attempt:    pathhook.Attempt{N: n, StartedAt: at, DurationMS: 4, ResponseStatus: &code},
		LeaseOwner: d.LeaseOwner, LeaseUntil: d.LeaseUntil}
}

func TestJournalGoesOnAfterAFailedWrite(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "results")
	j, _ := openTestJournal(t, dir)
	r1, r2, r3 := succeeded("dlv_1", 1), succeeded("dlv_2", 1), succeeded("dlv_3", 1)
	s1 := j.add(&r1)
	s1.f.Close() // the next write to it fails
	if s := j.add(&r2); s != nil {
		t.Fatal("a failed write reported the result as kept")
	}
	if s3 := j.add(&r3); s3 == nil || s3 == s1 {
		t.Fatalf("after a failed write the next result went to %p (the failed file is %p)", s3, s1)
	}
	j.die()
	_, held := openTestJournal(t, dir)
	if len(held) != 2 || held[0].DeliveryID != "dlv_1" || held[1].DeliveryID != "dlv_3" {
		t.Fatalf("read back %+v, want dlv_1 and dlv_3", held)
	}
}

func TestJournalSkipsLinesThatHoldNoResult(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := `{"v":1,"delivery_id":"dlv_1","webhook_id":"wh_a","status":"succeeded","attempt":{"n":1,"started_at":"2026-11-29T12:00:00Z","duration_ms":3,"response_status":200,"error":null,"response_body":"ok"}}`
	lines := []string{
		good,
		strings.Replace(good, `"v":1`, `"v":2`, 1),                             // another format
		strings.Replace(good, `"succeeded"`, `"delivered"`, 1),                 // no such status
		strings.Replace(good, `"status":"succeeded"`, `"status":"pending"`, 1), // a retry without its time
		strings.Replace(good, `"n":1`, `"n":0`, 1),                             // no such attempt
		strings.Replace(good, `"delivery_id":"dlv_1"`, `"delivery_id":""`, 1),
		`{"DeliveryID":"dlv_2","Status":"succeeded"}`, // a Result, not a line
		`{"v":1,"delivery_id":"dlv_3","webhook_`,      // cut short
	}
	if err := os.WriteFile(filepath.Join(dir, "0"), []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	_, held := openTestJournal(t, dir)
	if len(held) != 1 || held[0].DeliveryID != "dlv_1" || held[0].Status != pathhook.DeliverySucceeded || held[0].Attempt.ResponseBody != "ok" {
		t.Fatalf("read %+v, want only dlv_1's result", held)
	}
}

// TestJournalKeepsWhatTheStoreWouldNotTake: a result that the recorder
// gives up on stays in the journal past the engine's stop, for the next
// start to restore; the rest is deleted.
func TestJournalKeepsWhatTheStoreWouldNotTake(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "results")
	h := setup(t, func(c *Config) { c.Journal = dir })
	h.store.recordErr = func(rs []pathhook.Result) error {
		for _, r := range rs {
			if r.DeliveryID == "dlv_wh_a_1" {
				return errors.New("disk I/O error")
			}
		}
		return nil
	}
	rc := newReceiver(t, nil)
	h.start()
	jobs := h.offer(newJob("wh_a", 0, rc.URL), newJob("wh_a", 1, rc.URL))
	if jobs[1].DeliveryID != "dlv_wh_a_1" {
		t.Fatalf("job ids changed: %s", jobs[1].DeliveryID)
	}
	h.waitAttempts(jobs[0].DeliveryID, 1)
	waitFor(t, "both attempts", func() bool { return rc.count() == 2 })
	h.stop()
	_, held := openTestJournal(t, dir)
	// Its file stays whole: results recorded beside it are restored
	// again, and skipped, at the next start.
	if !slices.ContainsFunc(held, func(r pathhook.Result) bool { return r.DeliveryID == jobs[1].DeliveryID }) {
		t.Fatalf("journal holds %+v after the stop, want %s among them", held, jobs[1].DeliveryID)
	}
}

// TestJournalKeptWhenTheRestoreFails: the files stay for the next start,
// and the deliveries are attempted again meanwhile.
func TestJournalKeptWhenTheRestoreFails(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "results")
	j, _ := openTestJournal(t, dir)
	h := setup(t, func(c *Config) { c.Journal = dir })
	rc := newReceiver(t, nil)
	job := h.store.add(newJob("wh_a", 0, rc.URL), time.Minute)
	if err := h.store.Release(context.Background(), h.store.owner, []pathhook.Lease{job.Lease()}); err != nil { // as after a restart
		t.Fatal(err)
	}
	r := succeeded(job.DeliveryID, 1)
	r.WebhookID = job.WebhookID
	if j.add(&r) == nil {
		t.Fatal("journal add failed")
	}
	j.die()
	failing := true
	h.store.recordErr = func([]pathhook.Result) error {
		if failing {
			failing = false // the restore fails; the attempt's own result is written
			return errors.New("database is locked")
		}
		return nil
	}
	h.start()
	h.engine.Poke()
	h.waitAttempts(job.DeliveryID, 1)
	if rc.count() != 1 {
		t.Errorf("receiver got %d requests, want the delivery sent again", rc.count())
	}
	if names := journalNames(t, dir); !slices.Contains(names, "0") {
		t.Errorf("journal files %v: the one that could not be restored is gone", names)
	}
}

// TestEngineRunsWithoutAJournalItCannotOpen: a journal path that is a file
// is logged, and deliveries go on.
func TestEngineRunsWithoutAJournalItCannotOpen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "results")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h := setup(t, func(c *Config) { c.Journal = path })
	rc := newReceiver(t, nil)
	h.start()
	jobs := h.offer(newJob("wh_a", 0, rc.URL))
	if d := h.waitAttempts(jobs[0].DeliveryID, 1); d.status != pathhook.DeliverySucceeded {
		t.Fatalf("status %s", d.status)
	}
}

// TestJournalUnderConcurrentUse adds results from several goroutines into
// small files while another records them in any order: every result not
// yet recorded is on disk, and nothing is left once all are recorded.
func TestJournalUnderConcurrentUse(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "results")
	j, _ := openTestJournal(t, dir)
	j.maxSize = 2000 // a few results a file
	const writers, each = 4, 200
	type kept struct {
		id  string
		seg *segment
	}
	added := make(chan kept, writers*each)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				r := succeeded(fmt.Sprintf("dlv_%d_%d", w, i), 1)
				s := j.add(&r)
				if s == nil {
					t.Error("journal add failed")
					return
				}
				added <- kept{r.DeliveryID, s}
			}
		})
	}
	go func() { wg.Wait(); close(added) }()
	pending := map[string]*segment{}
	var segs []*segment
	check := func() {
		held := heldIn(t, dir)
		onDisk := map[string]bool{}
		for _, r := range held {
			onDisk[r.DeliveryID] = true
		}
		for id := range pending {
			if !onDisk[id] {
				t.Fatalf("%s is not recorded and not on disk", id)
			}
		}
	}
	n := 0
	for k := range added {
		pending[k.id] = k.seg
		if n++; n%50 == 0 { // record all but the newest few, newest first
			var ids []string
			for id := range pending {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			for _, id := range ids[:len(ids)/2] {
				segs = append(segs, pending[id])
				delete(pending, id)
			}
			slices.Reverse(segs)
			j.recorded(segs)
			segs = segs[:0]
			check()
		}
	}
	for _, s := range pending {
		segs = append(segs, s)
	}
	j.recorded(segs)
	j.close()
	if names := journalNames(t, dir); len(names) != 0 {
		t.Fatalf("files %v left once every result was recorded", names)
	}
}

// TestJournalHasOneUserAtATime: a directory that one engine's journal uses
// is refused to another (two nodes given one directory), and free again
// once the first closes it.
func TestJournalHasOneUserAtATime(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "results")
	j, _ := openTestJournal(t, dir)
	if _, _, err := openJournal(dir, testLogger(t)); !errors.Is(err, ErrJournalInUse) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("a second user of the journal: %v, want ErrJournalInUse naming the directory", err)
	}
	h := setup(t, func(c *Config) { c.Journal = dir })
	if err := h.engine.Run(context.Background()); !errors.Is(err, ErrJournalInUse) {
		t.Errorf("an engine on a journal in use: Run = %v, want ErrJournalInUse", err)
	}
	j.close()
	j2, _ := openTestJournal(t, dir)
	j2.close()
}
