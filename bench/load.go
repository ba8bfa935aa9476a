package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// load is the load generator: concurrency keep-alive clients that make n
// POST requests, request i to url(i, try) with body(i), either as fast as
// they can or at an offered rate. It is the same for pathhook and for the
// ceilings, so that they are compared on equal terms.
type load struct {
	client      *http.Client
	n           int
	concurrency int
	rate        float64 // requests per second; 0: as fast as possible
	url         func(i, try int) string
	body        func(i int) []byte
	auth        string // Authorization header value, if any
	epoch       time.Time
	// retry makes a request that failed for a reason a crash explains
	// (connection error, 5xx) try again until ctx ends.
	retry bool

	sent     []time.Duration // when request i's first try began, since the epoch
	accepted []bool

	started, ok, throttled, retries, failed atomic.Int64
	last                                    atomic.Int64 // when the last answer came, since the epoch

	errMu    sync.Mutex
	firstErr string
}

// newClient returns an HTTP client with keep-alive connections for
// concurrency requests at once to each host.
func newClient(concurrency int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4 * concurrency,
		MaxIdleConnsPerHost: concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}
}

func newLoad(client *http.Client, n, concurrency int, rate float64, epoch time.Time) *load {
	return &load{client: client, n: n, concurrency: max(1, concurrency), rate: rate, epoch: epoch,
		sent: make([]time.Duration, n), accepted: make([]bool, n)}
}

// run makes the requests and returns when all have been answered or ctx
// has ended.
func (l *load) run(ctx context.Context) {
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range min(l.concurrency, l.n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= l.n {
					return
				}
				if l.rate > 0 {
					due := start.Add(time.Duration(float64(i) / l.rate * float64(time.Second)))
					if !sleepUntil(ctx, due) {
						return
					}
				}
				l.do(ctx, i)
			}
		})
	}
	wg.Wait()
}

// do makes request i, trying again as retry allows.
func (l *load) do(ctx context.Context, i int) {
	l.sent[i] = time.Since(l.epoch)
	l.started.Add(1)
	body := l.body(i)
	broken := false // a try failed in a way that may have committed it
	for try := 0; ctx.Err() == nil; try++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url(i, try), bytes.NewReader(body))
		if err != nil {
			l.fail(err.Error())
			return
		}
		req.Header.Set("Content-Type", "application/json")
		if l.auth != "" {
			req.Header.Set("Authorization", l.auth)
		}
		resp, err := l.client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !l.retry {
				l.fail(err.Error())
				return
			}
			broken = true
			l.again(ctx, 20*time.Millisecond)
			continue
		}
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch s := resp.StatusCode; {
		case s >= 200 && s < 300, s == http.StatusConflict && broken:
			l.accepted[i] = true
			l.ok.Add(1)
			l.last.Store(int64(time.Since(l.epoch)))
			return
		case s == http.StatusTooManyRequests:
			l.throttled.Add(1)
			l.again(ctx, retryAfter(resp.Header.Get("Retry-After")))
		case s >= 500 && l.retry:
			broken = true
			l.again(ctx, 20*time.Millisecond)
		default:
			l.fail(fmt.Sprintf("%s: %d %s", req.URL.Path, s, bytes.TrimSpace(snippet)))
			return
		}
	}
}

func (l *load) again(ctx context.Context, d time.Duration) {
	l.retries.Add(1)
	sleepUntil(ctx, time.Now().Add(d))
}

func (l *load) fail(msg string) {
	l.failed.Add(1)
	l.errMu.Lock()
	if l.firstErr == "" {
		l.firstErr = msg
	}
	l.errMu.Unlock()
}

// firstError returns the first request failure, if any.
func (l *load) firstError() string {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	return l.firstErr
}

// window returns the time from the first request to the last answer.
func (l *load) window() (first, last time.Duration) {
	first = -1
	for i, s := range l.sent {
		if l.accepted[i] && (first < 0 || s < first) {
			first = s
		}
	}
	return max(first, 0), time.Duration(l.last.Load())
}

// retryAfter reads a Retry-After of whole seconds, with a short default.
func retryAfter(v string) time.Duration {
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return min(time.Duration(s)*time.Second, 5*time.Second)
	}
	return 50 * time.Millisecond
}

// sleepUntil waits until t; false means ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
