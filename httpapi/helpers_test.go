package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/internal/pgtest"
	"github.com/pathhook/pathhook/postgres"
	"github.com/pathhook/pathhook/sqlite"
	"github.com/pathhook/pathhook/sqlstore"
)

// fixture is a real API server on 127.0.0.1 over a real SQLite file, with
// two orgs, each with an API key. Every answer it sees is checked against
// openapi.json.
type fixture struct {
	t    *testing.T
	url  string
	svc  *pathhook.Service
	db   *sqlstore.DB
	spec *spec
	a, b tenant
}

type tenant struct {
	org *pathhook.Org
	key string
}

// setup starts a fixture on SQLite; opts may change the server's Config.
func setup(t *testing.T, opts ...func(*Config)) *fixture {
	t.Helper()
	return setupOn(t, openSQLite(t), opts...)
}

// stores are the stores that a test of what reaches the database runs on.
var stores = []struct {
	name string
	open func(*testing.T) *sqlstore.DB
}{
	{"SQLite", openSQLite},
	{"PostgreSQL", openPostgres},
}

func openSQLite(t *testing.T) *sqlstore.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "pathhook.db"), nil)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// openPostgres opens a store in a schema of its own in the database that
// PATHHOOK_TEST_POSTGRES names, dropped when t ends, or skips t; with
// PATHHOOK_REQUIRE_POSTGRES=1 (as in CI) a missing database fails it.
func openPostgres(t *testing.T) *sqlstore.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), pgtest.Schema(t, "pathhook_httpapi_"), nil)
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// setupOn starts a fixture on db; opts may change the server's Config.
func setupOn(t *testing.T, db *sqlstore.DB, opts ...func(*Config)) *fixture {
	t.Helper()
	svc := pathhook.NewService(pathhook.Config{Store: db})
	cfg := Config{Service: svc, Platform: "Falkor", Ready: func(context.Context) error { return nil }}
	for _, o := range opts {
		o(&cfg)
	}
	srv := httptest.NewServer(NewServer(cfg))
	t.Cleanup(srv.Close)
	f := &fixture{t: t, url: srv.URL, svc: svc, db: db, spec: loadSpec(t)}
	f.a = f.tenant("acme")
	f.b = f.tenant("globex")
	return f
}

func (f *fixture) tenant(name string) tenant {
	f.t.Helper()
	ctx := context.Background()
	org, err := f.svc.EnsureOrg(ctx, name)
	if err != nil {
		f.t.Fatalf("EnsureOrg: %v", err)
	}
	key, _, err := f.svc.CreateAPIKey(ctx, org.ID, "test")
	if err != nil {
		f.t.Fatalf("CreateAPIKey: %v", err)
	}
	return tenant{org: org, key: key}
}

// response is an answer, read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with key (none if "") and body: nil for none, a string
// or []byte as it is, anything else as JSON. It checks the answer against
// openapi.json.
func (f *fixture) do(key, method, path string, body any) *response {
	f.t.Helper()
	req := f.request(key, method, path, body)
	return f.send(req)
}

func (f *fixture) request(key, method, path string, body any) *http.Request {
	f.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			f.t.Fatalf("marshal: %v", err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, f.url+path, r)
	if err != nil {
		f.t.Fatalf("NewRequest: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return req
}

func (f *fixture) send(req *http.Request) *response {
	f.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatalf("%s %s: reading the answer: %v", req.Method, req.URL.Path, err)
	}
	for _, e := range f.spec.check(req.Method, req.URL.Path, res.StatusCode, res.Header.Get("Content-Type"), b) {
		f.t.Errorf("openapi: %s", e)
	}
	return &response{status: res.StatusCode, header: res.Header, body: b}
}

// must sends a request and requires the given status; it returns the answer
// as generic JSON.
func (f *fixture) must(want int, key, method, path string, body any) map[string]any {
	f.t.Helper()
	res := f.do(key, method, path, body)
	if res.status != want {
		f.t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.status, want, res.body)
	}
	return res.object(f.t)
}

