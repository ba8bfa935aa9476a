// Package pgtest gives tests a PostgreSQL database to use: the one that
// PATHHOOK_TEST_POSTGRES names, in a schema of each test's own.
package pgtest

import (
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to make schemas
)

// URL returns PATHHOOK_TEST_POSTGRES, or skips t without it; with
// PATHHOOK_REQUIRE_POSTGRES=1 (as in CI) a missing database fails t.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("PATHHOOK_TEST_POSTGRES")
	if u == "" {
		if os.Getenv("PATHHOOK_REQUIRE_POSTGRES") == "1" {
			t.Fatal("PATHHOOK_REQUIRE_POSTGRES=1 but PATHHOOK_TEST_POSTGRES is not set")
		}
		t.Skip("PATHHOOK_TEST_POSTGRES is not set (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	return u
}

// Schema makes a schema of its own for t, named with prefix, so that
// tests running at the same time never meet, and returns the test
// database's URL with that schema as search path. The schema is dropped
// when t ends; call Schema before anything that uses it, so that its
// cleanup runs last.
func Schema(t testing.TB, prefix string) string {
	t.Helper()
	base := URL(t)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	schema := prefix + strings.ToLower(rand.Text()[:12])
	if _, err := admin.Exec(`CREATE SCHEMA "` + schema + `"`); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP SCHEMA "` + schema + `" CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
