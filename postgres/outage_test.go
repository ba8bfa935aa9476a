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
	"github.com/pathhook/pathhook/sqlstore"
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
		proxy, db := behindInterceptor(t, pgError(severity, "08P01", "server conn crashed?"), false,
			func(answer []byte) bool { return bytes.Contains(answer, []byte("COMMIT\x00")) })
		res := leasedResult(t, db)
		proxy.arm()
		err := db.Record(context.Background(), []pathhook.Result{res})
		if !errors.Is(err, pathhook.ErrCommitUnknown) {
			t.Errorf("%s: Record whose COMMIT a proxy answered with an error: %v, want ErrCommitUnknown", severity, err)
		}
		if n := attemptsOf(t, db, res.DeliveryID); n != 1 {
			t.Errorf("%s: one Record recorded attempt 1 %d times", severity, n)
		}
	}
}

// TestAnOldBouncersErrorIsALostConnection: behind PgBouncer older than its
// FATAL pooler errors, a write whose first statement meets a server
// connection that broke (ERROR 08P01, connection closed, nothing ran)
// runs again on another connection, as it does behind new ones.
func TestAnOldBouncersErrorIsALostConnection(t *testing.T) {
	t.Parallel()
	proxy, db := behindInterceptor(t, pgError("ERROR", "08P01", "pgbouncer cannot connect to server"), true,
		func([]byte) bool { return true })
	res := leasedResult(t, db)
	proxy.arm()
	if err := db.Record(context.Background(), []pathhook.Result{res}); err != nil {
		t.Errorf("a write whose first round trip a proxy answered ERROR 08P01 and closed: %v (code %q); want it run again on another connection",
			err, pathhook.ErrorCode(err))
	}
	if n := attemptsOf(t, db, res.DeliveryID); n != 1 {
		t.Errorf("attempt 1 recorded %d times", n)
	}
}

// TestRecordAgainWaitsForTheLostCommit: the Record whose COMMIT got no
// answer is still being carried out (its backend waits for a lock, or for
// a synchronous standby) when RecordAgain runs. RecordAgain must not write
// the attempt a second time.
func TestRecordAgainWaitsForTheLostCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openWith(t, freshSchema(t), nil, postgres.Options{NoGroupCommit: true})
	res := leasedResult(t, db)
	// The lost Record, not committed yet.
	lost, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lost.Exec(`INSERT INTO attempts (org_id, delivery_id, n, started_at, duration_ms, response_body)
		VALUES ('org_1', $1, 1, 0, 5, '')`, res.DeliveryID); err != nil {
		t.Fatal(err)
	}
	if _, err := lost.Exec(`UPDATE deliveries SET status = 'succeeded', attempt_count = 1, lease_owner = '', lease_until = 0,
		next_attempt_at = NULL, due_at = NULL, ended_at = 1 WHERE id = $1`, res.DeliveryID); err != nil {
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
	if n := attemptsOf(t, db, res.DeliveryID); n != 1 {
		t.Errorf("attempt 1 written %d times: RecordAgain read the attempt count before the lost COMMIT took effect", n)
	}
}

// leasedResult makes a delivery of oneWebhook's webhook, leased to
// node-a, and returns the result of its first attempt.
func leasedResult(t *testing.T, db *sqlstore.DB) pathhook.Result {
	t.Helper()
	ctx := context.Background()
	ev, ds := oneWebhook(t, db)("wh_1")
	until := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	ds[0].LeaseOwner, ds[0].LeaseUntil = "node-a", until
	if err := db.Update(ctx, func(tx pathhook.Tx) error { return tx.CreateEvent(ctx, ev, ds) }); err != nil {
		t.Fatal(err)
	}
	return pathhook.Result{DeliveryID: ds[0].ID, WebhookID: "wh_1", Status: pathhook.DeliverySucceeded,
		Attempt: pathhook.Attempt{N: 1, StartedAt: time.Now(), DurationMS: 5}, LeaseOwner: "node-a", LeaseUntil: until}
}

// attemptsOf counts the rows of attempt 1 of a delivery.
func attemptsOf(t *testing.T, db *sqlstore.DB, deliveryID string) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRow("SELECT count(*) FROM attempts WHERE delivery_id = $1 AND n = 1", deliveryID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// behindInterceptor opens a store, without group commit, on a fresh
// schema through an interceptor (see newInterceptor).
func behindInterceptor(t *testing.T, answer []byte, toServer bool, stops func([]byte) bool) (*interceptor, *sqlstore.DB) {
	t.Helper()
	u, err := url.Parse(freshSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newInterceptor(t, u.Host, answer, toServer, stops)
	u.Host = proxy.ln.Addr().String()
	return proxy, openWith(t, u.String(), nil, postgres.Options{NoGroupCommit: true})
}

// interceptor is a TCP proxy to PostgreSQL that, once armed, stops at the
// first chunk that stops accepts, of those going to the server (toServer)
// or of those coming from it; it sends answer to the client in place of
// that chunk, as a proxy that lost its server connection does, and closes
// both sides. Stopping at the server's answer that carries COMMIT's
// CommandComplete is a COMMIT carried out whose answer was lost; at the
// client's next message, a server connection lost before anything ran.
type interceptor struct {
	ln       net.Listener
	answer   []byte
	toServer bool
	stops    func(chunk []byte) bool
	mu       sync.Mutex
	armed    bool
}

func newInterceptor(t *testing.T, upstream string, answer []byte, toServer bool, stops func([]byte) bool) *interceptor {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &interceptor{ln: ln, answer: answer, toServer: toServer, stops: stops}
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
			go p.pipe(c, up, c, true)
			go p.pipe(up, c, c, false)
		}
	}()
	return p
}

// pipe copies from src to dst until either closes, or until it stops at a
// chunk going toServer (or not), where it sends answer to client instead.
func (p *interceptor) pipe(src, dst, client net.Conn, toServer bool) {
	defer src.Close()
	defer dst.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		if toServer == p.toServer && p.stopsAt(buf[:n]) {
			_, _ = client.Write(p.answer)
			return
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

func (p *interceptor) arm() {
	p.mu.Lock()
	p.armed = true
	p.mu.Unlock()
}

// stopsAt reports whether the armed interceptor stops at chunk, and
// disarms it if so.
func (p *interceptor) stopsAt(chunk []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	stop := p.armed && p.stops(chunk)
	if stop {
		p.armed = false
	}
	return stop
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
