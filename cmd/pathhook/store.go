package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/postgres"
	"github.com/pathhook/pathhook/secretbox"
	"github.com/pathhook/pathhook/sqlite"
	"github.com/pathhook/pathhook/sqlstore"
)

// isPostgres reports whether db names a PostgreSQL database.
func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// openStore opens the SQLite file or PostgreSQL database that db names, with
// webhook secrets sealed under the master key: PATHHOOK_SECRET_KEY, or for
// SQLite a key file beside the database, made on first use. A server opens
// PostgreSQL's connections at once (postgres.Options.Warm); a command that
// makes one change does not.
//
// The key must open the webhook secrets that the database already holds: a
// lost key file or a wrong PATHHOOK_SECRET_KEY is refused here, not found
// out by the first delivery that needs a secret. A key file made for such
// a database is removed again.
func openStore(ctx context.Context, db, secretKey string, server bool, log *slog.Logger) (*sqlstore.DB, error) {
	box, created, err := openSealer(db, secretKey)
	if err != nil {
		return nil, err
	}
	var store *sqlstore.DB
	if isPostgres(db) {
		store, err = postgres.OpenOptions(ctx, db, box, postgres.Options{Warm: server})
	} else {
		store, err = sqlite.Open(ctx, db, box)
	}
	if err == nil {
		err = store.CheckSecrets(ctx)
		if err != nil {
			store.Close()
		}
	}
	switch {
	case errors.Is(err, sqlstore.ErrWrongKey) && created != "":
		os.Remove(created)
		return nil, fmt.Errorf("%w: the key file %s was missing, and a new key cannot open them; put back the key file the database was made with, or set PATHHOOK_SECRET_KEY to its key", err, created)
	case errors.Is(err, sqlstore.ErrWrongKey) && secretKey != "":
		return nil, fmt.Errorf("%w: PATHHOOK_SECRET_KEY is not the key they were sealed with", err)
	case errors.Is(err, sqlstore.ErrWrongKey):
		return nil, fmt.Errorf("%w: the key file %s is not the one they were sealed with", err, db+".key")
	case err != nil:
		if created != "" {
			os.Remove(created) // nothing was sealed with it
		}
		return nil, err
	}
	if created != "" {
		log.Warn("PATHHOOK_SECRET_KEY is not set: created a key file for webhook secrets; keep it with the database, and set PATHHOOK_SECRET_KEY in production", "path", created)
	}
	return store, nil
}

// openSealer returns the sealer of the master key, and the path of the key
// file if it made one.
func openSealer(db, secretKey string) (box pathhook.Sealer, created string, err error) {
	if secretKey != "" {
		key, err := secretbox.ParseKey(secretKey)
		if err != nil {
			return nil, "", fmt.Errorf("PATHHOOK_SECRET_KEY: %w", err)
		}
		box, err = secretbox.New(key)
		return box, "", err
	}
	if isPostgres(db) {
		return nil, "", errors.New("PATHHOOK_SECRET_KEY is required with PostgreSQL, so that every node can read webhook secrets: set it to the base64 of 32 random bytes (openssl rand -base64 32)")
	}
	path := db + ".key"
	key, made, err := secretbox.LoadOrCreateKeyFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("secret key file: %w", err)
	}
	if made {
		created = path
	}
	box, err = secretbox.New(key)
	return box, created, err
}
