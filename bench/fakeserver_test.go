package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pathhook/pathhook/signature"
)

// fakeServeEnv makes the test binary act as `pathhook serve`: a small
// in-memory stand-in with the few API calls the bench makes, so that the
// orchestration (child processes, kills, waiting, accounting) can be tested
// without the real server.
const fakeServeEnv = "PATHHOOK_BENCH_FAKE_SERVE"

// fakeAsyncEnv makes the fake deliver after answering the API call, rather
// than before; fakeDupEnv makes it deliver every n-th event twice.
const (
	fakeAsyncEnv = "PATHHOOK_BENCH_FAKE_ASYNC"
	fakeDupEnv   = "PATHHOOK_BENCH_FAKE_DUP"
)

func TestMain(m *testing.M) {
	if os.Getenv(fakeServeEnv) == "1" {
		if err := fakeServe(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "fake serve:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeEnv returns the environment that makes the test binary a fake server.
func fakeEnv(extra ...string) []string {
	return append(append(os.Environ(), fakeServeEnv+"=1"), extra...)
}

type fakeHook struct {
	URL, Secret string
}

type fakeServer struct {
	async  bool
	dupN   int
	client *http.Client
	db     string // where the webhooks are kept, so that a restart finds them

	mu       sync.Mutex
	pathways int
	hooks    map[string]*fakeHook
	pending  map[string]map[string]bool // webhook id -> event ids not yet delivered
}

func fakeServe(args []string) error {
	if len(args) == 0 || args[0] != "serve" {
		return fmt.Errorf("want serve, got %q", args)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "")
	db := fs.String("db", "", "")
	fs.Bool("allow-http", false, "")
	fs.String("allow-networks", "", "")
	fs.String("retry-schedule", "", "")
	fs.String("delivery-timeout", "", "")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	dup, _ := strconv.Atoi(os.Getenv(fakeDupEnv))
	s := &fakeServer{async: os.Getenv(fakeAsyncEnv) == "1", dupN: dup, client: &http.Client{}, db: *db,
		hooks: map[string]*fakeHook{}, pending: map[string]map[string]bool{}}
	if data, err := os.ReadFile(s.db); err == nil {
		if err := json.Unmarshal(data, &s.hooks); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "some log line\npathhook listening on http://%s\n", ln.Addr())
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/pathways", s.createPathway)
	mux.HandleFunc("PUT /v1/webhooks/{id}", s.setupHook)
	mux.HandleFunc("PATCH /v1/webhooks/{id}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) })
	mux.HandleFunc("GET /v1/webhooks/{id}/deliveries", s.listDeliveries)
	mux.HandleFunc("POST /v1/pathways/{id}/enrolments", s.enrol)
	return http.Serve(ln, mux)
}

func (s *fakeServer) createPathway(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.pathways++
	id := fmt.Sprintf("pw_%d", s.pathways)
	s.hooks["wh_"+id] = &fakeHook{}
	s.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"id":%q,"webhooks":[{"id":"wh_b_%s","category":"bookings"},{"id":"wh_%s","category":"enrolments"}]}`, id, id, id)
}

func (s *fakeServer) setupHook(w http.ResponseWriter, r *http.Request) {
	var in struct{ URL, Secret string }
	json.NewDecoder(r.Body).Decode(&in)
	s.mu.Lock()
	h := s.hooks[r.PathValue("id")]
	if h != nil {
		h.URL, h.Secret = in.URL, in.Secret
		data, _ := json.Marshal(s.hooks)
		os.WriteFile(s.db, data, 0o600)
	}
	s.mu.Unlock()
	if h == nil {
		http.Error(w, "no such webhook", http.StatusNotFound)
		return
	}
	w.Write([]byte("{}"))
}

func (s *fakeServer) enrol(w http.ResponseWriter, r *http.Request) {
	pw := r.PathValue("id")
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	h := s.hooks["wh_"+pw]
	s.mu.Unlock()
	if h == nil {
		http.Error(w, "no such pathway", http.StatusNotFound)
		return
	}
	i := indexOf(body)
	// The event id follows from the call, so that a call made again after
	// a crash delivers the same event, as a real retry would.
	id := fmt.Sprintf("evt_%s_%d", pw, i)
	payload := []byte(fmt.Sprintf(`{"id":%q,"data":{"learner":{"id":"%s%d"}}}`, id, learnerPrefix, i))
	times := 1
	if s.dupN > 0 && i%s.dupN == 0 {
		times = 2
	}
	hookID := "wh_" + pw
	s.mu.Lock()
	if s.pending[hookID] == nil {
		s.pending[hookID] = map[string]bool{}
	}
	s.pending[hookID][id] = true
	s.mu.Unlock()
	deliver := func() {
		defer func() {
			s.mu.Lock()
			delete(s.pending[hookID], id)
			s.mu.Unlock()
		}()
		for range times {
			for s.post(h, id, payload) != nil {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	if s.async {
		go deliver()
	} else {
		deliver()
	}
	w.WriteHeader(http.StatusCreated)
	w.Write([]byte("{}"))
}

// listDeliveries lists a webhook's pending deliveries, all on one page;
// the fake fails none.
func (s *fakeServer) listDeliveries(w http.ResponseWriter, r *http.Request) {
	type delivery struct {
		EventID string `json:"event_id"`
	}
	list := struct {
		Data       []delivery `json:"data"`
		NextCursor *string    `json:"next_cursor"`
	}{Data: []delivery{}}
	if r.URL.Query().Get("status") == "pending" {
		s.mu.Lock()
		for id := range s.pending[r.PathValue("id")] {
			list.Data = append(list.Data, delivery{id})
		}
		s.mu.Unlock()
	}
	json.NewEncoder(w).Encode(list)
}

func (s *fakeServer) post(h *fakeHook, id string, payload []byte) error {
	req, _ := http.NewRequest(http.MethodPost, h.URL, bytes.NewReader(payload))
	req.Header.Set(idHeader, id)
	req.Header.Set(signatureHeader, signature.Sign([]byte(h.Secret), payload))
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// fakeConfig is a small run against the fake server.
func fakeConfig(t *testing.T, env ...string) Config {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Config{Events: 300, Webhooks: 3, Concurrency: 8, ServerBinary: exe, Env: fakeEnv(env...),
		DB: t.TempDir() + "/bench.db", Wait: 30 * time.Second}
}

func TestWatcherFindsListeningLine(t *testing.T) {
	t.Parallel()
	w := &watcher{tail: &tail{}, found: make(chan string, 1)}
	for _, chunk := range []string{"time=x level=INFO msg=\"pathhook list", "ening\"\npathhook listening on http://127.0", ".0.1:4321 (admin UI at http://127.0.0.1:4321/)\nmore\n"} {
		w.Write([]byte(chunk))
	}
	select {
	case url := <-w.found:
		if url != "http://127.0.0.1:4321" {
			t.Errorf("url = %q", url)
		}
	default:
		t.Fatal("listening line not found")
	}
	if !strings.HasSuffix(w.tail.String(), "more\n") {
		t.Errorf("tail = %q", w.tail.String())
	}
}

func TestServeFlags(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	flags, err := serveFlags(context.Background(), exe, fakeEnv())
	if err != nil {
		t.Fatal(err)
	}
	if !flags["addr"] || !flags["retry-schedule"] || flags["rate-limit"] {
		t.Errorf("flags = %v", flags)
	}
}
