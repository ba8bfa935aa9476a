package delivery

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/signature"
)

// rawRequest serves one request on 127.0.0.1 and returns its header lines
// exactly as they came over the wire, and its body.
func rawRequest(t *testing.T, send func(url string)) (lines []string, body []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		length := 0
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Error(err)
				return
			}
			line = strings.TrimRight(line, "\r\n")
			if line == "" {
				break
			}
			lines = append(lines, line)
			if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
				length, _ = strconv.Atoi(v)
			}
		}
		body = make([]byte, length)
		if _, err := io.ReadFull(r, body); err != nil {
			t.Error(err)
		}
		_, _ = io.WriteString(conn, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
	}()
	send("http://" + ln.Addr().String() + "/hook")
	<-done
	return lines, body
}

func TestAttemptSendsTheContractHeadersOnTheWire(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 10, 0, 0, 123e6, time.UTC)
	s := newSender("ByteKast", NewTransport(nil, 5*time.Second, 4), 5*time.Second, func() time.Time { return now })
	job := newJob("wh_a", 7, "")
	job.Attempt = 3
	job.Secrets = [][]byte{[]byte("current-secret-0123456789abc"), []byte("previous-secret-0123456789ab")}
	var a pathhook.Attempt
	lines, body := rawRequest(t, func(url string) {
		job.URL = url
		a, _ = s.send(context.Background(), &job)
	})
	if string(body) != string(job.Body) {
		t.Errorf("body %q, want %q", body, job.Body)
	}
	if a.ResponseStatus == nil || *a.ResponseStatus != 204 || a.Error != nil || a.N != 3 || !a.StartedAt.Equal(now) {
		t.Errorf("attempt %+v", a)
	}
	std := signature.SignStandard(job.Secrets[0], job.EventID, now, job.Body) + " " +
		signature.SignStandard(job.Secrets[1], job.EventID, now, job.Body)
	want := []string{
		"POST /hook HTTP/1.1",
		"User-Agent: ByteKast-Webhooks/" + pathhook.Version,
		"Content-Length: " + strconv.Itoa(len(job.Body)),
		"ByteKast-Webhook-Attempt: 3",
		"ByteKast-Webhook-Delivery: " + job.DeliveryID,
		"ByteKast-Webhook-Event: enrolment.created",
		"ByteKast-Webhook-Id: " + job.EventID,
		"ByteKast-Webhook-Signature: " + signature.Sign(job.Secrets[0], job.Body),
		"ByteKast-Webhook-Signature-Previous: " + signature.Sign(job.Secrets[1], job.Body),
		"Content-Type: application/json",
		"webhook-id: " + job.EventID,
		"webhook-signature: " + std,
		"webhook-timestamp: " + strconv.FormatInt(now.Unix(), 10),
	}
	host := lines[1]
	got := append(lines[:1:1], lines[2:]...)
	slices.Sort(got[3:])
	slices.Sort(want[3:])
	if !strings.HasPrefix(host, "Host: 127.0.0.1:") || !slices.Equal(got, want) {
		t.Errorf("request head:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestSignatureMatchesTheSeedPHPReceiver repeats, step by step, what the
// seed's PHP receiver does: explode('sha256=', $header), then compare [1]
// with hash_hmac('sha256', $body, $secret).
func TestSignatureMatchesTheSeedPHPReceiver(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s := newSender("Falkor", NewTransport(nil, 5*time.Second, 4), 5*time.Second, time.Now)
	job := newJob("wh_a", 1, rc.URL)
	s.send(context.Background(), &job)
	r := rc.got()[0]
	header := r.header.Get("Falkor-Webhook-Signature") // $_SERVER['HTTP_FALKOR_WEBHOOK_SIGNATURE']
	parts := strings.Split(header, "sha256=")          // explode('sha256=', ...)
	m := hmac.New(sha256.New, job.Secrets[0])          // hash_hmac('sha256', $payloadData, $yourSecretToken)
	m.Write(r.body)
	if len(parts) != 2 || parts[0] != "" || parts[1] != hex.EncodeToString(m.Sum(nil)) {
		t.Fatalf("signature header %q does not match the body", header)
	}
}

func TestAttemptKeepsResponseBodyAsText(t *testing.T) {
	t.Parallel()
	var conns atomic.Int32
	big := strings.Repeat("x", pathhook.MaxResponseBody+100<<10)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/bad":
			_, _ = w.Write([]byte("caf\xe9\x00ok"))
		case "/big":
			_, _ = io.WriteString(w, big)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	s := newSender("Falkor", NewTransport(nil, 5*time.Second, 4), 5*time.Second, time.Now)

	job := newJob("wh_a", 1, srv.URL+"/bad")
	if a, _ := s.send(context.Background(), &job); a.ResponseBody != "caf\uFFFD\uFFFDok" {
		t.Errorf("body %q, want invalid UTF-8 and NUL replaced", a.ResponseBody)
	}
	job.URL = srv.URL + "/big"
	for range 2 {
		a, _ := s.send(context.Background(), &job)
		if len(a.ResponseBody) != pathhook.MaxResponseBody || a.Error != nil {
			t.Errorf("kept %d bytes of the body (error %v), want %d", len(a.ResponseBody), a.Error, pathhook.MaxResponseBody)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("3 attempts took %d connections; want the first reused", n)
	}
}

func TestAttemptWithoutSecretIsNotSent(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s := newSender("Falkor", NewTransport(nil, 5*time.Second, 4), 5*time.Second, time.Now)
	job := newJob("wh_a", 1, rc.URL)
	job.Secrets = nil
	if a, _ := s.send(context.Background(), &job); a.Error == nil || rc.count() != 0 {
		t.Fatalf("sent unsigned: %+v", a)
	}
}

func TestOutcome(t *testing.T) {
	t.Parallel()
	end := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	code := func(c int) *int { return &c }
	schedule := []time.Duration{time.Minute}
	tests := []struct {
		name    string
		attempt int
		manual  bool
		status  *int
		want    string
		next    time.Duration
		disable bool
	}{
		{"200", 1, false, code(200), pathhook.DeliverySucceeded, 0, false},
		{"299", 1, false, code(299), pathhook.DeliverySucceeded, 0, false},
		{"204 manual", 1, true, code(204), pathhook.DeliverySucceeded, 0, false},
		{"500 retried", 1, false, code(500), pathhook.DeliveryPending, time.Minute, false},
		{"301 retried", 1, false, code(301), pathhook.DeliveryPending, time.Minute, false},
		{"no answer retried", 1, false, nil, pathhook.DeliveryPending, time.Minute, false},
		{"500 last", 2, false, code(500), pathhook.DeliveryFailed, 0, false},
		{"500 manual", 1, true, code(500), pathhook.DeliveryFailed, 0, false},
		{"410 disables", 1, false, code(410), pathhook.DeliveryFailed, 0, true},
		{"410 manual disables", 1, true, code(410), pathhook.DeliveryFailed, 0, true},
	}
	for _, tt := range tests {
		job := pathhook.Job{DeliveryID: "dlv_1", WebhookID: "wh_1", Attempt: tt.attempt, Manual: tt.manual}
		r := outcome(&job, pathhook.Attempt{N: tt.attempt, ResponseStatus: tt.status}, answer{}, schedule, end, 0.5)
		var next time.Duration
		if !r.NextAttemptAt.IsZero() {
			next = r.NextAttemptAt.Sub(end)
		}
		if r.Status != tt.want || next != tt.next || (r.DisableReason != "") != tt.disable || r.DeliveryID != "dlv_1" || r.WebhookID != "wh_1" {
			t.Errorf("%s: got %+v", tt.name, r)
		}
	}
}

// roundTripFunc is a RoundTripper made of a function, for transports that
// misbehave.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestAttemptReportsWhatTheTransportDoes covers what the sender says for
// answers and failures that http.Client used to shape: a 3xx whose
// Location cannot be parsed is still the answer, plain HTTP on an https
// URL is named, a transport's own timeout says so, and a transport that
// returns no response or no body fails the attempt rather than the worker.
func TestAttemptReportsWhatTheTransportDoes(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "http://[::1")
		w.WriteHeader(http.StatusFound)
	}))
	defer srv.Close()
	send := func(rt http.RoundTripper, url string) pathhook.Attempt {
		t.Helper()
		s := newSender("Falkor", rt, 5*time.Second, time.Now)
		job := newJob("wh_a", 1, url)
		a, _ := s.send(context.Background(), &job)
		return a
	}
	errText := func(a pathhook.Attempt) string {
		if a.Error == nil {
			return ""
		}
		return *a.Error
	}

	if a := send(NewTransport(nil, 5*time.Second, 4), srv.URL); a.ResponseStatus == nil || *a.ResponseStatus != http.StatusFound || a.Error != nil {
		t.Errorf("a 302 with a bad Location: status %v, error %q; want the 302 as the answer", a.ResponseStatus, errText(a))
	}
	if a := send(NewTransport(nil, 5*time.Second, 4), strings.Replace(srv.URL, "http:", "https:", 1)); errText(a) != http.ErrSchemeMismatch.Error() {
		t.Errorf("https to a plain HTTP server: error %q, want %q", errText(a), http.ErrSchemeMismatch)
	}
	slow := &http.Transport{ResponseHeaderTimeout: time.Millisecond}
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // then the server notices the client leave
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer hang.Close()
	if a := send(slow, hang.URL); !strings.HasPrefix(errText(a), "timed out") {
		t.Errorf("a transport's own timeout: error %q, want it said", errText(a))
	}
	none := roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, nil })
	if a := send(none, srv.URL); errText(a) != "the transport returned no response" {
		t.Errorf("no response: error %q", errText(a))
	}
	noBody := roundTripFunc(func(*http.Request) (*http.Response, error) { return &http.Response{StatusCode: http.StatusOK}, nil })
	if a := send(noBody, srv.URL); a.ResponseStatus == nil || *a.ResponseStatus != http.StatusOK || a.Error != nil {
		t.Errorf("a response without a body: status %v, error %q", a.ResponseStatus, errText(a))
	}
}
