package ui_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/delivery"
	"github.com/pathhook/pathhook/signature"
	"github.com/pathhook/pathhook/sqlite"
	"github.com/pathhook/pathhook/sqlstore"
	"github.com/pathhook/pathhook/ui"
)

// chromiumPath returns the first Chromium or Chrome binary in PATH.
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// live is the whole product on 127.0.0.1: the UI on a real SQLite store,
// the delivery engine, and a receiver that checks signatures.
type live struct {
	db       *sqlstore.DB
	svc      *pathhook.Service
	ui       *httptest.Server
	receiver *receiver
	key      string
	orgID    string
}

// receiver is an integrator's endpoint: it checks each delivery's
// signature with the secret it was told, and answers 200.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	got    []http.Header
	bad    int // deliveries whose signature did not match
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.got = append(rc.got, r.Header.Clone())
	if r.Header.Get("ByteKast-Webhook-Signature") != signature.Sign([]byte(rc.secret), body) {
		rc.bad++
		http.Error(w, `{"error":"bad signature"}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"received":true}`)
}

func startLive(t *testing.T) *live {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "live.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	engine := delivery.New(delivery.Config{Store: db, Platform: "ByteKast", Timeout: 5 * time.Second,
		Schedule: []time.Duration{50 * time.Millisecond}, Logger: log})
	svc := pathhook.NewService(pathhook.Config{Store: db, Dispatcher: engine, Lease: engine.LeaseOwner(), AllowHTTP: true})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = engine.Run(ctx)
	}()
	l := &live{db: db, svc: svc, receiver: &receiver{}}
	l.orgID, l.key = mustOrgKey(t, svc, "acme")
	l.receiver.srv = httptest.NewServer(l.receiver)
	l.ui = httptest.NewServer(ui.New(ui.Config{Service: svc, Logger: log, Platform: "ByteKast"}))
	t.Cleanup(func() {
		l.ui.Close()
		cancel()
		<-done
		l.receiver.srv.Close()
		db.Close()
	})
	return l
}

// chrome is a headless Chromium tab that saves screenshots into dir.
type chrome struct {
	t   *testing.T
	ctx context.Context
	dir string
}

func startChrome(t *testing.T) *chrome {
	t.Helper()
	path := chromiumPath()
	if path == "" && os.Getenv("PATHHOOK_REQUIRE_CHROMIUM") == "1" {
		t.Fatal("PATHHOOK_REQUIRE_CHROMIUM=1 but no chromium is in PATH")
	}
	if path == "" {
		t.Skip("no chromium, chromium-browser or google-chrome in PATH")
	}
	dir := os.Getenv("PATHHOOK_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// The first Run starts the browser; it must not have a deadline.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return &chrome{t: t, ctx: ctx, dir: dir}
}

// do runs steps with a time limit.
func (c *chrome) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
}

// load runs steps that load a page and fails unless it answers want.
func (c *chrome) load(what string, want int64, steps ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
	if res.Status != want {
		c.t.Fatalf("%s: status %d, want %d", what, res.Status, want)
	}
}

// fill clears the field with the given id and types value into it.
func (c *chrome) fill(id, value string) {
	c.t.Helper()
	c.eval(`(document.getElementById("` + id + `").value = "", "")`)
	c.do("type into "+id, chromedp.SendKeys(chromedp.ID(id), value))
}

func (c *chrome) text(sel string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		c.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (c *chrome) eval(js string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		c.t.Fatalf("eval %s: %v", js, err)
	}
	return s
}

// shot saves a full-page screenshot as dir/name.png.
func (c *chrome) shot(name string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		c.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(c.dir, name+".png"), png, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// waitFor reloads the page until js is true, for what the engine does in
// the background.
func (c *chrome) waitFor(what, js string) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for c.eval("String("+js+")") != "true" {
		if time.Now().After(deadline) {
			c.t.Fatalf("waiting for %s: gave up", what)
		}
		time.Sleep(100 * time.Millisecond)
		c.load("reload", 200, chromedp.Reload())
	}
}
