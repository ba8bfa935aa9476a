package sqlite_test

import (
	"context"
	"testing"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/sqlite"
	"github.com/pathhook/pathhook/sqlstore"
)

// hookURL is where storeWithWebhook points the pathway's first webhook.
const hookURL = "https://example.com/a"

// storeWithWebhook opens the store at path with options o and box (nil
// keeps secrets in plain), and makes an org and a pathway whose first
// webhook (enrolments) is set up at hookURL and enabled. It returns the
// store, a Service on it, the org's id and the pathway.
func storeWithWebhook(tb testing.TB, path string, box pathhook.Sealer, o sqlite.Options) (*sqlstore.DB, *pathhook.Service, string, *pathhook.Pathway) {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.OpenOptions(ctx, path, box, o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	svc := pathhook.NewService(pathhook.Config{Store: db})
	org, err := svc.EnsureOrg(ctx, "org")
	if err != nil {
		tb.Fatal(err)
	}
	p, err := svc.CreatePathway(ctx, org.ID, pathhook.PathwayInput{Name: "P"})
	if err != nil {
		tb.Fatal(err)
	}
	secret, on := "0123456789abcdef0123456789abcdef", true
	w := p.Webhooks[0].ID
	if _, err := svc.SetupWebhook(ctx, org.ID, w, pathhook.WebhookSetup{URL: hookURL, Secret: &secret}); err != nil {
		tb.Fatal(err)
	}
	if _, err := svc.SwitchWebhook(ctx, org.ID, w, pathhook.WebhookSwitch{Enabled: &on}); err != nil {
		tb.Fatal(err)
	}
	return db, svc, org.ID, p
}
