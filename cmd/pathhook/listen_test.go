package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pathhook/pathhook/signature"
)

// listenOutput collects what runListen writes from its goroutines.
type listenOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *listenOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

// take returns what was written since the last take.
func (o *listenOutput) take() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.b.String()
	o.b.Reset()
	return s
}

func (o *listenOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

var listenAddrRe = regexp.MustCompile(`^listening on (http://127\.0\.0\.1:\d+)\n`)

// startListen runs pathhook listen with args on a free port until the test
// ends, and returns its URL and its stdout.
func startListen(t *testing.T, args ...string) (string, *listenOutput) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &listenOutput{}, &listenOutput{}
	done := make(chan error, 1)
	go func() { done <- runListen(ctx, append([]string{"--port", "0"}, args...), stdout, stderr) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runListen returned %v after its context ended, want nil", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The address is the first thing written, so polling its line is
		// waiting for readiness, not for time to pass.
		if m := listenAddrRe.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], stdout
		}
		select {
		case err := <-done:
			t.Fatalf("runListen ended before listening: %v; stderr %q", err, stderr.String())
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("runListen did not print its address; stderr %q", stderr.String())
		}
	}
}

// signedDelivery is one request as pathhook's delivery engine sends it.
type signedDelivery struct {
	platform string
	secret   []byte // signs both schemes unless the fields below say otherwise
	body     []byte
	sentAt   time.Time
	noMain   bool
	noStd    bool
}

// header returns the headers of d as CONTRACT section 4 lists them, with
// the header names spelled as the engine does.
func (d signedDelivery) header() http.Header {
	p := d.platform + "-Webhook-"
	h := http.Header{}
	h["Content-Type"] = []string{"application/json"}
	h["User-Agent"] = []string{d.platform + "-Webhooks/test"}
	h[p+"Event"] = []string{"enrolment.completed"}
	h[p+"Id"] = []string{"evt_01TEST"}
	h[p+"Delivery"] = []string{"dlv_01TEST"}
	h[p+"Attempt"] = []string{"2"}
	if !d.noMain {
		h[p+"Signature"] = []string{signature.Sign(d.secret, d.body)}
	}
	if !d.noStd {
		h["webhook-id"] = []string{"evt_01TEST"}
		h["webhook-timestamp"] = []string{strconv.FormatInt(d.sentAt.Unix(), 10)}
		h["webhook-signature"] = []string{signature.SignStandard(d.secret, "evt_01TEST", d.sentAt, d.body)}
	}
	return h
}

const listenBody = `{"id":"evt_01TEST","type":"enrolment.completed","category":"enrolments","created_at":"2026-11-29T10:00:00.123Z","test":false,"pathway":{"id":"pw_1","name":"Onboarding"},"data":{"learner":{"id":"l_1","email":"ada@example.com","name":"Zoë"}}}`

// postToListen sends body with header to url and returns the status and answer.
func postToListen(t *testing.T, url string, h http.Header, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer)
}

