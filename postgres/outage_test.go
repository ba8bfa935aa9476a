package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/postgres"
)

// TestAProxysErrorAfterCommitIsUnknown: behind a proxy such as PgBouncer,
// a server connection that breaks after PostgreSQL carried out COMMIT,
// before its answer came back, reaches the client as an error 08P01
// ("server conn crashed?": FATAL in new versions, ERROR in old ones) and
// a closed connection. That is no proof that nothing committed: the write
// reports ErrCommitUnknown, and is not run a second time.
func TestAProxysErrorAfterCommitIsUnknown(t *testing.T) {
	t.Parallel()
	for _, severity := range []string{"FATAL", "ERROR"} {
		u, err := url.Parse(freshSchema(t))
		if err != nil {
			t.Fatal(err)
		}
		cutter := newAnswerCutter(t, u.Host, pgError(severity, "08P01", "server conn crashed?"))
		u.Host = cutter.ln.Addr().String()
		ctx := context.Background()
		db, err := postgres.OpenOptions(ctx, u.String(), nil, postgres.Options{NoGroupCommit: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		event := oneWebhook(t, db)
		ev, ds := event("wh_1")
		until := time.Now().Add(time.Hour).Truncate(time.Microsecond)
		ds[0].LeaseOwner, ds[0].LeaseUntil = "node-a", until
		if err := db.Update(ctx, func(tx pathhook.Tx) error { return tx.CreateEvent(ctx, ev, ds) }); err != nil {
			t.Fatal(err)
		}
		res := pathhook.Result{DeliveryID: ds[0].ID, WebhookID: "wh_1", Status: pathhook.DeliverySucceeded,
			Attempt: pathhook.Attempt{N: 1, StartedAt: time.Now(), DurationMS: 5}, LeaseOwner: "node-a", LeaseUntil: until}
		cutter.arm()
		err = db.Record(ctx, []pathhook.Result{res})
		if !errors.Is(err, pathhook.ErrCommitUnknown) {
			t.Errorf("%s: Record whose COMMIT a proxy answered with an error: %v, want ErrCommitUnknown", severity, err)
		}
		var n int
		if err := db.SQL().QueryRow("SELECT count(*) FROM attempts WHERE delivery_id = $1 AND n = 1", ds[0].ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%s: one Record recorded attempt 1 %d times", severity, n)
		}
	}
}

// refuser listens on addr and closes every connection it accepts, as a
// database that is starting up or shutting down does, counting them.
type refuser struct{ count atomic.Int64 }

func newRefuser(t *testing.T, addr string) *refuser {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	r := &refuser{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.count.Add(1)
			c.Close()
		}
	}()
	return r
}

// answerCutter is a TCP proxy to PostgreSQL that, once armed, swallows the
// server's answer that carries COMMIT's CommandComplete, sends answer to
// the client in its place, and closes both sides.
type answerCutter struct {
	ln     net.Listener
	answer []byte
	mu     sync.Mutex
	armed  bool
}

func newAnswerCutter(t *testing.T, upstream string, answer []byte) *answerCutter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &answerCutter{ln: ln, answer: answer}
	var conns []net.Conn
	var mu sync.Mutex
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, up)
			mu.Unlock()
			go func() { // client to server
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if err != nil {
						up.Close()
						return
					}
					if _, err := up.Write(buf[:n]); err != nil {
						c.Close()
						return
					}
				}
			}()
			go func() { // server to client
				buf := make([]byte, 64<<10)
				for {
					n, err := up.Read(buf)
					if err != nil {
						c.Close()
						return
					}
					if a.cuts(buf[:n]) {
						_, _ = c.Write(a.answer)
						c.Close()
						up.Close()
						return
					}
					if _, err := c.Write(buf[:n]); err != nil {
						up.Close()
						return
					}
				}
			}()
		}
	}()
	return a
}

func (a *answerCutter) arm() {
	a.mu.Lock()
	a.armed = true
	a.mu.Unlock()
}

// cuts reports whether answer is to be cut: the cutter is armed and it
// carries COMMIT's CommandComplete. It disarms the cutter.
func (a *answerCutter) cuts(answer []byte) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	cut := a.armed && bytes.Contains(answer, []byte("COMMIT\x00"))
	if cut {
		a.armed = false
	}
	return cut
}

// pgError is a protocol ErrorResponse.
func pgError(severity, code, msg string) []byte {
	var body []byte
	for _, f := range [][2]string{{"S", severity}, {"V", severity}, {"C", code}, {"M", msg}} {
		body = append(body, f[0][0])
		body = append(body, f[1]...)
		body = append(body, 0)
	}
	body = append(body, 0)
	n := len(body) + 4
	return append([]byte{'E', byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, body...)
}
