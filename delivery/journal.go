package delivery

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/internal/filelock"
)

// segmentSize is how large a journal file grows before the next result
// starts a new one. A full file is deleted once all its results are
// recorded; the newest stays until the engine stops.
const segmentSize = 256 << 10

// journalVersion is written in every line; lines of another version are
// skipped.
const journalVersion = 1

// journal keeps each result in a file the moment its attempt ends, so that
// a process killed before the recorder has written a batch does not send
// those deliveries again when it restarts: the restarted engine restores
// what the store lacks from the files first. Each result is one write to
// the file, with no fsync: the operating system keeps what a killed
// process wrote, and a machine that loses power loses only the results it
// had not recorded, which are then sent again, as without a journal.
//
// The journal is a directory of files named by number, each holding JSON
// lines (journalLine); results go to the newest.
type journal struct {
	dir     string
	lock    *os.File // holds the directory's lock file, locked
	log     *slog.Logger
	maxSize int      // segmentSize, but for tests
	read    []string // the files that openJournal read, for drop

	mu      sync.Mutex
	cur     *segment // the file results go to; nil until the next result
	next    int      // the number of the next file
	failing bool     // the last write failed: logged once until one succeeds
}

// segment is one of the journal's files.
type segment struct {
	path    string
	f       *os.File // nil once full: nothing more is written to it
	size    int
	pending int // results written and not yet recorded
}

// journalLine is a result as the journal keeps it: a format of its own,
// so that renaming a field of pathhook.Result cannot make a journal that
// an older build wrote read wrong.
type journalLine struct {
	V             int              `json:"v"`
	DeliveryID    string           `json:"delivery_id"`
	WebhookID     string           `json:"webhook_id"`
	Status        string           `json:"status"`
	NextAttemptAt time.Time        `json:"next_attempt_at,omitzero"`
	DisableReason string           `json:"disable_reason,omitempty"`
	Attempt       pathhook.Attempt `json:"attempt"`
}

func (l *journalLine) result() (pathhook.Result, bool) {
	r := pathhook.Result{DeliveryID: l.DeliveryID, WebhookID: l.WebhookID, Status: l.Status,
		NextAttemptAt: l.NextAttemptAt, DisableReason: l.DisableReason, Attempt: l.Attempt}
	ok := l.V == journalVersion && r.DeliveryID != "" && r.WebhookID != "" && r.Attempt.N >= 1
	switch r.Status {
	case pathhook.DeliveryPending:
		ok = ok && !r.NextAttemptAt.IsZero()
	case pathhook.DeliverySucceeded, pathhook.DeliveryFailed:
	default:
		ok = false
	}
	return r, ok
}

// openJournal opens the journal in dir, creating dir if need be, and
// returns the results that its files hold, in the order they were written.
// The files stay until drop is called: the caller first restores their
// results to the store. It fails if another process has the journal open.
func openJournal(dir string, log *slog.Logger) (*journal, []pathhook.Result, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("delivery journal: %w", err)
	}
	lock, err := lockJournal(dir)
	if err != nil {
		return nil, nil, err
	}
	names, err := journalFiles(dir)
	if err != nil {
		lock.Close()
		return nil, nil, err
	}
	j := &journal{dir: dir, lock: lock, log: log, maxSize: segmentSize}
	var results []pathhook.Result
	for _, name := range names {
		path := filepath.Join(dir, name)
		rs, err := readSegment(path, log)
		if err != nil {
			lock.Close()
			return nil, nil, err
		}
		results = append(results, rs...)
		j.read = append(j.read, path)
	}
	if n := len(names); n > 0 {
		last, _ := strconv.Atoi(names[n-1])
		j.next = last + 1
	}
	return j, results, nil
}

// ErrJournalInUse is Run's error when another process uses the journal's
// directory.
var ErrJournalInUse = errors.New("delivery journal: another process uses the directory")

// lockJournal takes the lock of the journal in dir, which the process holds
// until it closes the file or ends, even by SIGKILL.
func lockJournal(dir string) (*os.File, error) {
	f, err := filelock.TryLock(filepath.Join(dir, "lock"))
	if errors.Is(err, filelock.ErrHeld) {
		return nil, fmt.Errorf("%w: %s; give each node a directory of its own", ErrJournalInUse, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("delivery journal: lock %s: %w", dir, err)
	}
	return f, nil
}

// journalFiles returns the names of dir's journal files, oldest first.
func journalFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("delivery journal: %w", err)
	}
	var names []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err == nil && e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x - y
	})
	return names, nil
}

