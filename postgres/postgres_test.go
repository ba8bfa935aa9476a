package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/internal/pgtest"
	"github.com/pathhook/pathhook/postgres"
	"github.com/pathhook/pathhook/sqlstore"
	"github.com/pathhook/pathhook/storetest"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for sql.Open
)

// freshSchema makes a schema of its own for t (pgtest.Schema).
func freshSchema(t testing.TB) string { return pgtest.Schema(t, "pathhook_test_") }

func open(t *testing.T, box pathhook.Sealer) *sqlstore.DB {
	t.Helper()
	return openWith(t, freshSchema(t), box, postgres.Options{})
}

// openWith opens a store on url with o, closed when the test ends.
func openWith(t *testing.T, url string, box pathhook.Sealer, o postgres.Options) *sqlstore.DB {
	t.Helper()
	db, err := postgres.OpenOptions(context.Background(), url, box, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStore(t *testing.T) {
	t.Parallel()
	pgtest.URL(t)
	storetest.Run(t, open)
}

// TestWritesInParallel: the engine keeps polling while it fails a
// backlog only where writes do not wait for one another.
func TestWritesInParallel(t *testing.T) {
	t.Parallel()
	pgtest.URL(t)
	if open(t, nil).SerialWrites() {
		t.Error("SerialWrites() = true on PostgreSQL")
	}
}

func TestStoreWithoutGroupCommit(t *testing.T) {
	t.Parallel()
	pgtest.URL(t)
	storetest.Run(t, func(t *testing.T, box pathhook.Sealer) *sqlstore.DB {
		return openWith(t, freshSchema(t), box, postgres.Options{NoGroupCommit: true})
	})
}

// TestOpenConcurrently starts two nodes on an empty schema at once: both
// migrate, one after the other, and the second finds nothing to do.
func TestOpenConcurrently(t *testing.T) {
	t.Parallel()
	u := freshSchema(t)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			db, err := postgres.Open(context.Background(), u, nil)
			if err == nil {
				err = db.Close()
			}
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestListen sees a notification for each change of a webhook, with its
// id, whoever makes it, and one for a delivery that no node has leased;
// and hears when its connection was cut and made again.
func TestListen(t *testing.T) {
	t.Parallel()
	u := freshSchema(t)
	app := "pathhook-listen-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	db := must(postgres.Open(context.Background(), u, nil))(t)
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	woken := make(chan string, 64)
	done := make(chan error, 1)
	reconnected := make(chan struct{}, 4)
	go func() {
		done <- postgres.Listen(ctx, u+"&application_name="+app, func(payload string) { woken <- payload },
			func() { reconnected <- struct{}{} })
	}()
	// Tests on other schemas notify on the same channel: wait for the
	// payload wanted.
	wait := func(want, after string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case got := <-woken:
				if got == want {
					return
				}
			case <-timeout:
				t.Fatalf("no notification %q after %s", want, after)
			}
		}
	}
	wait("", "connecting")

	svc := pathhook.NewService(pathhook.Config{Store: db})
	org := must(svc.EnsureOrg(ctx, "acme"))(t)
	p := must(svc.CreatePathway(ctx, org.ID, pathhook.PathwayInput{Name: "P"}))(t)
	secret := "0123456789abcdef0123456789abcdef"
	w := p.Webhooks[0]
	must(svc.SetupWebhook(ctx, org.ID, w.ID, pathhook.WebhookSetup{URL: "https://example.com/h", Secret: &secret}))(t)
	wait(postgres.ChangedPrefix+w.ID, "a webhook was set up")
	on := true
	must(svc.SwitchWebhook(ctx, org.ID, w.ID, pathhook.WebhookSwitch{Enabled: &on}))(t)
	wait(postgres.ChangedPrefix+w.ID, "a webhook was switched on")
	must(svc.Enrol(ctx, org.ID, p.ID, pathhook.EnrolmentInput{Learner: &pathhook.Learner{ID: "ada"}}))(t)
	wait("", "an unleased delivery was created")

	// Changes made in SQL notify too, and a change of failing_since alone
	// (which results make) does not: had it, its notification would come
	// first, in commit order.
	other := p.Webhooks[1].ID
	for _, change := range []string{"UPDATE webhooks SET failing_since = 1 WHERE id = $1", "UPDATE webhooks SET url = 'https://example.com/sql' WHERE id = $1"} {
		id := map[bool]string{true: w.ID, false: other}[strings.Contains(change, "failing_since")]
		if _, err := db.SQL().ExecContext(ctx, change, id); err != nil {
			t.Fatal(err)
		}
	}
	for got := ""; got != other; {
		select {
		case payload := <-woken:
			if id, ok := strings.CutPrefix(payload, postgres.ChangedPrefix); ok && (id == w.ID || id == other) {
				if id == w.ID {
					t.Fatalf("a change of failing_since alone notified %q", payload)
				}
				got = id
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no notification after a webhook's URL was changed in SQL")
		}
	}

	var ended bool
	if err := db.SQL().QueryRowContext(ctx, "SELECT bool_or(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
		app).Scan(&ended); err != nil || !ended {
		t.Fatalf("ending the listener's connection: %v, %v", ended, err)
	}
	select {
	case <-reconnected:
	case <-time.After(10 * time.Second):
		t.Fatal("Listen did not report connecting again")
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Listen = %v, want context.Canceled", err)
	}
}

func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// TestWarmOpensThePool checks that Options.Warm opens the pool's
// connections at once, and that Open leaves them to be opened on demand.
func TestWarmOpensThePool(t *testing.T) {
	t.Parallel()
	base := freshSchema(t)
	admin := must(sql.Open("pgx", pgtest.URL(t)))(t)
	t.Cleanup(func() { admin.Close() })
	backends := func(app string) int {
		var n int
		err := admin.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, warm := range []bool{false, true} {
		app := "pathhook-warm-" + strings.ToLower(rand.Text()[:8])
		u := must(url.Parse(base))(t)
		q := u.Query()
		q.Set("application_name", app)
		u.RawQuery = q.Encode()
		db := must(postgres.OpenOptions(context.Background(), u.String(), nil, postgres.Options{Warm: warm}))(t)
		n := backends(app)
		db.Close()
		switch {
		case warm && n != postgres.MaxConns:
			t.Errorf("Warm: %d connections open after OpenOptions, want %d", n, postgres.MaxConns)
		case !warm && n >= postgres.MaxConns:
			t.Errorf("without Warm: %d connections open after Open, want fewer than %d", n, postgres.MaxConns)
		}
	}
}
