package postgres

import (
	"context"
	"crypto/tls"
	"database/sql/driver"
	"fmt"
	"net"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pathhook/pathhook/internal/pgtest"
)

// TestWhatCountsAsAConnectionLost checks IsConnectionLost on the errors
// of real connections that fail, and on the errors a server or a proxy
// sends: a server going away, or out of reach, counts; a setting to mend,
// or an answer that leaves the session open, does not.
func TestWhatCountsAsAConnectionLost(t *testing.T) {
	t.Parallel()
	base, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	closing, err := net.Listen("tcp", "127.0.0.1:0") // accepts, then closes
	if err != nil {
		t.Fatal(err)
	}
	defer closing.Close()
	go func() {
		for {
			c, err := closing.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	with := func(change func(u *url.URL)) string {
		u := *base
		change(&u)
		return u.String()
	}
	connects := []struct {
		name string
		url  string
		lost bool
	}{
		{"refused", with(func(u *url.URL) { u.Host = "127.0.0.1:1" }), true}, // a privileged port that nothing serves
		{"closed at once", with(func(u *url.URL) { u.Host = closing.Addr().String() }), true},
		{"no such database", with(func(u *url.URL) { u.Path = "/pathhook_no_such_database" }), false},
		{"no such role", with(func(u *url.URL) { u.User = url.User("pathhook_no_such_role") }), false},
		// The server's certificate names no IP address; a server without
		// TLS refuses it: neither is to be waited out.
		{"TLS it cannot verify", with(func(u *url.URL) {
			q := u.Query()
			q.Set("sslmode", "verify-full")
			u.RawQuery = q.Encode()
		}), false},
	}
	for _, c := range connects {
		cfg, err := pgx.ParseConfig(c.url)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.TLSConfig != nil {
			cfg.TLSConfig = &tls.Config{ServerName: "127.0.0.1"}
		}
		conn, err := pgx.ConnectConfig(context.Background(), cfg)
		if err == nil {
			conn.Close(context.Background())
			t.Errorf("%s: connected", c.name)
			continue
		}
		if got := (dialect{}).IsConnectionLost(err); got != c.lost {
			t.Errorf("%s: IsConnectionLost(%v) = %v, want %v", c.name, err, got, c.lost)
		}
	}

	if err := fmt.Errorf("sqlstore: begin: %w", driver.ErrBadConn); !(dialect{}).IsConnectionLost(err) {
		t.Errorf("IsConnectionLost(%v) = false: database/sql says nothing was sent", err)
	}

	answers := []struct {
		severity, code string
		lost           bool
	}{
		{"FATAL", "57P01", true},  // terminating connection due to administrator command
		{"FATAL", "08P01", true},  // a proxy's "server conn crashed?"
		{"FATAL", "53300", true},  // too many connections
		{"FATAL", "28P01", false}, // password authentication failed
		{"ERROR", "08P01", false}, // a protocol error that leaves the session open
		{"ERROR", "53100", false}, // disk full
		{"ERROR", "40001", false}, // serialization failure: IsRetryable's
	}
	for _, a := range answers {
		err := fmt.Errorf("sqlstore: x: %w", &pgconn.PgError{Severity: a.severity, SeverityUnlocalized: a.severity, Code: a.code})
		if got := (dialect{}).IsConnectionLost(err); got != a.lost {
			t.Errorf("%s %s: IsConnectionLost = %v, want %v", a.severity, a.code, got, a.lost)
		}
	}
	// The same errors where the connection closed after them (Transact's
	// closedAfter): old PgBouncer's ERROR 08P01 ends the session too; a
	// unique violation is still the database's answer.
	for code, lost := range map[string]bool{"08P01": true, "23505": false} {
		err := &closedAfter{fmt.Errorf("sqlstore: x: %w", &pgconn.PgError{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: code})}
		if got := (dialect{}).IsConnectionLost(err); got != lost {
			t.Errorf("ERROR %s, the connection closed after it: IsConnectionLost = %v, want %v", code, got, lost)
		}
	}
}
