package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/ui"
)

func TestSigninRejectsBadKey(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.browser(t)
	for _, key := range []string{"", "phk_nope", e.keyA + "x"} {
		res, body := b.post("/signin", url.Values{"key": {key}})
		mustStatus(t, res, body, http.StatusUnauthorized)
		if len(res.Cookies()) != 0 {
			t.Errorf("key %q: a cookie was set: %v", key, res.Cookies())
		}
		if !strings.Contains(body, `id="key-err"`) || !strings.Contains(body, "not valid") {
			t.Errorf("key %q: no error beside the key field", key)
		}
	}
	res, _ := b.get("/pathways")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/signin?next=") {
		t.Fatalf("signed out: %d to %q, want 303 to /signin", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestSessionCookieFlags(t *testing.T) {
	t.Parallel()
	for _, secure := range []bool{false, true} {
		e := setup(t, func(c *ui.Config) { c.Secure = secure })
		res, body := e.browser(t).post("/signin", url.Values{"key": {e.keyA}, "next": {"/pathways"}})
		mustStatus(t, res, body, http.StatusSeeOther)
		if got := res.Header.Get("Location"); got != "/pathways" {
			t.Errorf("redirect to %q", got)
		}
		cs := res.Cookies()
		if len(cs) != 1 {
			t.Fatalf("cookies: %v", cs)
		}
		c := cs[0]
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure != secure || len(c.Value) < 40 {
			t.Errorf("secure=%v: cookie %+v", secure, c)
		}
		if secure && c.Name != "__Host-pathhook_session" {
			t.Errorf("secure cookie name %q", c.Name)
		}
	}
	// Behind a proxy that ends TLS, as serve runs (it speaks plain HTTP).
	e := setup(t)
	res, body := e.browser(t).post("/signin", url.Values{"key": {e.keyA}, "next": {"/pathways"}}, "X-Forwarded-Proto", "https")
	mustStatus(t, res, body, http.StatusSeeOther)
	if cs := res.Cookies(); len(cs) != 1 || !cs[0].Secure || cs[0].Name != "__Host-pathhook_session" {
		t.Errorf("cookies behind a TLS proxy: %v", cs)
	}
}

func TestSigninNextStaysLocal(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for next, want := range map[string]string{
		"/webhooks/x": "/webhooks/x", "/pathways?cursor=pw_1#top": "/pathways?cursor=pw_1#top",
		"//evil.example": "/pathways", "https://evil.example/": "/pathways", "/\\evil": "/pathways",
		// Browsers drop tabs and line breaks from a URL, so each of these
		// would be //evil.example once it reached the address bar.
		"/\t/evil.example": "/pathways", "/\r\n/evil.example": "/pathways", "/\n/evil.example": "/pathways",
		"/\x00/evil.example": "/pathways", "/\x7f/evil.example": "/pathways", "/a\\..\\\\evil.example": "/pathways",
		"\t//evil.example": "/pathways", "javascript:alert(1)": "/pathways", "": "/pathways",
	} {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/signin", strings.NewReader(url.Values{"key": {e.keyA}, "next": {next}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if status, got := redirect(t, nil, req); status != http.StatusSeeOther || got != want {
			t.Errorf("POST next %q: %d to %q, want 303 to %q", next, status, got, want)
		}
	}
	// A signed-in admin who follows a sign-in link is sent on at once.
	b := e.signedIn(t, e.keyA)
	for _, next := range []string{"/%09/evil.example", "/%0d%0a/evil.example", "/%0a/evil.example", "/%5c/evil.example", "//evil.example", "/%00/evil.example"} {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/signin?next="+next, nil)
		if status, got := redirect(t, b, req); status != http.StatusSeeOther || got != "/pathways" {
			t.Errorf("GET ?next=%s: %d to %q, want 303 to /pathways", next, status, got)
		}
	}
}

// redirect sends req with b's cookies (none if b is nil) and returns the
// answer's status and Location header as they came: an http.Client would
// refuse to parse a Location that holds a control character, which is what
// the test needs to see.
func redirect(t *testing.T, b *browser, req *http.Request) (int, string) {
	t.Helper()
	if b != nil {
		for _, c := range b.c.Jar.Cookies(req.URL) {
			req.AddCookie(c)
		}
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode, res.Header.Get("Location")
}

func TestCSRFRequired(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.signedIn(t, e.keyA)
	token := b.csrf()
	form := func(csrf string) url.Values { return url.Values{"name": {"Sneaky"}, "csrf": {csrf}} }

	res, body := b.post("/pathways", url.Values{"name": {"Sneaky"}})
	mustStatus(t, res, body, http.StatusForbidden)
	// A token with its last character changed (to one it is not).
	last := "A"
	if strings.HasSuffix(token, last) {
		last = "B"
	}
	res, body = b.post("/pathways", form(token[:len(token)-1]+last))
	mustStatus(t, res, body, http.StatusForbidden)
	res, body = b.post("/pathways", form(token), "Origin", "https://evil.example")
	mustStatus(t, res, body, http.StatusForbidden)
	res, body = b.post("/pathways", form(token), "Sec-Fetch-Site", "cross-site")
	mustStatus(t, res, body, http.StatusForbidden)
	res, body = b.post("/signin", url.Values{"key": {e.keyA}}, "Origin", "https://evil.example")
	mustStatus(t, res, body, http.StatusForbidden)

	if ps, _, _ := e.svc.Pathways(context.Background(), e.orgA, pathhook.Page{}); len(ps) != 0 {
		t.Fatalf("a rejected form created %d pathways", len(ps))
	}
	res, body = b.post("/pathways", form(token), "Origin", e.srv.URL)
	mustStatus(t, res, body, http.StatusSeeOther)

	// Another session's token is no good either.
	other := e.signedIn(t, e.keyA)
	res, body = other.post("/pathways", form(token))
	mustStatus(t, res, body, http.StatusForbidden)
}

func TestSessionExpiresAndSignsOut(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *ui.Config) { c.SessionTTL = time.Hour })
	b := e.signedIn(t, e.keyA)
	res, body := b.get("/pathways")
	mustStatus(t, res, body, http.StatusOK)
	res, _ = b.get("/signin?next=/pathways")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/pathways" {
		t.Errorf("signed in, /signin answers %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	e.clock.Add(time.Hour)
	res, _ = b.get("/pathways")
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("expired session: status %d", res.StatusCode)
	}

	b = e.signedIn(t, e.keyA)
	res, body = b.submit("/signout", nil)
	mustStatus(t, res, body, http.StatusSeeOther)
	if c := res.Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Errorf("sign-out cookie: %v", c)
	}
	res, _ = b.get("/pathways")
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("signed out: status %d", res.StatusCode)
	}
}

