package delivery

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/signature"
)

// maxDrain is how much of a response beyond MaxResponseBody an attempt
// reads and discards so that the connection can carry the next attempt; a
// receiver that answers more than that costs it its connection instead.
const maxDrain = 256 << 10

// headerNames are the platform's delivery header names, worked out once.
// They are set on requests as they are, not canonicalised, so that the wire
// shows "ByteKast-Webhook-Signature" rather than "Bytekast-...".
type headerNames struct {
	userAgent, signature, previous, event, id, delivery, attempt string
}

func newHeaderNames(platform string) headerNames {
	p := platform + "-Webhook-"
	return headerNames{userAgent: platform + "-Webhooks/" + pathhook.Version,
		signature: p + "Signature", previous: p + "Signature-Previous", event: p + "Event",
		id: p + "Id", delivery: p + "Delivery", attempt: p + "Attempt"}
}

// sender makes attempts: it signs a job's body and POSTs it. It sends
// each request on the RoundTripper itself rather than through an
// http.Client, which would copy every request's headers in case of a
// redirect: a 3xx is the answer, and a failure, and webhook URLs carry no
// credentials for the client to turn into a header.
type sender struct {
	rt      http.RoundTripper
	names   headerNames
	timeout time.Duration
	clock   func() time.Time
}

func newSender(platform string, rt http.RoundTripper, timeout time.Duration, clock func() time.Time) *sender {
	return &sender{rt: rt, names: newHeaderNames(platform), timeout: timeout, clock: clock}
}

// header returns the headers of one attempt of job made at now, as CONTRACT
// section 4 sets them.
func (s *sender) header(job *pathhook.Job, now time.Time) http.Header {
	n := &s.names
	h := make(http.Header, 12)
	h["Content-Type"] = []string{"application/json"}
	h["User-Agent"] = []string{n.userAgent}
	h[n.event] = []string{job.EventType}
	h[n.id] = []string{job.EventID}
	h[n.delivery] = []string{job.DeliveryID}
	h[n.attempt] = []string{strconv.Itoa(job.Attempt)}
	h["webhook-id"] = []string{job.EventID}
	h["webhook-timestamp"] = []string{strconv.FormatInt(now.Unix(), 10)}
	if len(job.Secrets) == 0 {
		return h
	}
	h[n.signature] = []string{signature.Sign(job.Secrets[0], job.Body)}
	if len(job.Secrets) > 1 {
		h[n.previous] = []string{signature.Sign(job.Secrets[1], job.Body)}
	}
	std := make([]string, len(job.Secrets))
	for i, secret := range job.Secrets {
		std[i] = signature.SignStandard(secret, job.EventID, now, job.Body)
	}
	h["webhook-signature"] = []string{strings.Join(std, " ")}
	return h
}

// request returns the signed request of one attempt of job made at now.
func (s *sender) request(ctx context.Context, job *pathhook.Job, now time.Time) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, job.URL, bytes.NewReader(job.Body))
	if err != nil {
		return nil, err
	}
	req.Header = s.header(job, now)
	return req, nil
}

// answer is what a receiver said, beyond what the Attempt keeps.
type answer struct {
	retryAfter string
}

// send makes one attempt of job within the timeout and reports it. ctx
// should outlive the engine's shutdown so that an attempt in flight is
// finished rather than cut off after the receiver may have acted on it.
func (s *sender) send(ctx context.Context, job *pathhook.Job) (pathhook.Attempt, answer) {
	start := s.clock()
	a, ans := s.post(ctx, job, start)
	a.DurationMS = s.clock().Sub(start).Milliseconds()
	return a, ans
}

func (s *sender) post(ctx context.Context, job *pathhook.Job, start time.Time) (pathhook.Attempt, answer) {
	a := pathhook.Attempt{N: job.Attempt, StartedAt: start.UTC().Truncate(time.Millisecond)}
	var ans answer
	fail := func(msg string) (pathhook.Attempt, answer) {
		a.Error = &msg
		return a, ans
	}
	if len(job.Secrets) == 0 {
		return fail("the webhook has no secret to sign with")
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := s.request(ctx, job, start)
	if err != nil {
		return fail("cannot make the request: " + describe(err, s.timeout))
	}
	resp, err := s.rt.RoundTrip(req)
	if err != nil {
		return fail(describe(err, s.timeout))
	}
	// A Config.Transport may break the RoundTripper contract.
	if resp == nil {
		return fail("the transport returned no response")
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	defer resp.Body.Close()
	status := resp.StatusCode
	a.ResponseStatus = &status
	ans.retryAfter = resp.Header.Get("Retry-After")
	body, err := io.ReadAll(io.LimitReader(resp.Body, pathhook.MaxResponseBody))
	a.ResponseBody = text(body)
	if err != nil {
		return fail("reading the response body: " + describe(err, s.timeout))
	}
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	return a, ans
}

// describe turns a transport error into a line for the delivery log,
// without repeating the URL that the log shows beside it. It says what
// http.Client would have said where the transport alone says less.
func describe(err error, timeout time.Duration) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("timed out after %s", timeout)
	}
	if te := (interface{ Timeout() bool })(nil); errors.As(err, &te) && te.Timeout() {
		return "timed out: " + err.Error() // a transport's own limit, before the attempt's
	}
	if rh := (tls.RecordHeaderError{}); errors.As(err, &rh) && string(rh.RecordHeader[:]) == "HTTP/" {
		return http.ErrSchemeMismatch.Error()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// text returns a response body as text that any store can keep: valid
// UTF-8 without NUL bytes, which PostgreSQL text refuses.
func text(b []byte) string {
	if utf8.Valid(b) && bytes.IndexByte(b, 0) < 0 {
		return string(b)
	}
	return strings.ReplaceAll(strings.ToValidUTF8(string(b), "\uFFFD"), "\x00", "\uFFFD")
}

// outcome decides what an attempt of job means for its delivery: success on
// any 2xx; a 410 fails it and disables the webhook; anything else is
// retried on the schedule unless the job is a redelivery or the schedule
// has run out. end is when the attempt ended; rnd in [0,1) picks the jitter.
func outcome(job *pathhook.Job, a pathhook.Attempt, ans answer, schedule []time.Duration, end time.Time, rnd float64) pathhook.Result {
	r := pathhook.Result{DeliveryID: job.DeliveryID, WebhookID: job.WebhookID, Attempt: a, Status: pathhook.DeliveryFailed}
	status := 0
	if a.ResponseStatus != nil {
		status = *a.ResponseStatus
	}
	switch {
	case status >= 200 && status < 300:
		r.Status = pathhook.DeliverySucceeded
	case status == http.StatusGone:
		r.DisableReason = "receiver answered 410 Gone"
	case job.Manual:
	default:
		if next, ok := NextRetry(job.Attempt, schedule, end, status, ans.retryAfter, rnd); ok {
			r.Status, r.NextAttemptAt = pathhook.DeliveryPending, next.UTC().Truncate(time.Millisecond)
		}
	}
	return r
}
