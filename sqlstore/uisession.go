package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/pathhook/pathhook"
)

// CreateUISession adds a session of the admin UI, and drops the sessions
// that ended before now. Its flash is sealed. It implements
// ui.SessionStore.
func (db *DB) CreateUISession(ctx context.Context, s *pathhook.UISession, now time.Time) error {
	flash, err := db.seal(s.Flash)
	if err != nil {
		return fail("ui session", err)
	}
	return db.boundedWriteTx(ctx, func(t *txn) error {
		if _, err := t.exec(ctx, "DELETE FROM ui_sessions WHERE expires_at <= ?", micros(now)); err != nil {
			return fail("ui sessions ended", err)
		}
		_, err := t.exec(ctx, `INSERT INTO ui_sessions (id_hash, org_id, key_id, key_hint, csrf, expires_at, flash)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, s.IDHash, s.OrgID, s.KeyID, s.KeyHint, s.CSRF, micros(s.ExpiresAt), flash)
		if err != nil {
			return fail("ui session", err)
		}
		return nil
	})
}

// SetUISessionFlash replaces the flash of a session of the admin UI, sealed;
// a session that has ended is ENOTFOUND, and stays ended. It implements
// ui.SessionStore.
func (db *DB) SetUISessionFlash(ctx context.Context, idHash string, flash []byte) error {
	sealed, err := db.seal(flash)
	if err != nil {
		return fail("ui session", err)
	}
	return db.boundedWriteTx(ctx, func(t *txn) error {
		res, err := t.exec(ctx, "UPDATE ui_sessions SET flash = ? WHERE id_hash = ?", sealed, idHash)
		return mustAffect(res, err, "ui session", pathhook.NotFound("session", ""))
	})
}

// UISession returns the admin UI's session of an IDHash, its flash
// opened, or ENOTFOUND. It implements ui.SessionStore.
func (db *DB) UISession(ctx context.Context, idHash string) (*pathhook.UISession, error) {
	ctx, cancel := context.WithTimeout(ctx, db.txTimeout)
	defer cancel()
	s := &pathhook.UISession{IDHash: idHash}
	var flash []byte
	err := db.read.QueryRowContext(ctx, db.rebound(`SELECT org_id, key_id, key_hint, csrf, expires_at, flash
		FROM ui_sessions WHERE id_hash = ?`), idHash).Scan(&s.OrgID, &s.KeyID, &s.KeyHint, &s.CSRF, timeCol{&s.ExpiresAt}, &flash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, pathhook.NotFound("session", "")
	}
	if err != nil {
		return nil, db.unavailable(fail("ui session", err))
	}
	if s.Flash, err = db.open(flash); err != nil {
		return nil, fail("ui session", err)
	}
	return s, nil
}

// DeleteUISession ends a session of the admin UI. It implements
// ui.SessionStore.
func (db *DB) DeleteUISession(ctx context.Context, idHash string) error {
	return db.boundedWriteTx(ctx, func(t *txn) error {
		if _, err := t.exec(ctx, "DELETE FROM ui_sessions WHERE id_hash = ?", idHash); err != nil {
			return fail("ui session", err)
		}
		return nil
	})
}