func TestRevokedKeyEndsSession(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.signedIn(t, e.keyA)
	k, err := e.svc.Authenticate(context.Background(), e.keyA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RevokeAPIKey(context.Background(), e.orgA, k.ID); err != nil {
		t.Fatal(err)
	}
	res, _ := b.get("/pathways")
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoked key: status %d", res.StatusCode)
	}
}

// TestFormBodyLimit: a form over 1 MiB is 413 and changes nothing, signed
// in or not; exactly 1 MiB is read.
func TestFormBodyLimit(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.signedIn(t, e.keyA)
	token := b.csrf()
	form := func(size int) string {
		head := url.Values{"csrf": {token}, "name": {"Big"}}.Encode() + "&description="
		return head + strings.Repeat("a", size-len(head))
	}
	post := func(path, body string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return b.do(req)
	}
	res, body := post("/pathways", form(1<<20+1))
	mustStatus(t, res, body, http.StatusRequestEntityTooLarge)
	if !strings.Contains(body, "larger than 1 MiB") {
		t.Errorf("413 page does not say why:\n%s", short(body))
	}
	res, body = e.browser(t).post("/signin", url.Values{"key": {e.keyA}, "next": {strings.Repeat("a", 1<<20)}})
	mustStatus(t, res, body, http.StatusRequestEntityTooLarge)
	if ps, _, _ := e.svc.Pathways(context.Background(), e.orgA, pathhook.Page{}); len(ps) != 0 {
		t.Fatalf("a form over 1 MiB created %d pathways", len(ps))
	}
	// Exactly 1 MiB is read: its description is too long for a pathway,
	// which the form says.
	res, body = post("/pathways", form(1<<20))
	mustStatus(t, res, body, http.StatusUnprocessableEntity)
}

