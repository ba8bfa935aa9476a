package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a bytes.Buffer that the server's goroutines may share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	f := setup(t, func(c *Config) { c.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) })
	p := f.must(201, f.a.key, "POST", "/v1/pathways", map[string]any{"name": "Logged"})
	hook := p["webhooks"].([]any)[0].(map[string]any)["id"].(string)
	secret := "very-secret-value-0123456789"
	res := f.do(f.a.key, "PUT", "/v1/webhooks/"+hook+"?token=query-secret", map[string]any{"url": "https://example.com/in", "secret": secret})
	if res.status != 200 || strings.Contains(string(res.body), secret) {
		t.Errorf("setup answered %d, showing the secret? %s", res.status, res.body)
	}
	if got := f.do(f.a.key, "GET", "/v1/webhooks/"+hook, nil); strings.Contains(string(got.body), secret) {
		t.Errorf("GET shows the secret: %s", got.body)
	}
	generated := f.must(200, f.a.key, "POST", "/v1/webhooks/"+hook+"/secret", nil)["secret"].(string)
	f.do("", "GET", "/v1/nothing", nil)

	out := logs.String()
	for _, leak := range []string{f.a.key, secret, generated, "query-secret", "example.com"} {
		if strings.Contains(out, leak) {
			t.Errorf("log holds %q:\n%s", leak, out)
		}
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	want := []struct {
		route  string
		status float64
	}{{"POST /v1/pathways", 201}, {"PUT /v1/webhooks/{id}", 200}, {"GET /v1/webhooks/{id}", 200}, {"POST /v1/webhooks/{id}/secret", 200}, {"(unrouted)", 404}}
	if len(lines) != len(want) {
		t.Fatalf("%d log lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		if l := lines[i]; l["route"] != w.route || l["status"] != w.status || l["method"] == nil || l["duration"] == nil {
			t.Errorf("log line %d: %v, want route %q status %v", i, l, w.route, w.status)
		}
	}
}

// TestPanic uses a server without a Service: the first call that needs one
// panics, and must be answered with a 500 problem that reveals nothing.
func TestPanic(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	h := NewServer(Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/v1/pathways", nil)
	req.Header.Set("Authorization", "Bearer phk_whatever")
	h.ServeHTTP(rec, req)
	var p problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != 500 || p.Code != "internal" {
		t.Fatalf("panic answered %d: %s", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), "nil pointer") || strings.Contains(rec.Body.String(), "goroutine") {
		t.Errorf("500 reveals the panic: %s", rec.Body)
	}
	if out := logs.String(); !strings.Contains(out, "nil pointer") || !strings.Contains(out, "status=500") {
		t.Errorf("the panic is not logged with its cause:\n%s", out)
	}
}

// TestMounted serves the API behind an outer mux, as cmd/pathhook does: the
// outer mux's pattern must not leak into the answer or the log.
func TestMounted(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	outer := http.NewServeMux()
	outer.Handle("/v1/", NewServer(Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}))
	rec := httptest.NewRecorder()
	outer.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/nothing", nil))
	if rec.Code != 404 || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("unrouted behind an outer mux: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if out := logs.String(); !strings.Contains(out, `"route":"(unrouted)"`) {
		t.Errorf("log: %s", out)
	}
}
