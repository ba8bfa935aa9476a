package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPostgresOutage runs serve on PostgreSQL through a proxy that cuts
// every connection, and refuses new ones, for a second and a half in the
// middle of a run, while attempts are in flight to a receiver that takes
// 100 ms. While the database is out of reach the API answers 503, never
// 500; afterwards every event arrives, and every delivery is recorded
// within seconds: none waits for its lease (a minute) to run out, to be
// sent a second time.
func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(freshPostgres(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCuttingProxy(t, u.Host)
	u.Host = proxy.addr()
	const (
		key     = "outage-admin-key-0123456789abcdef"
		secret  = "outage-secret-0123456789abcdefghij"
		events  = 300
		clients = 8
	)
	rc := newCountingReceiver(t, secret)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond)
		rc.serve(w, r)
	}))
	t.Cleanup(slow.Close)
	env := []string{"PATHHOOK_SECRET_KEY=" + newSecretKey(), "PATHHOOK_ADMIN_KEY=" + key}
	n := startNode(t, "serve", env, "--db", u.String(), "--addr", "127.0.0.1:0", "--allow-http",
		"--allow-networks", "127.0.0.0/8", "--delivery-timeout", "2s", "--rate-limit", "0")
	s := &server{URL: n.url, Key: key}
	var p pathwayJSON
	s.call(t, "POST", "/v1/pathways", map[string]any{"name": "Outage"}, 201, &p)
	hook := hookOf(t, p, "enrolments").ID
	s.setUp(t, hook, slow.URL, secret)

	c := &cluster{nodes: []*node{n}, key: key, client: &http.Client{Timeout: time.Minute}}
	t.Cleanup(c.client.CloseIdleConnections)
	var unavailable, accepted atomic.Int64
	var cut sync.Once
	cutDone := make(chan struct{})
	enrol := func(learner string) error {
		body := []byte(`{"learner":{"id":"` + learner + `"}}`)
		retried := false
		for range 200 {
			status, data, err := c.post("/v1/pathways/"+p.ID+"/enrolments", body)
			switch {
			case err != nil:
				return err
			case status == http.StatusCreated, status == http.StatusConflict && retried:
				// A 409 after a 503: the call before did commit (its
				// COMMIT went unanswered).
				return nil
			case status != http.StatusServiceUnavailable:
				return fmt.Errorf("enrol %s: %d %s", learner, status, data)
			}
			unavailable.Add(1)
			retried = true
			time.Sleep(50 * time.Millisecond)
		}
		return fmt.Errorf("enrol %s: still 503 after 200 tries", learner)
	}
	work := make(chan int)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for i := range work {
				if err := enrol(fmt.Sprintf("u-%04d", i)); err != nil {
					errs <- err
					return
				}
				if accepted.Add(1) == events/3 {
					cut.Do(func() {
						go func() {
							defer close(cutDone)
							proxy.cut(1500 * time.Millisecond)
						}()
					})
				}
			}
		})
	}
	var failed error
feed:
	for i := range events {
		select {
		case work <- i:
		case failed = <-errs:
			break feed
		}
	}
	close(work)
	wg.Wait()
	if failed != nil {
		t.Fatal(failed)
	}
	<-cutDone
	if unavailable.Load() == 0 {
		t.Error("no API call met the outage: the test did not test it")
	}
	enrolled := time.Now()
	// A delivery made by a call whose COMMIT got no answer waits for its
	// lease (32 s here) unless the engine gives it back.
	rc.waitDistinct(t, events, 20*time.Second)
	arrived := time.Now()

	// Every delivery recorded, well within the one-minute lease that a
	// dropped result would wait for.
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, data := s.do(t, "GET", "/v1/webhooks/"+hook+"/deliveries?status=pending&limit=100", key, nil)
		var page struct {
			Data []deliveryJSON `json:"data"`
		}
		if status != http.StatusOK || json.Unmarshal(data, &page) != nil {
			t.Fatalf("pending deliveries: %d %s", status, data)
		}
		if len(page.Data) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d or more deliveries still pending 30 s after every event arrived (their results were not recorded), e.g. %+v",
				len(page.Data), page.Data[0])
		}
		time.Sleep(100 * time.Millisecond)
	}
	total, distinct, bad := rc.counts()
	if bad != 0 || distinct != events || total != distinct {
		t.Errorf("receiver: %d requests, %d distinct events of %d, %d bad", total, distinct, events, bad)
	}
	t.Logf("%d API calls answered 503 during the outage; every event arrived %s after the last enrolment, every delivery was recorded %s later",
		unavailable.Load(), arrived.Sub(enrolled).Round(time.Millisecond), time.Since(arrived).Round(time.Millisecond))
}

// cuttingProxy is a TCP proxy to a PostgreSQL server that can cut every
// connection and refuse new ones for a while, as a restart does.
type cuttingProxy struct {
	ln       net.Listener
	upstream string
	mu       sync.Mutex
	down     bool
	conns    map[net.Conn]bool
}

func newCuttingProxy(t *testing.T, upstream string) *cuttingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttingProxy{ln: ln, upstream: upstream, conns: map[net.Conn]bool{}}
	t.Cleanup(func() {
		ln.Close()
		p.closeAll()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *cuttingProxy) addr() string { return p.ln.Addr().String() }

func (p *cuttingProxy) serve(c net.Conn) {
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		c.Close()
		return
	}
	// Checked and kept under one lock, so that a cut cannot miss it.
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	go func() {
		_, _ = io.Copy(up, c)
		up.Close()
	}()
	_, _ = io.Copy(c, up)
	c.Close()
}

// cut closes every connection and refuses new ones for d.
func (p *cuttingProxy) cut(d time.Duration) {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	p.closeAll()
	time.Sleep(d)
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

func (p *cuttingProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}
