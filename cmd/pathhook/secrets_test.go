package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pathhook/pathhook"
)

// leakCheck collects the secrets of a test and every answer and log line
// that must not hold any of them.
type leakCheck struct {
	secrets map[string]string // value -> what it is
	answers []leakAnswer
}

type leakAnswer struct {
	what string
	body []byte
}

// secret adds a webhook secret: it must not show, nor its base64, which is
// also the heart of the whsec_ form that Standard Webhooks libraries take
// (and of a []byte in JSON).
func (lc *leakCheck) secret(name, s string) {
	lc.secrets[s] = name
	lc.secrets[base64.StdEncoding.EncodeToString([]byte(s))] = name + " (base64)"
}

// apiKey adds an API key: the part of it that its hint does not show must
// not show.
func (lc *leakCheck) apiKey(name, k string) {
	lc.secrets[k[8:len(k)-4]] = name + " (beyond its hint)"
}

// find returns what secret data holds, if any.
func (lc *leakCheck) find(data []byte) (string, bool) {
	for s, name := range lc.secrets {
		if bytes.Contains(data, []byte(s)) {
			return name, true
		}
	}
	return "", false
}

// call makes an API call with key and keeps its answer for the check.
func (lc *leakCheck) call(t *testing.T, s *server, key, method, path string, body any, want int, out any) {
	t.Helper()
	status, data := s.do(t, method, path, key, body)
	if status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, data)
	}
	lc.answers = append(lc.answers, leakAnswer{method + " " + path, data})
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
}

// check fails the test for every kept answer that holds a secret.
func (lc *leakCheck) check(t *testing.T) {
	t.Helper()
	for _, a := range lc.answers {
		if name, ok := lc.find(a.body); ok {
			t.Errorf("the answer of %s shows %s: %s", a.what, name, a.body)
		}
	}
}

// newTestSecret returns a strong secret of letters, digits and '-', which
// no JSON or HTML escaping changes, so a plain search finds any copy.
func newTestSecret(prefix string) string {
	return prefix + "-" + rand.Text()
}

