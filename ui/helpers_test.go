package ui_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/sqlite"
	"github.com/pathhook/pathhook/sqlstore"
	"github.com/pathhook/pathhook/ui"
)

// fakeClock is a clock that tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a UI on a real SQLite store, with two orgs and a key for each.
type env struct {
	db         *sqlstore.DB
	svc        *pathhook.Service
	srv        *httptest.Server
	clock      *fakeClock
	orgA, orgB string
	keyA, keyB string
}

func setup(t *testing.T, mutate ...func(*ui.Config)) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ui.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{db: db, svc: pathhook.NewService(pathhook.Config{Store: db, AllowHTTP: true}),
		clock: &fakeClock{t: time.Now()}}
	e.orgA, e.keyA = mustOrgKey(t, e.svc, "org-a")
	e.orgB, e.keyB = mustOrgKey(t, e.svc, "org-b")
	cfg := ui.Config{Service: e.svc, Platform: "ByteKast", Clock: e.clock.Now}
	for _, m := range mutate {
		m(&cfg)
	}
	e.srv = httptest.NewServer(ui.New(cfg))
	t.Cleanup(e.srv.Close)
	return e
}

func mustOrgKey(t *testing.T, svc *pathhook.Service, name string) (orgID, key string) {
	t.Helper()
	o, err := svc.EnsureOrg(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	key, _, err = svc.CreateAPIKey(context.Background(), o.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	return o.ID, key
}

// browser is an HTTP client with cookies that does not follow redirects,
// so that tests see them.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func (e *env) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: e.srv.URL, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// signedIn returns a browser signed in with key.
func (e *env) signedIn(t *testing.T, key string) *browser {
	t.Helper()
	b := e.browser(t)
	res, _ := b.post("/signin", url.Values{"key": {key}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: status %d", res.StatusCode)
	}
	return b
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return res, string(body)
}

func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	return b.do(req)
}

// post sends a form as is; submit adds the CSRF token of the page at
// tokenFrom.
func (b *browser) post(path string, form url.Values, header ...string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the session, from the pathways page.
func (b *browser) csrf() string {
	b.t.Helper()
	_, body := b.get("/pathways")
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatal("no CSRF token on /pathways")
	}
	return m[1]
}

// submit posts form with the session's CSRF token.
func (b *browser) submit(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", b.csrf())
	return b.post(path, form)
}

// mustStatus fails the test unless res has the wanted status.
func mustStatus(t *testing.T, res *http.Response, body string, want int) {
	t.Helper()
	if res.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d\n%s", res.Request.Method, res.Request.URL.Path, res.StatusCode, want, short(body))
	}
}

func short(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}

// world is what a test org holds: a pathway with its webhooks, an activity,
// and a delivery that has ended.
type world struct {
	pathway  *pathhook.Pathway
	hook     pathhook.Webhook
	delivery string
}

func (e *env) mustWorld(t *testing.T, orgID string) world {
	t.Helper()
	ctx := context.Background()
	p, err := e.svc.CreatePathway(ctx, orgID, pathhook.PathwayInput{Name: "Secret Garden"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateActivity(ctx, orgID, p.ID, pathhook.ActivityInput{Title: "Welcome", Kind: "online"}); err != nil {
		t.Fatal(err)
	}
	hook := p.Webhooks[0]
	secret := strings.Repeat("s", 32)
	if _, err := e.svc.SetupWebhook(ctx, orgID, hook.ID, pathhook.WebhookSetup{URL: "http://127.0.0.1:9/hook", Secret: &secret}); err != nil {
		t.Fatal(err)
	}
	on := true
	if _, err := e.svc.SwitchWebhook(ctx, orgID, hook.ID, pathhook.WebhookSwitch{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	id, err := e.svc.TestWebhook(ctx, orgID, hook.ID, pathhook.TestInput{})
	if err != nil {
		t.Fatal(err)
	}
	return world{pathway: p, hook: hook, delivery: id}
}