func (r *response) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// fieldsOf returns the field names of a 422 problem's errors.
func (r *response) fieldsOf(t *testing.T) []string {
	t.Helper()
	var p problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("not a problem: %v: %s", err, r.body)
	}
	var fs []string
	for _, e := range p.Errors {
		fs = append(fs, e.Field)
	}
	return fs
}

// world is one org's set of resources, one of each kind, made through the
// API: a pathway with an online and a classroom activity, a reward, an
// enrolled learner, an enabled enrolments webhook with a failed delivery
// (so that it can be redelivered), and an extra API key.
type world struct {
	pathway, online, classroom, reward, learner string
	webhooks                                    []string // enrolments, bookings, rewards
	delivery, apiKey                            string
}

func (f *fixture) world(key string) world {
	f.t.Helper()
	var w world
	p := f.must(201, key, "POST", "/v1/pathways", map[string]any{"name": "Onboarding", "description": "First steps"})
	w.pathway = p["id"].(string)
	for _, wh := range p["webhooks"].([]any) {
		w.webhooks = append(w.webhooks, wh.(map[string]any)["id"].(string))
	}
	w.online = f.must(201, key, "POST", "/v1/pathways/"+w.pathway+"/activities", map[string]any{"title": "Video", "kind": "online"})["id"].(string)
	w.classroom = f.must(201, key, "POST", "/v1/pathways/"+w.pathway+"/activities",
		map[string]any{"title": "Workshop", "kind": "classroom", "starts_at": "2026-12-01T09:00:00Z", "location": "Room 4B"})["id"].(string)
	w.reward = f.must(201, key, "POST", "/v1/pathways/"+w.pathway+"/rewards", map[string]any{"name": "Champion", "kind": "badge", "unlock_on": "pathway_completed"})["id"].(string)
	w.learner = "learner-1"
	f.must(201, key, "POST", "/v1/pathways/"+w.pathway+"/enrolments", map[string]any{"learner": map[string]any{"id": w.learner, "email": "ada@example.com", "name": "Ada"}})
	hook := w.webhooks[0]
	f.must(200, key, "PUT", "/v1/webhooks/"+hook, map[string]any{"url": "https://hooks.example.com/in", "secret": strings.Repeat("s3cret!", 4)})
	f.must(200, key, "PATCH", "/v1/webhooks/"+hook, map[string]any{"enabled": true})
	w.delivery = f.must(202, key, "POST", "/v1/webhooks/"+hook+"/test", nil)["delivery_id"].(string)
	f.recordFailure(w.delivery, hook)
	w.apiKey = f.must(201, key, "POST", "/v1/api-keys", map[string]any{"name": "spare"})["id"].(string)
	return w
}

// recordFailure records a failed attempt of a delivery, as the engine
// would, so that the delivery has ended and shows an attempt.
func (f *fixture) recordFailure(deliveryID, webhookID string) {
	f.t.Helper()
	status, msg := 500, "receiver answered 500"
	err := f.db.Record(context.Background(), []pathhook.Result{{DeliveryID: deliveryID, WebhookID: webhookID, Status: pathhook.DeliveryFailed,
		Attempt: pathhook.Attempt{N: 1, StartedAt: time.Now().UTC().Truncate(time.Millisecond), DurationMS: 12, ResponseStatus: &status, Error: &msg, ResponseBody: "oops"}}})
	if err != nil {
		f.t.Fatalf("Record: %v", err)
	}
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// badRequest is a request that must fail with status and a problem answer
// that, for a 422 with field set, names field.
type badRequest struct {
	name         string
	method, path string
	body         any
	status       int
	field        string
}

// checkBadRequests makes each of cases with org A's key and checks its
// answer.
func (f *fixture) checkBadRequests(t *testing.T, cases []badRequest) {
	t.Helper()
	for _, c := range cases {
		res := f.do(f.a.key, c.method, c.path, c.body)
		checkProblem(t, c.name, res, c.status)
		if c.field != "" && !slices.Contains(res.fieldsOf(t), c.field) {
			t.Errorf("%s: errors name %v, want %q: %s", c.name, res.fieldsOf(t), c.field, res.body)
		}
	}
}
