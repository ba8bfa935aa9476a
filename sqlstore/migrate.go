package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrNewerSchema is Migrate's error for a database that a newer pathhook
// has migrated.
var ErrNewerSchema = errors.New("sqlstore: the database's schema is newer than this pathhook")

// migration is one file of the schema: NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// Migrate applies, in one transaction, the dialect's migrations that the
// database has not recorded in schema_migrations. Nodes starting at the
// same moment take turns through Dialect.LockMigrations; the second finds
// nothing left to do.
func (db *DB) Migrate(ctx context.Context) error {
	ms, err := loadMigrations(db.dialect.Migrations())
	if err != nil {
		return err
	}
	return db.retry(ctx, func() error {
		tx, err := db.write.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("sqlstore: migrate: begin: %w", err)
		}
		defer tx.Rollback()
		if err := db.migrate(ctx, tx, ms); err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("sqlstore: migrate: commit: %w", err)
		}
		return nil
	})
}

func (db *DB) migrate(ctx context.Context, tx *sql.Tx, ms []migration) error {
	if err := db.dialect.LockMigrations(ctx, tx); err != nil {
		return fmt.Errorf("sqlstore: migrate: lock: %w", err)
	}
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at BIGINT NOT NULL)`
	if _, err := tx.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	applied := map[int]bool{}
	rows, err := tx.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("sqlstore: migrate: %w", err)
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	// A version this build does not know was applied by a newer one,
	// whose schema this build may misread or damage.
	known := map[int]bool{}
	for _, m := range ms {
		known[m.version] = true
	}
	for v := range applied {
		if !known[v] {
			return fmt.Errorf("%w: the database has schema version %d, which this pathhook does not know (it knows 1 to %d): run the pathhook that migrated it, or a newer one",
				ErrNewerSchema, v, len(ms))
		}
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("sqlstore: migration %04d_%s: %w", m.version, m.name, err)
		}
		record := db.rebound("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
		if _, err := tx.ExecContext(ctx, record, m.version, m.name, micros(time.Now())); err != nil {
			return fmt.Errorf("sqlstore: migration %04d_%s: %w", m.version, m.name, err)
		}
	}
	return nil
}

// loadMigrations reads the NNNN_name.sql files of fsys in version order.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || path.Ext(name) != ".sql" {
			continue
		}
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("sqlstore: migration file %q is not named NNNN_name.sql", name)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: migrations: %w", err)
		}
		ms = append(ms, migration{version: v, name: rest, sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("sqlstore: two migrations have version %d", ms[i].version)
		}
	}
	return ms, nil
}
