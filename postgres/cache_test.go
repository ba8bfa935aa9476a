package postgres_test

import (
	"context"
	"testing"
	"time"

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

	// A change that raises no generation (triggers off, as no node makes
	// one) is not seen: the transaction reads from memory.
	conn, err := sqldb.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"SET session_replication_role = replica",
		"UPDATE webhooks SET url = 'https://unseen.example/' WHERE id = 'wh_1'",
		"RESET session_replication_role"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn.Close()
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

	// A transaction that changes a webhook reads it back changed, though
	// memory holds the pathway as it was.
	read()
	err = db.Update(ctx, func(tx pathhook.Tx) error {
		ws, err := tx.Webhooks(ctx, "org_1", "pw_1")
		if err != nil {
			return err
		}
		w := ws[0]
		w.URL = ptr("https://d.example/hook")
		w.UpdatedAt = time.Now()
		if err := tx.UpdateWebhook(ctx, &w); err != nil {
			return err
		}
		if _, err := tx.Pathway(ctx, "org_1", "pw_1"); err != nil {
			return err
		}
		ws, err = tx.Webhooks(ctx, "org_1", "pw_1")
		if err != nil {
			return err
		}
		if got := deref(ws[0].URL); got != "https://d.example/hook" {
			t.Errorf("after its own change the transaction read URL %q", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	name, urls = read()
	want(name, urls, "Q", "https://d.example/hook")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func ptr[T any](v T) *T { return &v }