func TestListen(t *testing.T) {
	t.Parallel()
	secret := []byte("listen-secret-0123456789abcdef")
	url, out := startListen(t, "--secret", string(secret))
	now := time.Now()
	body := []byte(listenBody)
	tests := []struct {
		name       string
		d          signedDelivery
		body       []byte // sent instead of d.body when set: a tampered delivery
		wantStatus int
		wantOut    []string
	}{
		{"both schemes", signedDelivery{platform: "Falkor", secret: secret, body: body, sentAt: now}, nil, http.StatusOK, []string{
			"--> enrolment.completed  evt_01TEST\n",
			"  delivery  dlv_01TEST  attempt 2\n",
			"  verified  yes (Falkor-Webhook-Signature, webhook-signature)\n",
			"  {\n    \"id\": \"evt_01TEST\",\n",
			"        \"name\": \"Zoë\"\n",
			"  <-- 200 OK\n",
		}},
		{"main scheme only", signedDelivery{platform: "Falkor", secret: secret, body: body, sentAt: now, noStd: true}, nil, http.StatusOK,
			[]string{"  verified  yes (Falkor-Webhook-Signature)\n"}},
		{"Standard Webhooks only", signedDelivery{platform: "Falkor", secret: secret, body: body, sentAt: now, noMain: true}, nil, http.StatusOK,
			[]string{"  verified  yes (webhook-signature)\n"}},
		{"tampered", signedDelivery{platform: "Falkor", secret: secret, body: body, sentAt: now}, append([]byte(" "), body...), http.StatusUnauthorized,
			[]string{"  verified  no: Falkor-Webhook-Signature: signature mismatch; webhook-signature: signature mismatch\n", "<-- 401 Unauthorized\n"}},
		{"wrong secret", signedDelivery{platform: "Falkor", secret: []byte("not-the-listen-secret-0123456"), body: body, sentAt: now}, nil, http.StatusUnauthorized,
			[]string{"  verified  no: Falkor-Webhook-Signature: signature mismatch"}},
		{"replayed Standard Webhooks message", signedDelivery{platform: "Falkor", secret: secret, body: body, sentAt: now.Add(-time.Hour), noMain: true}, nil,
			http.StatusUnauthorized, []string{"  verified  no: webhook-signature: signature timestamp outside tolerance\n"}},
		{"another platform", signedDelivery{platform: "ByteKast", secret: secret, body: body, sentAt: now, noStd: true}, nil, http.StatusUnauthorized,
			[]string{"--> enrolment.completed  evt_01TEST\n", "try --platform Bytekast"}},
		{"not JSON", signedDelivery{platform: "Falkor", secret: secret, body: []byte("a=1\x1b[2J"), sentAt: now}, nil, http.StatusOK,
			[]string{"--> enrolment.completed", `(not JSON, 7 bytes) "a=1\x1b[2J"`}},
	}
	for _, tt := range tests {
		// Not parallel: each case reads the output its request printed.
		t.Run(tt.name, func(t *testing.T) {
			out.take()
			sent := tt.d.body
			if tt.body != nil {
				sent = tt.body
			}
			status, answer := postToListen(t, url, tt.d.header(), sent)
			if status != tt.wantStatus {
				t.Fatalf("status = %d (%q), want %d", status, answer, tt.wantStatus)
			}
			printed := out.take()
			for _, want := range tt.wantOut {
				if !strings.Contains(printed, want) {
					t.Errorf("output lacks %q:\n%s", want, printed)
				}
			}
		})
	}
}