// TestNoSecretLeaks sets, generates and rotates webhook secrets, makes API
// keys, sends deliveries and reads everything back through the API and the
// admin UI; then no answer but the one that made a secret or key, no log
// line (JSON, while running and shutting down), and no byte of the SQLite
// files may hold a webhook secret, an API key beyond its hint, or
// PATHHOOK_SECRET_KEY.
func TestNoSecretLeaks(t *testing.T) {
	t.Parallel()
	const adminKey = "leak-admin-key-0123456789abcdefXYZ"
	dir := t.TempDir()
	db := filepath.Join(dir, "pathhook.db")
	secretKey := newSecretKey()
	rawKey, err := base64.StdEncoding.DecodeString(secretKey)
	if err != nil {
		t.Fatal(err)
	}
	lc := &leakCheck{secrets: map[string]string{
		secretKey:                  "PATHHOOK_SECRET_KEY",
		hex.EncodeToString(rawKey): "PATHHOOK_SECRET_KEY (hex)",
	}}
	lc.apiKey("PATHHOOK_ADMIN_KEY", adminKey)

	// Runs after the server has stopped, so its last lines count too.
	var s *server
	t.Cleanup(func() {
		if s == nil {
			return
		}
		checkLogLines(t, lc, s.out.String())
		checkFiles(t, lc, dir)
	})
	s = startServer(t, map[string]string{"PATHHOOK_DB": db, "PATHHOOK_SECRET_KEY": secretKey, "PATHHOOK_ADMIN_KEY": adminKey},
		"--log-format", "json", "--retry-schedule", "10ms")
	rc := newReceiver(t)

	var p pathwayJSON
	lc.call(t, s, adminKey, "POST", "/v1/pathways", map[string]any{"name": "Secrets"}, 201, &p)
	enrolments, bookings, rewards := hookOf(t, p, "enrolments").ID, hookOf(t, p, "bookings").ID, hookOf(t, p, "rewards").ID
	hookURL := rc.URL + "/hook"

	// A known secret, set with PUT.
	s1 := newTestSecret("s1")
	lc.secret("the secret set with PUT", s1)
	lc.call(t, s, adminKey, "PUT", "/v1/webhooks/"+enrolments, map[string]any{"url": hookURL, "secret": s1}, 200, nil)
	lc.call(t, s, adminKey, "PATCH", "/v1/webhooks/"+enrolments, map[string]any{"enabled": true}, 200, nil)

	// A generated secret, before the URL: the one answer that shows it.
	var gen struct {
		Secret         string `json:"secret"`
		StandardSecret string `json:"standard_secret"`
	}
	status, data := s.do(t, "POST", "/v1/webhooks/"+bookings+"/secret", adminKey, nil)
	if status != 200 || json.Unmarshal(data, &gen) != nil || gen.Secret == "" {
		t.Fatalf("POST /secret: %d %s", status, data)
	}
	s2 := gen.Secret
	lc.secret("a generated secret", s2)
	if gen.StandardSecret != pathhook.StandardSecret([]byte(s2)) {
		t.Errorf("standard_secret %q, want the whsec_ form of the secret", gen.StandardSecret)
	}
	lc.call(t, s, adminKey, "PUT", "/v1/webhooks/"+bookings, map[string]any{"url": hookURL}, 200, nil)
	lc.call(t, s, adminKey, "PATCH", "/v1/webhooks/"+bookings, map[string]any{"enabled": true}, 200, nil)

	// Rotations: by generating (the old secret keeps signing for an hour),
	// and by PUT.
	status, data = s.do(t, "POST", "/v1/webhooks/"+enrolments+"/secret", adminKey, map[string]any{"grace_period_seconds": 3600})
	if status != 200 || json.Unmarshal(data, &gen) != nil {
		t.Fatalf("POST /secret: %d %s", status, data)
	}
	s3 := gen.Secret
	lc.secret("a secret generated in a rotation", s3)
	s4, s5 := newTestSecret("s4"), newTestSecret("s5")
	lc.secret("a secret set with PUT and rotated away", s4)
	lc.secret("a secret rotated in with PUT", s5)
	lc.call(t, s, adminKey, "PUT", "/v1/webhooks/"+rewards, map[string]any{"url": hookURL, "secret": s4}, 200, nil)
	lc.call(t, s, adminKey, "PUT", "/v1/webhooks/"+rewards, map[string]any{"url": hookURL, "secret": s5}, 200, nil)
	lc.call(t, s, adminKey, "PATCH", "/v1/webhooks/"+rewards, map[string]any{"enabled": true}, 200, nil)

	// Secrets in refused requests are not echoed either.
	bad := newTestSecret("s6")
	lc.secret("a refused secret", bad)
	for _, body := range []any{
		map[string]any{"url": hookURL, "secret": bad + " with spaces"},
		map[string]any{"url": hookURL, "secret": strings.Repeat(bad, 20)},
		map[string]any{"url": hookURL, "secret": bad, "unknown": true},
		map[string]any{"url": 42, "secret": bad},
	} {
		lc.call(t, s, adminKey, "PUT", "/v1/webhooks/"+enrolments, body, 422, nil)
	}
	lc.call(t, s, adminKey, "PUT", "/v1/webhooks/"+enrolments, `{"url": "`+hookURL+`", "secret": "`+bad, 400, nil)

	// An API key: its creation is the one answer that shows it.
	var created struct {
		Key  string `json:"key"`
		Hint string `json:"hint"`
	}
	status, data = s.do(t, "POST", "/v1/api-keys", adminKey, map[string]any{"name": "integration"})
	if status != 201 || json.Unmarshal(data, &created) != nil || created.Key == "" {
		t.Fatalf("POST /v1/api-keys: %d %s", status, data)
	}
	key := created.Key
	lc.apiKey("a created API key", key)

	// Deliveries: tests of each webhook and a real event. The rotated
	// webhook's deliveries carry both signatures.
	for _, h := range []string{enrolments, bookings, rewards} {
		lc.call(t, s, key, "POST", "/v1/webhooks/"+h+"/test", nil, 202, nil)
	}
	lc.call(t, s, key, "POST", "/v1/pathways/"+p.ID+"/enrolments", map[string]any{"learner": map[string]any{"id": "u-1", "email": "ada@example.com"}}, 201, nil)
	got := rc.wait(t, 4)
	for _, r := range got {
		var ev eventJSON
		if err := json.Unmarshal(r.Body, &ev); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"enrolments": s3, "bookings": s2, "rewards": s5}[ev.Category]
		checkDelivery(t, "Falkor", want, r)
		if name, ok := lc.find(append(r.Body, []byte(strings.Join(headerValues(r.Header), "\n"))...)); ok {
			t.Errorf("a %s delivery shows %s", ev.Type, name)
		}
		prev := r.Header.Get("Falkor-Webhook-Signature-Previous")
		switch ev.Category {
		case "enrolments":
			if !phpAccepts(prev, r.Body, s1) {
				t.Errorf("%s: Falkor-Webhook-Signature-Previous %q is not made with the previous secret", ev.Type, prev)
			}
		case "bookings":
			if prev != "" {
				t.Errorf("%s: Falkor-Webhook-Signature-Previous %q after a first secret", ev.Type, prev)
			}
		}
	}

	// Everything read back, with both keys. A delivery can be sent again
	// once its success is recorded, a moment after the receiver has it.
	redelivered := got[0].Header.Get("Falkor-Webhook-Delivery")
	waitDelivery(t, s, redelivered, func(d deliveryJSON) bool { return d.Status == "succeeded" })
	lc.call(t, s, key, "POST", "/v1/deliveries/"+redelivered+"/redeliver", nil, 202, nil)
	rc.wait(t, 5)
	for _, k := range []string{adminKey, key} {
		lc.call(t, s, k, "GET", "/v1/pathways", nil, 200, nil)
		lc.call(t, s, k, "GET", "/v1/pathways/"+p.ID, nil, 200, nil)
		lc.call(t, s, k, "GET", "/v1/pathways/"+p.ID+"/webhooks", nil, 200, nil)
		lc.call(t, s, k, "GET", "/v1/api-keys", nil, 200, nil)
		for _, h := range []string{enrolments, bookings, rewards} {
			lc.call(t, s, k, "GET", "/v1/webhooks/"+h, nil, 200, nil)
			var list struct {
				Data []deliveryJSON `json:"data"`
			}
			lc.call(t, s, k, "GET", "/v1/webhooks/"+h+"/deliveries", nil, 200, &list)
			for _, d := range list.Data {
				lc.call(t, s, k, "GET", "/v1/deliveries/"+d.ID, nil, 200, nil)
			}
		}
	}
	for _, path := range []string{"/metrics", "/readyz", "/healthz"} {
		lc.call(t, s, "", "GET", path, nil, 200, nil)
	}
	lc.call(t, s, "wrong-"+key, "GET", "/v1/pathways", nil, 401, nil)

	checkUI(t, lc, s, key, p.ID, enrolments, rewards, got[0].Header.Get("Falkor-Webhook-Delivery"), hookURL)
	lc.check(t)
	checkFiles(t, lc, dir) // while running, with a WAL; the log lines and the files again once stopped
}

