package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/url"
	"sync"
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

// oldBouncer is a TCP proxy that, once armed, answers the next message a
// client sends, in place of the server, as old PgBouncer versions do
// when they cannot reach the server ("pgbouncer cannot connect to
// server", "server conn crashed?"): ERROR 08P01, then it closes the
// client.
type oldBouncer struct {
	ln    net.Listener
	mu    sync.Mutex
	armed bool
}

func newOldBouncer(t *testing.T, upstream string) *oldBouncer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &oldBouncer{ln: ln}
	t.Cleanup(func() { ln.Close() })
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
			go func() {
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if err != nil {
						up.Close()
						return
					}
					b.mu.Lock()
					cut := b.armed
					if cut {
						b.armed = false
					}
					b.mu.Unlock()
					if cut {
						_, _ = c.Write(pgError("ERROR", "08P01", "pgbouncer cannot connect to server"))
						c.Close()
						up.Close()
						return
					}
					if _, err := up.Write(buf[:n]); err != nil {
						c.Close()
						return
					}
				}
			}()
			go func() {
				buf := make([]byte, 64<<10)
				for {
					n, err := up.Read(buf)
					if err != nil {
						c.Close()
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
	return b
}

// TestAnOldBouncersErrorIsALostConnection: behind PgBouncer older
// than its FATAL pooler errors, a write whose first statement meets a
// server connection that broke (ERROR 08P01, connection closed, nothing
// ran) runs again on another connection, as it does behind new ones.
func TestAnOldBouncersErrorIsALostConnection(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(freshSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	b := newOldBouncer(t, u.Host)
	u.Host = b.ln.Addr().String()
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
	b.mu.Lock()
	b.armed = true
	b.mu.Unlock()
	err = db.Record(ctx, []pathhook.Result{res})
	if err != nil {
		t.Errorf("a write whose first round trip a proxy answered ERROR 08P01 and closed: %v (code %q); want it run again on another connection",
			err, pathhook.ErrorCode(err))
	}
}

// TestRecordAgainWaitsForTheLostCommit: the Record whose COMMIT got
// no answer is still being carried out (its backend waits for a lock, or
// for a synchronous standby) when RecordAgain runs. RecordAgain must not
// write the attempt a second time.
func TestRecordAgainWaitsForTheLostCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := postgres.OpenOptions(ctx, freshSchema(t), nil, postgres.Options{NoGroupCommit: true})
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
	// The lost Record, not committed yet.
	lost, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lost.Exec(`INSERT INTO attempts (org_id, delivery_id, n, started_at, duration_ms, response_body)
		VALUES ('org_1', $1, 1, 0, 5, '')`, ds[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := lost.Exec(`UPDATE deliveries SET status = 'succeeded', attempt_count = 1, lease_owner = '', lease_until = 0,
		next_attempt_at = NULL, due_at = NULL, ended_at = 1 WHERE id = $1`, ds[0].ID); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- db.RecordAgain(ctx, []pathhook.Result{res}) }()
	// Time for RecordAgain to read before the COMMIT, as it did without
	// its lock; with it, it waits for the COMMIT however long this is.
	time.Sleep(300 * time.Millisecond)
	if err := lost.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.SQL().QueryRow("SELECT count(*) FROM attempts WHERE delivery_id = $1 AND n = 1", ds[0].ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("attempt 1 written %d times: RecordAgain read the attempt count before the lost COMMIT took effect", n)
	}
}
