package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pathhook/pathhook/sqlite"
)

// TestMain lets the test binary stand in for the pathhook binary: with
// PATHHOOK_AS_MAIN=1 it runs main, so crash tests can SIGKILL a real process.
func TestMain(m *testing.M) {
	if os.Getenv("PATHHOOK_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	// PostgreSQL nodes keep their results under the user's cache
	// directory by default: the tests' nodes, in one of their own.
	cache, err := os.MkdirTemp("", "pathhook-test-cache-*")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CACHE_HOME", cache)
	code := m.Run()
	os.RemoveAll(cache)
	os.Exit(code)
}

// server is a pathhook serve under test.
type server struct {
	URL string
	Key string
	out *syncBuffer
}

// syncBuffer collects output written from other goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listeningRe = regexp.MustCompile(`pathhook listening on (http://\S+)`)

// testEnv returns a getenv with the given variables and nothing else.
func testEnv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// waitUnlocked waits until no serve holds the lock of the SQLite file db,
// as none should once the last one run in-process has returned. It may
// still be held a moment: a child process that another test starts takes
// a copy of every open file, the lock's too, until it execs.
func waitUnlocked(t *testing.T, db string) {
	t.Helper()
	if isPostgres(db) {
		return
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		unlock, err := sqlite.LockServer(db)
		if err == nil {
			unlock()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lock of %s is still held after 10 s: %v", db, err)
		}
	}
}

// startServer runs pathhook serve in-process on 127.0.0.1:0 until the test
// ends, and waits until it answers.
func startServer(t *testing.T, env map[string]string, args ...string) *server {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["PATHHOOK_DB"]; !ok {
		env["PATHHOOK_DB"] = filepath.Join(t.TempDir(), "pathhook.db")
	}
	if _, ok := env["PATHHOOK_ADMIN_KEY"]; !ok {
		env["PATHHOOK_ADMIN_KEY"] = "test-admin-key-0123456789abcdef"
	}
	args = append([]string{"serve", "--addr", "127.0.0.1:0", "--allow-http", "--allow-networks", "127.0.0.0/8"}, args...)
	waitUnlocked(t, env["PATHHOOK_DB"])
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, testEnv(env), strings.NewReader(""), out, out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v\n%s", err, out)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("serve did not stop within 30s after cancel\n%s", out)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := listeningRe.FindStringSubmatch(out.String()); m != nil {
			return &server{URL: m[1], Key: env["PATHHOOK_ADMIN_KEY"], out: out}
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended before listening: %v\n%s", err, out)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not listen within 30s\n%s", out)
	return nil
}

// call makes an API request and decodes a JSON answer into out (if non-nil).
// It fails the test unless the status is want.
func (s *server) call(t *testing.T, method, path string, body any, want int, out any) {
	t.Helper()
	status, data := s.do(t, method, path, s.Key, body)
	if status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
}

// do makes an API request with key and returns the status and body.
func (s *server) do(t *testing.T, method, path, key string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

// received is one request that a receiver got.
type received struct {
	Path   string
	Header http.Header
	Body   []byte
}

// receiver is a webhook receiver on 127.0.0.1 that records every request
// and answers with the statuses it is told, then 200.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	got      []received
	statuses []int
	arrived  chan struct{}
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	t.Helper()
	return newReceiverOn(t, nil, statuses...)
}

// downAddr returns an address on 127.0.0.1 where nothing listens, for a
// receiver that is down and comes up later on it. Its port is below the
// range from which the system gives out ports for listeners on port 0 and
// for outgoing connections (from 32768 on Linux, 49152 on macOS and
// Windows), so that nothing else takes it meanwhile.
func downAddr(t *testing.T) string {
	t.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(10000)))
		if err == nil {
			addr := ln.Addr().String()
			ln.Close()
			return addr
		}
	}
	t.Fatal("no free port between 20000 and 30000")
	return ""
}

// newReceiverOn starts a receiver on ln, or on a new port if ln is nil.
func newReceiverOn(t *testing.T, ln net.Listener, statuses ...int) *receiver {
	t.Helper()
	rc := &receiver{statuses: statuses, arrived: make(chan struct{}, 100000)}
	rc.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		status := http.StatusOK
		if len(rc.statuses) > 0 {
			status, rc.statuses = rc.statuses[0], rc.statuses[1:]
		}
		rc.mu.Unlock()
		w.WriteHeader(status)
		fmt.Fprintf(w, "answered %d", status)
		select {
		case rc.arrived <- struct{}{}:
		default:
		}
	}))
	if ln != nil {
		rc.Listener.Close()
		rc.Listener = ln
	}
	rc.Start()
	t.Cleanup(rc.Close)
	return rc
}

// wait waits until the receiver holds n requests in all and returns them.
func (rc *receiver) wait(t *testing.T, n int) []received {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		rc.mu.Lock()
		got := append([]received(nil), rc.got...)
		rc.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-rc.arrived:
		case <-deadline:
			t.Fatalf("receiver got %d requests, want %d", len(got), n)
		}
	}
}

// sleepBriefly paces a poll loop.
func sleepBriefly() { time.Sleep(10 * time.Millisecond) }

// testBinary returns the test binary, which runs as pathhook (see TestMain)
// for tests that need a separate process.
func testBinary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// startProcess runs the test binary as pathhook serve in its own process.
func startProcess(t *testing.T, env []string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	return startProcessOut(t, nil, env, args...)
}

// startProcessOut is startProcess that also copies the process's stderr,
// its log, to out (when not nil). cmd.Wait returns once all of it is copied.
func startProcessOut(t *testing.T, out io.Writer, env []string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(testBinary(t), append([]string{"serve"}, args...)...)
	cmd.Env = append(append(os.Environ(), "PATHHOOK_AS_MAIN=1"), env...)
	lines := &listenWatcher{out: out, urls: make(chan string, 1)}
	cmd.Stderr = lines
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case u := <-lines.urls:
		return cmd, u
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("pathhook process did not listen within 60s")
	}
	return nil, ""
}

// listenWatcher takes a process's stderr: it copies it to out and sends the
// URL of the first "pathhook listening on" line to urls.
type listenWatcher struct {
	mu   sync.Mutex
	out  io.Writer
	urls chan string
	line []byte
	sent bool
}

func (w *listenWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.out != nil {
		_, _ = w.out.Write(p)
	}
	if w.sent {
		return len(p), nil
	}
	w.line = append(w.line, p...)
	for {
		i := bytes.IndexByte(w.line, '\n')
		if i < 0 {
			return len(p), nil
		}
		if m := listeningRe.FindSubmatch(w.line[:i]); m != nil {
			w.urls <- string(m[1])
			w.sent, w.line = true, nil
			return len(p), nil
		}
		w.line = w.line[i+1:]
	}
}