// headerValues returns every value of h.
func headerValues(h http.Header) []string {
	var vs []string
	for _, v := range h {
		vs = append(vs, v...)
	}
	return vs
}

var (
	csrfRe      = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	newSecretRe = regexp.MustCompile(`id="new-secret"[^>]* value="([^"]+)"`)
)

// checkUI signs in to the admin UI with key and reads its pages, keeping
// them for the check; it generates a secret there, which the page after
// the generation shows once, and sets one up with a refused secret.
func checkUI(t *testing.T, lc *leakCheck, s *server, key, pathwayID, hookID, genHookID, deliveryID, hookURL string) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar}
	page := func(method, path string, form url.Values, want int) []byte {
		t.Helper()
		var resp *http.Response
		var err error
		if method == "GET" {
			resp, err = c.Get(s.URL + path)
		} else {
			resp, err = c.PostForm(s.URL+path, form)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != want {
			t.Fatalf("UI %s %s: %d, want %d: %s", method, path, resp.StatusCode, want, body)
		}
		return body
	}
	keep := func(what string, body []byte) { lc.answers = append(lc.answers, leakAnswer{"UI " + what, body}) }

	keep("POST /signin", page("POST", "/signin", url.Values{"key": {key}, "next": {"/pathways/" + pathwayID}}, 200))
	for _, path := range []string{"/pathways", "/pathways/" + pathwayID, "/webhooks/" + hookID, "/webhooks/" + hookID + "/setup", "/deliveries/" + deliveryID} {
		keep("GET "+path, page("GET", path, nil, 200))
	}
	setup := page("GET", "/webhooks/"+genHookID+"/setup", nil, 200)
	m := csrfRe.FindSubmatch(setup)
	if m == nil {
		t.Fatalf("no CSRF token on the setup page:\n%s", setup)
	}
	csrf := string(m[1])

	// The page after a generation shows the new secret once.
	shown := page("POST", "/webhooks/"+genHookID+"/secret", url.Values{"csrf": {csrf}}, 200)
	m = newSecretRe.FindSubmatch(shown)
	if m == nil {
		t.Fatalf("the page after generating a secret does not show it:\n%s", shown)
	}
	lc.secret("a secret generated in the UI", string(m[1]))
	keep("GET /webhooks/{id}/setup after the generation", page("GET", "/webhooks/"+genHookID+"/setup", nil, 200))
	keep("GET /webhooks/{id} after the generation", page("GET", "/webhooks/"+genHookID, nil, 200))

	// A refused secret is not put back into the form.
	refused := newTestSecret("ui")
	lc.secret("a secret refused by the UI", refused)
	keep("POST /webhooks/{id}/setup refused", page("POST", "/webhooks/"+hookID+"/setup",
		url.Values{"csrf": {csrf}, "url": {hookURL}, "secret": {refused + " with spaces"}}, 422))
}

// checkLogLines requires every log line to be JSON (but the plain line
// that says where serve listens) and none to hold a secret.
func checkLogLines(t *testing.T, lc *leakCheck, out string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) < 10 {
		t.Errorf("only %d log lines: %s", len(lines), out)
	}
	for _, line := range lines {
		if !json.Valid([]byte(line)) && !listeningRe.MatchString(line) {
			t.Errorf("a log line that is not JSON with --log-format json: %s", line)
		}
		if name, ok := lc.find([]byte(line)); ok {
			t.Errorf("a log line shows %s: %s", name, line)
		}
	}
}

// checkFiles requires no file in dir (the database, its WAL and shared
// memory files) to hold a secret in plain.
func checkFiles(t *testing.T, lc *leakCheck, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if name, ok := lc.find(data); ok {
			t.Errorf("%s holds %s in plain", path, name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