func TestListenRefusesOtherMethods(t *testing.T) {
	t.Parallel()
	url, _ := startListen(t, "--secret", "listen-secret-0123456789abcdef")
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Fatalf("GET = %d, Allow %q; want 405 and POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestListenForwards(t *testing.T) {
	t.Parallel()
	type forwarded struct {
		header http.Header
		body   []byte
	}
	got := make(chan forwarded, 10)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- forwarded{r.Header.Clone(), body}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"queued":true}`)
	}))
	t.Cleanup(target.Close)
	secret := []byte("listen-secret-0123456789abcdef")
	url, out := startListen(t, "--secret", string(secret), "--platform", "ByteKast", "--forward-to", target.URL+"/hooks/bytekast")
	d := signedDelivery{platform: "ByteKast", secret: secret, body: []byte(listenBody), sentAt: time.Now()}

	status, answer := postToListen(t, url, d.header(), d.body)
	if status != http.StatusAccepted || answer != `{"queued":true}` {
		t.Fatalf("answer = %d %q, want the target's 202 relayed", status, answer)
	}
	f := <-got
	if !bytes.Equal(f.body, d.body) {
		t.Errorf("target got body %q, want it byte for byte", f.body)
	}
	for name, values := range d.header() {
		if g := f.header.Get(name); g != values[0] {
			t.Errorf("target got %s = %q, want %q", name, g, values[0])
		}
	}
	if printed := out.take(); !strings.Contains(printed, "<-- 202 Accepted (from "+target.URL+"/hooks/bytekast)") {
		t.Errorf("output lacks the relayed status:\n%s", printed)
	}

	// A bad delivery is refused here and never reaches the target.
	if status, _ := postToListen(t, url, d.header(), []byte(`{"forged":true}`)); status != http.StatusUnauthorized {
		t.Fatalf("forged delivery: status %d, want 401", status)
	}
	select {
	case f := <-got:
		t.Fatalf("a forged delivery was forwarded: %q", f.body)
	default:
	}
}

func TestListenForwardTargetDown(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	secret := []byte("listen-secret-0123456789abcdef")
	url, out := startListen(t, "--secret", string(secret), "--forward-to", down.URL)
	d := signedDelivery{platform: "Falkor", secret: secret, body: []byte(listenBody), sentAt: time.Now()}
	status, answer := postToListen(t, url, d.header(), d.body)
	if status != http.StatusBadGateway || !strings.HasPrefix(answer, "forward failed: ") {
		t.Fatalf("answer = %d %q, want 502 forward failed", status, answer)
	}
	if printed := out.take(); !strings.Contains(printed, "<-- 502 Bad Gateway (forward failed: ") {
		t.Errorf("output lacks the failure:\n%s", printed)
	}
}

// TestListenPrint pins the whole printed form of a delivery.
func TestListenPrint(t *testing.T) {
	t.Parallel()
	secret := []byte("listen-secret-0123456789abcdef")
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.Local)
	var out bytes.Buffer
	l := newListener(secret, "Falkor", "", &out, func() time.Time { return now })
	body := []byte(`{"id":"evt_9","type":"reward.unlocked","test":true,"data":{"points":50}}`)
	d := signedDelivery{platform: "Falkor", secret: secret, body: body, sentAt: now}
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	for name, values := range d.header() {
		req.Header[http.CanonicalHeaderKey(name)] = values // as a server reads them off the wire
	}
	req.Header.Del("Falkor-Webhook-Event") // the type then comes from the body
	rec := httptest.NewRecorder()
	l.ServeHTTP(rec, req)
	want := `2026-11-29 10:00:00  --> reward.unlocked  evt_01TEST  (test)
  delivery  dlv_01TEST  attempt 2
  verified  yes (Falkor-Webhook-Signature, webhook-signature)
  {
    "id": "evt_9",
    "type": "reward.unlocked",
    "test": true,
    "data": {
      "points": 50
    }
  }
  <-- 200 OK

`
	if rec.Code != http.StatusOK || out.String() != want {
		t.Fatalf("status %d, printed:\n%s\nwant:\n%s", rec.Code, out.String(), want)
	}
}

// TestListenPrintsNoEscapes: an unsigned request whose JSON names an event
// type and id with terminal escapes in them gets them quoted, not sent to
// the terminal raw (any web page can post to localhost).
func TestListenPrintsNoEscapes(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	l := newListener([]byte("listen-secret-0123456789abcdef"), "Falkor", "", &out, time.Now)
	body := `{"type":"\u001b[31mEVIL","id":"\u001b]0;pwned\u0007 \u202e"}`
	l.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body)))
	if got := out.String(); strings.ContainsAny(got, "\x1b\x07\u202e") || !strings.Contains(got, `"\x1b[31mEVIL"`) {
		t.Errorf("printed %q", got)
	}
}

func TestListenBadFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{nil, "--secret (or --secret-file) is required"},
		{[]string{"--secret", "s-0123456789abcdef0123456789", "--platform", "Falkor Inc"}, `--platform "Falkor Inc"`},
		{[]string{"--secret", "s-0123456789abcdef0123456789", "--port", "70000"}, "--port 70000"},
		{[]string{"--secret", "s-0123456789abcdef0123456789", "--forward-to", "localhost:3000"}, "--forward-to"},
		{[]string{"--secret", "s-0123456789abcdef0123456789", "--forward-to", "ftp://127.0.0.1/x"}, "--forward-to"},
		{[]string{"--secret", "s-0123456789abcdef0123456789", "now"}, `unexpected argument "now"`},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		err := runListen(context.Background(), tt.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("runListen %q = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
	var stdout, stderr bytes.Buffer
	if err := runListen(context.Background(), []string{"-h"}, &stdout, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("runListen -h = %v, want flag.ErrHelp", err)
	}
}