// readSegment reads one journal file. A line that does not hold a result,
// such as the last one of a file cut short when the machine stopped, is
// skipped with a warning: its delivery is attempted again.
func readSegment(path string, log *slog.Logger) ([]pathhook.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("delivery journal: %w", err)
	}
	defer f.Close()
	var results []pathhook.Result
	lines := bufio.NewScanner(f)
	lines.Buffer(nil, 16<<20)
	for n := 1; lines.Scan(); n++ {
		var l journalLine
		r, ok := pathhook.Result{}, json.Unmarshal(lines.Bytes(), &l) == nil
		if ok {
			r, ok = l.result()
		}
		if !ok {
			log.Warn("delivery journal: skipped a line that does not hold a result", "file", path, "line", n)
			continue
		}
		results = append(results, r)
	}
	if err := lines.Err(); err != nil {
		return nil, fmt.Errorf("delivery journal: %s: %w", path, err)
	}
	return results, nil
}

// drop deletes the files that openJournal read.
func (j *journal) drop() error {
	for _, path := range j.read {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delivery journal: %w", err)
		}
	}
	j.read = nil
	return nil
}

// add writes r to the journal and returns the file that holds it, to be
// passed to recorded once r is in the store. If the write fails, r is not
// kept (nil is returned) and the failure is logged: the engine goes on as
// it would without a journal.
func (j *journal) add(r *pathhook.Result) *segment {
	line, err := json.Marshal(journalLine{V: journalVersion, DeliveryID: r.DeliveryID, WebhookID: r.WebhookID, Status: r.Status,
		NextAttemptAt: r.NextAttemptAt, DisableReason: r.DisableReason, Attempt: r.Attempt})
	if err != nil {
		return nil // a journalLine always encodes
	}
	line = append(line, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.cur == nil {
		if err := j.start(); err != nil {
			j.failed(err)
			return nil
		}
	}
	s := j.cur
	if _, err := s.f.Write(line); err != nil {
		// Part of the line may be written: the next result starts a new
		// file rather than follow it on the same line.
		j.failed(err)
		j.retire(s)
		return nil
	}
	j.failing = false
	s.pending++
	if s.size += len(line); s.size >= j.maxSize {
		j.retire(s)
	}
	return s
}

func (j *journal) start() error {
	path := filepath.Join(j.dir, strconv.Itoa(j.next))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	j.next++
	j.cur = &segment{path: path, f: f}
	return nil
}

// retire ends writing to s, the current file: the next result starts a
// new one. s is deleted now if it holds nothing unrecorded, or else by
// recorded.
func (j *journal) retire(s *segment) {
	j.cur = nil
	_ = s.f.Close() // written with no fsync: Close reports nothing to act on
	s.f = nil
	if s.pending == 0 {
		j.remove(s)
	}
}

func (j *journal) failed(err error) {
	if !j.failing {
		j.log.Error("delivery journal: cannot keep results; a crash before they are recorded sends their deliveries again", "dir", j.dir, "err", err)
	}
	j.failing = true
}

// recorded tells the journal that the results in these files (one entry
// per result, nil for one not kept) are in the store. A file that is no
// longer written to is deleted once all its results are.
func (j *journal) recorded(segs []*segment) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, s := range segs {
		if s == nil {
			continue
		}
		if s.pending--; s.pending == 0 && s != j.cur {
			j.remove(s)
		}
	}
}

// close ends the journal when the engine has stopped: the newest file is
// deleted if all its results are recorded. Files that still hold results
// the store would not take stay, for the next start to restore.
func (j *journal) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if s := j.cur; s != nil {
		j.retire(s)
	}
	j.lock.Close()
}

func (j *journal) remove(s *segment) {
	if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		j.log.Warn("delivery journal: cannot delete a recorded file; its results are restored, and skipped, at the next start", "file", s.path, "err", err)
	}
}

// restoreTimeout bounds the one transaction in which restore records what
// the journal held.
const restoreTimeout = time.Minute

// restore records the results that the journal held when the engine
// started, those the store lacks, and then deletes the files. If the store
// fails, the files stay for the next start, and the deliveries whose
// results were not restored are attempted again.
func (e *Engine) restore(ctx context.Context, results []pathhook.Result) {
	if len(results) > 0 {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), restoreTimeout)
		n, err := e.store.Restore(ctx, e.c.Owner, results)
		cancel()
		if err != nil {
			e.c.Logger.Error("delivery journal: cannot restore results; their deliveries are attempted again", "dir", e.journal.dir, "err", err)
			return
		}
		e.c.Logger.Info("delivery: restored the results of attempts that the previous process had not recorded",
			"results", len(results), "restored", n)
	}
	if err := e.journal.drop(); err != nil {
		e.c.Logger.Warn("delivery journal: cannot delete restored files; they are read again, and skipped, at the next start", "err", err)
	}
}
