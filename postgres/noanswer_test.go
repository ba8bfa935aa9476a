package postgres_test

import (
	"context"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/postgres"
)

// TestADatabaseThatStopsAnswering checks that writes to and reads from a
// database that stops answering, with its connections still open, fail
// with EUNAVAILABLE once the transaction timeout has passed, and that
// Close then returns: before, all three waited for as long as the
// database did.
func TestADatabaseThatStopsAnswering(t *testing.T) {
	t.Parallel()
	proxy, u := behindFreezer(t)
	ctx := context.Background()
	db, err := postgres.OpenOptions(ctx, u, nil, postgres.Options{TxTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	event := oneWebhook(t, db)

	proxy.freeze()
	const calls = 3
	errs := make(chan error, calls)
	for range calls {
		go func() {
			ev, ds := event("wh_1")
			errs <- db.Update(ctx, func(tx pathhook.Tx) error { return tx.CreateEvent(ctx, ev, ds) })
		}()
	}
	// A guard, not a measure: the timeout is a second.
	guard := time.After(time.Minute)
	for range calls {
		select {
		case err := <-errs:
			if code := pathhook.ErrorCode(err); code != pathhook.EUNAVAILABLE {
				t.Errorf("a write to a database that does not answer: %v (code %q), want %q", err, code, pathhook.EUNAVAILABLE)
			}
		case <-guard:
			t.Fatal("writes still wait a minute after the database stopped answering")
		}
	}
	go func() {
		errs <- db.View(ctx, func(tx pathhook.Tx) error {
			_, err := tx.Pathway(ctx, "org_1", "pw_1")
			return err
		})
	}()
	select {
	case err := <-errs:
		if code := pathhook.ErrorCode(err); code != pathhook.EUNAVAILABLE {
			t.Errorf("a read from a database that does not answer: %v (code %q), want %q", err, code, pathhook.EUNAVAILABLE)
		}
	case <-guard:
		t.Fatal("a read still waits a minute after the database stopped answering")
	}
	closed := make(chan struct{})
	go func() {
		db.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-guard:
		t.Fatal("Close still waits a minute after the database stopped answering")
	}
}

// TestADatabaseOutOfReach checks that writes and reads that cannot reach
// the database (it is down: connections ended and refused) fail with
// EUNAVAILABLE, which the API answers with 503, and not as an internal
// error; and that a group of concurrent writes is tried again together
// and then every caller is told, rather than each write being run alone,
// one after another, with retries of its own (128 of them took 24 s).
func TestADatabaseOutOfReach(t *testing.T) {
	t.Parallel()
	proxy, u := behindFreezer(t)
	ctx := context.Background()
	db := openWith(t, u, nil, postgres.Options{})
	event := oneWebhook(t, db)

	proxy.refuse()
	ev, ds := event("wh_1")
	err := db.Update(ctx, func(tx pathhook.Tx) error { return tx.CreateEvent(ctx, ev, ds) })
	if code := pathhook.ErrorCode(err); code != pathhook.EUNAVAILABLE {
		t.Errorf("a write to a database out of reach: %v (code %q), want %q", err, code, pathhook.EUNAVAILABLE)
	}
	err = db.View(ctx, func(tx pathhook.Tx) error {
		_, err := tx.Pathway(ctx, "org_1", "pw_1")
		return err
	})
	if code := pathhook.ErrorCode(err); code != pathhook.EUNAVAILABLE {
		t.Errorf("a read from a database out of reach: %v (code %q), want %q", err, code, pathhook.EUNAVAILABLE)
	}

	const calls = 128
	var wg sync.WaitGroup
	for range calls {
		wg.Go(func() {
			ev, ds := event("wh_1")
			err := db.Update(ctx, func(tx pathhook.Tx) error { return tx.CreateEvent(ctx, ev, ds) })
			if code := pathhook.ErrorCode(err); code != pathhook.EUNAVAILABLE {
				t.Errorf("a write while the database is out of reach: %v (code %q), want %q", err, code, pathhook.EUNAVAILABLE)
			}
		})
	}
	wg.Wait()
	// Each transaction tried makes a connection attempt: eight tries of
	// each group (some 80 in all, with the two calls above), where each
	// of the 128 writes was run alone with eight tries of its own (over
	// 2,000).
	if n := proxy.refused.Load(); n == 0 || n > 4*calls {
		t.Errorf("%d connection attempts for %d writes", n, calls)
	}
}

// behindFreezer returns a freezer before a fresh schema, and the URL of
// the schema through it.
func behindFreezer(t *testing.T) (*freezer, string) {
	t.Helper()
	u, err := url.Parse(freshSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFreezer(t, u.Host)
	u.Host = proxy.addr()
	return proxy, u.String()
}

// freezer is a TCP proxy to a PostgreSQL server that, once frozen, keeps
// its connections open and forwards nothing more either way; or, once
// refusing, ends every connection.
type freezer struct {
	ln       net.Listener
	mu       sync.Mutex
	frozen   bool
	refusing bool
	conns    []net.Conn
	refused  atomic.Int64 // connections closed at once while refusing
}

func newFreezer(t *testing.T, upstream string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln}
	t.Cleanup(f.close)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			refusing := f.refusing
			f.mu.Unlock()
			if refusing {
				f.refused.Add(1)
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			f.mu.Lock()
			if f.refusing { // since the look above
				f.mu.Unlock()
				f.refused.Add(1)
				c.Close()
				up.Close()
				continue
			}
			f.conns = append(f.conns, c, up)
			f.mu.Unlock()
			go f.pipe(up, c)
			go f.pipe(c, up)
		}
	}()
	return f
}

func (f *freezer) addr() string { return f.ln.Addr().String() }

// refuse closes every connection, and closes each new one at once, as a
// database that is shutting down or starting up does, counting them.
func (f *freezer) refuse() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refusing = true
	for _, c := range f.conns {
		c.Close()
	}
	f.conns = nil
}

func (f *freezer) freeze() {
	f.mu.Lock()
	f.frozen = true
	f.mu.Unlock()
}

// pipe copies from src to dst until frozen, then reads and drops.
func (f *freezer) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		f.mu.Lock()
		frozen := f.frozen
		f.mu.Unlock()
		if frozen {
			continue
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

func (f *freezer) close() {
	f.ln.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.Close()
	}
}
