package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/internal/pgtest"
	"github.com/pathhook/pathhook/postgres"
)

// TestReadsSurviveEndedConnections: once the server ends the store's
// connections (an operator's pg_terminate_backend, a restart), the next
// read runs again on a new connection instead of failing.
func TestReadsSurviveEndedConnections(t *testing.T) {
	t.Parallel()
	const app = "pathhook_connlost_test"
	ctx := context.Background()
	svc, org := serviceAs(t, app)
	for range 4 { // warm the pool
		if _, err := svc.APIKeys(ctx, org.ID); err != nil {
			t.Fatal(err)
		}
	}
	endConnections(t, app)
	for i := range 4 {
		if _, err := svc.APIKeys(ctx, org.ID); err != nil {
			t.Fatalf("read %d after the connections ended: %v", i, err)
		}
	}
}

// TestWritesSurviveEndedConnections: a write that meets a connection the
// server ended runs again on another, alone or in a group commit, and
// is saved once.
func TestWritesSurviveEndedConnections(t *testing.T) {
	t.Parallel()
	const app = "pathhook_connlost_write_test"
	ctx := context.Background()
	svc, org := serviceAs(t, app)
	made := 0
	create := func(what string, parallel int) {
		t.Helper()
		var wg sync.WaitGroup
		for i := range parallel {
			wg.Go(func() {
				if _, err := svc.CreatePathway(ctx, org.ID, pathhook.PathwayInput{Name: fmt.Sprintf("%s %d", what, i)}); err != nil {
					t.Errorf("%s, write %d: %v", what, i, err)
				}
			})
		}
		wg.Wait()
		made += parallel
	}
	create("warm-up", 16) // several connections in the pool
	endConnections(t, app)
	for i := range 4 {
		create(fmt.Sprint("alone after the first end ", i), 1)
	}
	create("together after the first end", 16)
	endConnections(t, app)
	create("together after the second end", 16)
	ps, _, err := svc.Pathways(ctx, org.ID, pathhook.Page{Limit: pathhook.MaxPageLimit})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for _, p := range ps {
		names[p.Name]++
	}
	for name, n := range names {
		if n != 1 {
			t.Errorf("pathway %q saved %d times", name, n)
		}
	}
	if len(names) != made {
		t.Errorf("%d pathways saved, want %d", len(names), made)
	}
}

// serviceAs returns a Service on a fresh schema whose connections are of
// application app, and an org in it.
func serviceAs(t *testing.T, app string) (*pathhook.Service, *pathhook.Org) {
	t.Helper()
	db := openWith(t, freshSchema(t)+"&application_name="+app, nil, postgres.Options{})
	svc := pathhook.NewService(pathhook.Config{Store: db})
	org, err := svc.EnsureOrg(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	return svc, org
}

// endConnections ends the connections of application app, as an
// operator's pg_terminate_backend or a restart would.
func endConnections(t *testing.T, app string) {
	t.Helper()
	admin, err := sql.Open("pgx", pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var ended int
	if err := admin.QueryRow("SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&ended); err != nil || ended == 0 {
		t.Fatalf("ended %d connections: %v", ended, err)
	}
}

// TestOneFirstKey: nodes starting together on a new database make one
// admin key between them, not one each.
func TestOneFirstKey(t *testing.T) {
	t.Parallel()
	u := freshSchema(t)
	ctx := context.Background()
	const nodes = 8
	keys := make(chan string, nodes)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range nodes {
		db, err := postgres.Open(ctx, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		svc := pathhook.NewService(pathhook.Config{Store: db})
		if _, err := svc.EnsureOrg(ctx, pathhook.DefaultOrg); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			<-start
			key, err := svc.CreateFirstAPIKey(ctx, pathhook.DefaultOrg, "admin")
			if err != nil {
				t.Error(err)
			}
			keys <- key
		})
	}
	close(start)
	wg.Wait()
	close(keys)
	made := 0
	for k := range keys {
		if k != "" {
			made++
		}
	}
	if made != 1 {
		t.Errorf("%d nodes made a first key, want 1", made)
	}
}
