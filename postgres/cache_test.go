package postgres_test

import (
	"context"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/postgres"
	"github.com/pathhook/pathhook/sqlstore"
)

// TestGenerationCache holds what write transactions may read from memory
// on PostgreSQL: a pathway and its webhooks as read at the generation that
// the database still holds. A change made outside the store, as another
// node makes it, is seen by the next transaction; a statement that changes
// no row leaves the generation alone; a transaction sees its own changes.
func TestGenerationCache(t *testing.T) {
	t.Parallel()
	for _, o := range []struct {
		name string
		opts postgres.Options
	}{{"group", postgres.Options{}}, {"nogroup", postgres.Options{NoGroupCommit: true}}} {
		t.Run(o.name, func(t *testing.T) {
			t.Parallel()
			db, err := postgres.OpenOptions(context.Background(), freshSchema(t), nil, o.opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			testGenerationCache(t, db, !o.opts.NoGroupCommit)
		})
	}
}

func testGenerationCache(t *testing.T, db *sqlstore.DB, grouped bool) {
	ctx := context.Background()
	oneWebhook(t, db)
	sqldb := db.SQL()
	exec := func(query string, args ...any) {
		t.Helper()
		if _, err := sqldb.ExecContext(ctx, query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	generation := func() int64 {
		t.Helper()
		var g int64
		if err := sqldb.QueryRowContext(ctx, "SELECT gen FROM cache_generation").Scan(&g); err != nil {
			t.Fatal(err)
		}
		return g
	}
	// readOnce returns the pathway's name and its webhooks' URLs as a
	// write transaction reads them, and the transaction.
	readOnce := func() (name string, urls []string, in pathhook.Tx) {
		err := db.Update(ctx, func(tx pathhook.Tx) error {
			in, name, urls = tx, "", nil
			p, err := tx.Pathway(ctx, "org_1", "pw_1")
			if err != nil {
				return err
			}
			name = p.Name
			ws, err := tx.Webhooks(ctx, "org_1", "pw_1")
			for _, w := range ws {
				urls = append(urls, deref(w.URL))
			}
			return err
		})
		if err != nil {
			t.Error(err)
		}
		return name, urls, in
	}
	// read is readOnce, or with grouped, the second of two calls that
	// share a transaction: a group's first call reads the generation.
	read := func() (string, []string) {
		t.Helper()
		if !grouped {
			name, urls, _ := readOnce()
			return name, urls
		}
		for range 5 {
			var first, second pathhook.Tx
			var name string
			var urls []string
			inOneGroup(db, func() { _, _, first = readOnce() }, func() { name, urls, second = readOnce() })
			if first == second {
				return name, urls
			}
		}
		t.Fatal("two calls never shared a transaction in five tries")
		return "", nil
	}
	want := func(gotName string, gotURLs []string, name string, urls ...string) {
		t.Helper()
		if gotName != name || len(gotURLs) != len(urls) {
			t.Fatalf("read pathway %q with webhook URLs %q, want %q with %q", gotName, gotURLs, name, urls)
		}
		for i := range urls {
			if gotURLs[i] != urls[i] {
				t.Fatalf("read pathway %q with webhook URLs %q, want %q with %q", gotName, gotURLs, name, urls)
			}
		}
	}

	exec("UPDATE webhooks SET url = 'https://a.example/hook' WHERE id = 'wh_1'")
	name, urls := read() // read from the database, and kept
	want(name, urls, "P", "https://a.example/hook")

	// A change that raises no generation (its trigger disabled, as no node
	// disables it) is not seen: the transaction reads from memory.
	exec("ALTER TABLE webhooks DISABLE TRIGGER webhooks_changed")
	exec("UPDATE webhooks SET url = 'https://unseen.example/' WHERE id = 'wh_1'")
	exec("ALTER TABLE webhooks ENABLE ALWAYS TRIGGER webhooks_changed")
	name, urls = read()
	want(name, urls, "P", "https://a.example/hook")

	// Changes made outside the store are seen at once.
	exec("UPDATE webhooks SET url = 'https://b.example/hook' WHERE id = 'wh_1'")
	name, urls = read()
	want(name, urls, "P", "https://b.example/hook")
	exec("UPDATE pathways SET name = 'Q' WHERE id = 'pw_1'")
	name, urls = read()
	want(name, urls, "Q", "https://b.example/hook")
	exec(`INSERT INTO webhooks (id, org_id, pathway_id, category, url, enabled, created_at, updated_at)
		VALUES ('wh_2', 'org_1', 'pw_1', 'rewards', 'https://c.example/', FALSE, 0, 0)`)
	name, urls = read()
	want(name, urls, "Q", "https://b.example/hook", "https://c.example/")
	exec("DELETE FROM webhooks WHERE id = 'wh_2'")
	name, urls = read()
	want(name, urls, "Q", "https://b.example/hook")

	// Statements that change no row leave the generation alone, as the
	// results' update of failing_since mostly does; one that changes a
	// row raises it.
	before := generation()
	exec("UPDATE webhooks SET failing_since = NULL WHERE failing_since IS NOT NULL")
	exec("DELETE FROM pathways WHERE id = 'pw_none'")
	if g := generation(); g != before {
		t.Fatalf("statements that changed no row raised the generation from %d to %d", before, g)
	}
	exec("UPDATE webhooks SET failing_since = 1 WHERE id = 'wh_1'")
	if g := generation(); g <= before {
		t.Fatalf("a change of failing_since left the generation at %d", g)
	}

	// A session in replica mode raises it too (ENABLE ALWAYS).
	before = generation()
	conn, err := sqldb.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"SET session_replication_role = replica",
		"UPDATE webhooks SET failing_since = NULL WHERE id = 'wh_1'", "RESET session_replication_role"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn.Close()
	if g := generation(); g <= before {
		t.Fatalf("a change in replica mode left the generation at %d", g)
	}

	// A transaction that changes a webhook reads it back changed, though
	// memory holds the pathway as it was, whether or not it has looked at
	// the generation before.
	for _, first := range []string{"pathway", "webhooks"} {
		read()
		url := "https://" + first + ".example/hook"
		err := db.Update(ctx, func(tx pathhook.Tx) error {
			if first == "pathway" {
				if _, err := tx.Pathway(ctx, "org_1", "pw_1"); err != nil {
					return err
				}
			}
			w, err := tx.Webhook(ctx, "org_1", "wh_1")
			if err != nil {
				return err
			}
			w.URL = ptr(url)
			w.UpdatedAt = time.Now()
			if err := tx.UpdateWebhook(ctx, w); err != nil {
				return err
			}
			if _, err := tx.Pathway(ctx, "org_1", "pw_1"); err != nil {
				return err
			}
			ws, err := tx.Webhooks(ctx, "org_1", "pw_1")
			if err != nil {
				return err
			}
			if got := deref(ws[0].URL); got != url {
				t.Errorf("after its own change (%s read first) the transaction read URL %q", first, got)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		name, urls = read()
		want(name, urls, "Q", url)
	}

	// What a caller changes in what it was given stays its own.
	err = db.Update(ctx, func(tx pathhook.Tx) error {
		p, err := tx.Pathway(ctx, "org_1", "pw_1")
		if err != nil {
			return err
		}
		p.Name = "changed by the caller"
		ws, err := tx.Webhooks(ctx, "org_1", "pw_1")
		if err != nil {
			return err
		}
		*ws[0].URL = "https://changed.example/"
		ws[0].Category = "changed"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	name, urls = read()
	want(name, urls, "Q", "https://webhooks.example/hook")
}

// TestGenerationTakesNoLockBeforeCommit changes two webhooks in opposite
// orders in two transactions whose waits would form a cycle if a change
// locked the generation's row at once: the second waits for the first's
// webhook while holding the row, and the first's change waits for the
// row. Raised at COMMIT, each transaction runs once.
func TestGenerationTakesNoLockBeforeCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openWith(t, freshSchema(t), nil, postgres.Options{NoGroupCommit: true})
	oneWebhook(t, db)
	if _, err := db.SQL().ExecContext(ctx, `INSERT INTO webhooks (id, org_id, pathway_id, category, url, enabled, created_at, updated_at)
		VALUES ('wh_2', 'org_1', 'pw_1', 'rewards', 'https://c.example/', TRUE, 0, 0)`); err != nil {
		t.Fatal(err)
	}
	change := func(tx pathhook.Tx, id, url string) error {
		w, err := tx.Webhook(ctx, "org_1", id) // locks the row
		if err != nil {
			return err
		}
		w.URL = ptr(url)
		return tx.UpdateWebhook(ctx, w)
	}
	var runsA, runsB atomic.Int32
	held, proceed := make(chan struct{}), make(chan struct{})
	var holding sync.Once
	var wg sync.WaitGroup
	var errA, errB error
	wg.Go(func() {
		defer holding.Do(func() { close(held) })
		errB = db.Update(ctx, func(tx pathhook.Tx) error {
			first := runsB.Add(1) == 1
			w, err := tx.Webhook(ctx, "org_1", "wh_2") // locks the row
			if err != nil {
				return err
			}
			if first {
				holding.Do(func() { close(held) })
				<-proceed
			}
			w.URL = ptr("https://b.example/")
			return tx.UpdateWebhook(ctx, w)
		})
	})
	<-held
	wg.Go(func() {
		errA = db.Update(ctx, func(tx pathhook.Tx) error {
			runsA.Add(1)
			if err := change(tx, "wh_1", "https://a.example/"); err != nil {
				return err
			}
			return change(tx, "wh_2", "https://a.example/") // waits for B
		})
	})
	// A comes to wait for wh_2 meanwhile; on a slow machine it may not,
	// and the test passes without the cycle.
	time.Sleep(200 * time.Millisecond)
	close(proceed)
	wg.Wait()
	if errA != nil || errB != nil || runsA.Load() != 1 || runsB.Load() != 1 {
		t.Errorf("A ran %d times (%v), B %d times (%v); want once each", runsA.Load(), errA, runsB.Load(), errB)
	}
}

// TestGenerationOfTheChangedSchema changes a store's webhooks from a
// session whose search_path leads to another store's schema: the changed
// store's generation is raised.
func TestGenerationOfTheChangedSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := freshSchema(t)
	db, err := postgres.Open(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	oneWebhook(t, db)
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	schema := pu.Query().Get("search_path")
	other, err := postgres.Open(ctx, freshSchema(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	gen := func(table string) (g int64) {
		t.Helper()
		if err := other.SQL().QueryRowContext(ctx, "SELECT gen FROM "+table).Scan(&g); err != nil {
			t.Fatal(err)
		}
		return g
	}
	qualified := pgx.Identifier{schema, "cache_generation"}.Sanitize()
	before, otherBefore := gen(qualified), gen("cache_generation")
	if _, err := other.SQL().ExecContext(ctx, "UPDATE "+pgx.Identifier{schema, "webhooks"}.Sanitize()+" SET enabled = TRUE WHERE id = 'wh_1'"); err != nil {
		t.Fatal(err)
	}
	if after, otherAfter := gen(qualified), gen("cache_generation"); after <= before || otherAfter != otherBefore {
		t.Errorf("the changed schema's generation went from %d to %d, the session's from %d to %d; want only the first raised",
			before, after, otherBefore, otherAfter)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func ptr[T any](v T) *T { return &v }
