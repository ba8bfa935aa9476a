package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
func openStore(ctx context.Context, db, secretKey string, server bool, log *slog.Logger) (*sqlstore.DB, error) {
	box, err := openSealer(db, secretKey, log)
	if err != nil {
		return nil, err
	}
	if isPostgres(db) {
		return postgres.OpenOptions(ctx, db, box, postgres.Options{Warm: server})
	}
	return sqlite.Open(ctx, db, box)
}

func openSealer(db, secretKey string, log *slog.Logger) (pathhook.Sealer, error) {
	if secretKey != "" {
		key, err := secretbox.ParseKey(secretKey)
		if err != nil {
			return nil, fmt.Errorf("PATHHOOK_SECRET_KEY: %w", err)
		}
		return secretbox.New(key)
	}
	if isPostgres(db) {
		return nil, errors.New("PATHHOOK_SECRET_KEY is required with PostgreSQL, so that every node can read webhook secrets: set it to the base64 of 32 random bytes (openssl rand -base64 32)")
	}
	path := db + ".key"
	key, created, err := secretbox.LoadOrCreateKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("secret key file: %w", err)
	}
	if created {
		log.Warn("PATHHOOK_SECRET_KEY is not set: created a key file for webhook secrets; keep it with the database, and set PATHHOOK_SECRET_KEY in production", "path", path)
	}
	return secretbox.New(key)
}
