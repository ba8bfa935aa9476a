package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/sqlite"
	"github.com/pathhook/pathhook/sqlstore"
)

// webhooksInUpdate returns what Webhooks says in a write transaction,
// where the store may answer from its cache.
func webhooksInUpdate(t *testing.T, db *sqlstore.DB, org, pathway string) []pathhook.Webhook {
	t.Helper()
	var ws []pathhook.Webhook
	err := db.Update(context.Background(), func(tx pathhook.Tx) (err error) {
		ws, err = tx.Webhooks(context.Background(), org, pathway)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func enrolled(t *testing.T, svc *pathhook.Service, org string, p *pathhook.Pathway, learner string) {
	t.Helper()
	in := pathhook.EnrolmentInput{Learner: &pathhook.Learner{ID: learner}}
	if _, err := svc.Enrol(context.Background(), org, p.ID, in); err != nil {
		t.Fatal(err)
	}
}

func deliveryCount(t *testing.T, svc *pathhook.Service, org, webhook string) int {
	t.Helper()
	ds, _, err := svc.Deliveries(context.Background(), org, webhook, "", pathhook.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return len(ds)
}

// TestCacheSeesChanges checks that the reads a write transaction makes of
// pathways and webhooks, which SQLite serves from memory, follow every
// change: the store's own, a result that Record writes, and a commit by
// another connection to the file.
func TestCacheSeesChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pathhook.db")
	db, svc, org, p := storeWithWebhook(t, path, nil, sqlite.Options{})
	w := p.Webhooks[0].ID
	enrolled(t, svc, org, p, "l1")
	enrolled(t, svc, org, p, "l2")
	if n := deliveryCount(t, svc, org, w); n != 2 {
		t.Fatalf("deliveries = %d, want 2", n)
	}

	// The store's own change.
	off := false
	if _, err := svc.SwitchWebhook(ctx, org, w, pathhook.WebhookSwitch{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	enrolled(t, svc, org, p, "l3")
	if n := deliveryCount(t, svc, org, w); n != 2 {
		t.Errorf("deliveries after the webhook was switched off = %d, want 2", n)
	}
	on := true
	if _, err := svc.SwitchWebhook(ctx, org, w, pathhook.WebhookSwitch{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	enrolled(t, svc, org, p, "l4")
	if n := deliveryCount(t, svc, org, w); n != 3 {
		t.Errorf("deliveries after the webhook was switched on = %d, want 3", n)
	}

	// A failure that Record writes.
	ds, _, err := svc.Deliveries(ctx, org, w, "", pathhook.Page{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	started := time.UnixMilli(1_700_000_000_000).UTC()
	code := 500
	err = db.Record(ctx, []pathhook.Result{{DeliveryID: ds[0].ID, WebhookID: w, Status: pathhook.DeliveryPending,
		NextAttemptAt: started.Add(time.Minute), Attempt: pathhook.Attempt{N: 1, StartedAt: started, ResponseStatus: &code}}})
	if err != nil {
		t.Fatal(err)
	}
	if fs := webhooksInUpdate(t, db, org, p.ID)[0].FailingSince; fs == nil || !fs.Equal(started) {
		t.Errorf("failing_since read in a transaction after Record = %v, want %v", fs, started)
	}

	// Another connection's commit.
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.ExecContext(ctx, "UPDATE webhooks SET url = 'https://example.com/b' WHERE id = ?", w); err != nil {
		t.Fatal(err)
	}
	if u := webhooksInUpdate(t, db, org, p.ID)[0].URL; u == nil || *u != "https://example.com/b" {
		t.Errorf("URL read in a transaction after another connection changed it = %v", u)
	}
}

// TestCacheForgetsUndoneReads runs concurrent Updates, grouped into shared
// transactions, where some change a webhook's URL, read it back and then
// fail: what they read was undone, and no later transaction may see it.
func TestCacheForgetsUndoneReads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _, org, p := storeWithWebhook(t, filepath.Join(t.TempDir(), "pathhook.db"), nil, sqlite.Options{})
	const rounds, callers = 5, 30
	for round := range rounds {
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				err := db.Update(ctx, func(tx pathhook.Tx) error {
					ws, err := tx.Webhooks(ctx, org, p.ID)
					if err != nil || i%2 == 0 {
						return err
					}
					u := fmt.Sprintf("https://example.com/undone-%d-%d", round, i)
					ws[0].URL = &u
					if err := tx.UpdateWebhook(ctx, &ws[0]); err != nil {
						return err
					}
					if _, err := tx.Webhooks(ctx, org, p.ID); err != nil {
						return err
					}
					return pathhook.Errorf(pathhook.EINVALID, "refused after writing")
				})
				if code := pathhook.ErrorCode(err); i%2 == 0 && err != nil || i%2 == 1 && code != pathhook.EINVALID {
					t.Errorf("Update %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if u := webhooksInUpdate(t, db, org, p.ID)[0].URL; u == nil || *u != hookURL {
			t.Fatalf("URL read in a transaction after round %d = %v, want %s", round, *u, hookURL)
		}
	}
}
