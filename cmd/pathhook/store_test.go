package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/sqlite"
	"github.com/pathhook/pathhook/sqlstore"
)

// TestAWrongKeyIsRefused: a database whose webhook secrets were sealed
// under one master key is not served under another, nor with its key file
// lost (the new key file made for it is removed again): every delivery
// and API call needing a secret would fail.
func TestAWrongKeyIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	db := filepath.Join(t.TempDir(), "pathhook.db")
	key := newSecretKey()
	store, err := openStore(ctx, db, key, false, log)
	if err != nil {
		t.Fatal(err)
	}
	svc := pathhook.NewService(pathhook.Config{Store: store})
	org, err := svc.EnsureOrg(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.CreatePathway(ctx, org.ID, pathhook.PathwayInput{Name: "P"})
	if err != nil {
		t.Fatal(err)
	}
	secret := "s3cret-0123456789abcdef-0123456789"
	if _, err := svc.SetupWebhook(ctx, org.ID, p.Webhooks[0].ID, pathhook.WebhookSetup{URL: "https://example.com/hook", Secret: &secret}); err != nil {
		t.Fatal(err)
	}
	store.Close()

	_, err = openStore(ctx, db, newSecretKey(), false, log)
	if !errors.Is(err, sqlstore.ErrWrongKey) || !strings.Contains(err.Error(), "PATHHOOK_SECRET_KEY is not the key") {
		t.Errorf("another PATHHOOK_SECRET_KEY: %v", err)
	}
	_, err = openStore(ctx, db, "", false, log)
	if !errors.Is(err, sqlstore.ErrWrongKey) || !strings.Contains(err.Error(), "was missing") {
		t.Errorf("no key file: %v", err)
	}
	if _, err := os.Stat(db + ".key"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the key file made for the database is still there: %v", err)
	}
	store, err = openStore(ctx, db, key, false, log)
	if err != nil {
		t.Fatalf("the right key: %v", err)
	}
	store.Close()
}

// TestASecondServeTouchesNothing: a serve refused because another runs on
// the file does not open, and so does not migrate, the database.
func TestASecondServeTouchesNothing(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "pathhook.db")
	unlock, err := sqlite.LockServer(db)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	c := &config{db: db}
	_, _, err = openServeStore(context.Background(), c, "node", slog.New(slog.NewTextHandler(io.Discard, nil)), func(error) {})
	if err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("a second serve: %v", err)
	}
	for _, p := range []string{db, db + ".key"} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s was made by a serve that was refused: %v", p, err)
		}
	}
}

// TestAResultsDirThatCannotBeUsedIsRefused: a --results-dir given on
// purpose that cannot hold files stops serve, rather than serve running
// without the journal that keeps a crash from sending deliveries again.
func TestAResultsDirThatCannotBeUsedIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--results-dir", file}, testEnv(map[string]string{"PATHHOOK_DB": filepath.Join(dir, "p.db")}),
		strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--results-dir "+file) {
		t.Fatalf("serve with a file as --results-dir: %v", err)
	}
}