// TestSigninFailuresAreBounded: after ten failed sign-ins in a minute from
// one address, its sign-ins are refused, even with a good key, until the
// minute has passed.
func TestSigninFailuresAreBounded(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.browser(t)
	for i := range 10 {
		res, body := b.post("/signin", url.Values{"key": {fmt.Sprintf("phk_wrong%d", i)}})
		mustStatus(t, res, body, http.StatusUnauthorized)
	}
	res, body := b.post("/signin", url.Values{"key": {e.keyA}})
	mustStatus(t, res, body, http.StatusTooManyRequests)
	if !strings.Contains(body, "Too many failed sign-ins") || len(res.Cookies()) != 0 {
		t.Errorf("the eleventh sign-in: %q, cookies %v", short(body), res.Cookies())
	}
	e.clock.Add(time.Minute)
	res, body = b.post("/signin", url.Values{"key": {e.keyA}})
	mustStatus(t, res, body, http.StatusSeeOther)
}

// TestADatabaseErrorKeepsTheSession: a page whose check of the session's
// key cannot read the database is an error page, not a sign-out.
func TestADatabaseErrorKeepsTheSession(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.signedIn(t, e.keyA)
	e.db.Close()
	res, body := b.get("/pathways")
	mustStatus(t, res, body, http.StatusInternalServerError)
}

// unreachableSessions is a session store whose database goes out of
// reach when down is set.
type unreachableSessions struct {
	ui.SessionStore
	down atomic.Bool
}

func (s *unreachableSessions) UISession(ctx context.Context, idHash string) (*pathhook.UISession, error) {
	if s.down.Load() {
		return nil, pathhook.Errorf(pathhook.EUNAVAILABLE, "the database cannot be reached right now; nothing was changed, try again")
	}
	return s.SessionStore.UISession(ctx, idHash)
}

// TestADatabaseOutOfReachSaysSo: a page while the database is out of
// reach is a 503 that says so, not "something went wrong", and keeps the
// session.
func TestADatabaseOutOfReachSaysSo(t *testing.T) {
	t.Parallel()
	e := setup(t)
	sessions := &unreachableSessions{SessionStore: e.db}
	srv := httptest.NewServer(ui.New(ui.Config{Service: e.svc, Platform: "ByteKast", Clock: e.clock.Now, Sessions: sessions}))
	t.Cleanup(srv.Close)
	br := e.browser(t)
	br.base = srv.URL
	res, body := br.post("/signin", url.Values{"key": {e.keyA}})
	mustStatus(t, res, body, http.StatusSeeOther)
	sessions.down.Store(true)
	res, body = br.get("/pathways")
	mustStatus(t, res, body, http.StatusServiceUnavailable)
	if !strings.Contains(body, "cannot be reached right now") {
		t.Errorf("the page does not say the database is out of reach: %s", short(body))
	}
	sessions.down.Store(false)
	res, body = br.get("/pathways")
	mustStatus(t, res, body, http.StatusOK)
}

// TestSessionsInTheStoreServeEveryNode: two UIs on one database, as two
// nodes, share their sessions: a browser signed in on one is signed in on
// the other, a message left by one shows on the other, and signing out on
// one signs out of both.
func TestSessionsInTheStoreServeEveryNode(t *testing.T) {
	t.Parallel()
	e := setup(t)
	node := func() string {
		srv := httptest.NewServer(ui.New(ui.Config{Service: e.svc, Platform: "ByteKast", Clock: e.clock.Now, Sessions: e.db}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	a, b := node(), node()
	br := e.browser(t)
	br.base = a
	res, body := br.post("/signin", url.Values{"key": {e.keyA}})
	mustStatus(t, res, body, http.StatusSeeOther)
	br.base = b
	res, body = br.get("/pathways")
	mustStatus(t, res, body, http.StatusOK)
	res, body = br.submit("/pathways", url.Values{"name": {"Shared"}})
	mustStatus(t, res, body, http.StatusSeeOther)
	br.base = a
	if _, body = br.get(res.Header.Get("Location")); !strings.Contains(body, "Pathway created") {
		t.Errorf("the message left by one node is not on the other: %s", short(body))
	}
	res, body = br.submit("/signout", nil)
	mustStatus(t, res, body, http.StatusSeeOther)
	br.base = b
	res, _ = br.get("/pathways")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/signin") {
		t.Errorf("signed out on one node, the other answers %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
}
