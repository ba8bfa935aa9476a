package sqlstore

import (
	"context"
	"database/sql"

	"github.com/pathhook/pathhook"
)

const apiKeyColumns = "id, org_id, name, hint, hash, created_at, revoked_at"

func scanAPIKey(s interface{ Scan(...any) error }, k *pathhook.APIKey) error {
	return s.Scan(&k.ID, &k.OrgID, &k.Name, &k.Hint, &k.Hash, timeCol{&k.CreatedAt}, nullTimeCol{&k.RevokedAt})
}

// CreateAPIKey writes a new key; a key whose hash exists is ECONFLICT.
func (t *txn) CreateAPIKey(ctx context.Context, k *pathhook.APIKey) error {
	_, err := t.exec(ctx, "INSERT INTO api_keys ("+apiKeyColumns+") VALUES (?, ?, ?, ?, ?, ?, ?)",
		k.ID, k.OrgID, k.Name, k.Hint, k.Hash, micros(k.CreatedAt), nullMicros(k.RevokedAt))
	return t.conflict(err, "create API key", "this API key exists already")
}

// APIKey returns one of org's keys.
func (t *txn) APIKey(ctx context.Context, orgID, id string) (*pathhook.APIKey, error) {
	k := &pathhook.APIKey{}
	row := t.queryRow(ctx, "SELECT "+apiKeyColumns+" FROM api_keys WHERE org_id = ? AND id = ?", orgID, id)
	if err := one(scanAPIKey(row, k), "API key", pathhook.NotFound("API key", id)); err != nil {
		return nil, err
	}
	return k, nil
}

// APIKeyByHash finds a key of any org by its hash.
func (t *txn) APIKeyByHash(ctx context.Context, hash []byte) (*pathhook.APIKey, error) {
	k := &pathhook.APIKey{}
	row := t.queryRow(ctx, "SELECT "+apiKeyColumns+" FROM api_keys WHERE hash = ?", hash)
	if err := one(scanAPIKey(row, k), "API key", pathhook.NotFound("API key", "")); err != nil {
		return nil, err
	}
	return k, nil
}

// APIKeys lists an org's keys, newest first.
func (t *txn) APIKeys(ctx context.Context, orgID string) ([]pathhook.APIKey, error) {
	rows, err := t.query(ctx, "SELECT "+apiKeyColumns+" FROM api_keys WHERE org_id = ? ORDER BY id DESC", orgID)
	if err != nil {
		return nil, fail("API keys", err)
	}
	return collect(rows, "API keys", scanAPIKey)
}

// UpdateAPIKey writes RevokedAt.
func (t *txn) UpdateAPIKey(ctx context.Context, k *pathhook.APIKey) error {
	res, err := t.exec(ctx, "UPDATE api_keys SET revoked_at = ? WHERE org_id = ? AND id = ?", nullMicros(k.RevokedAt), k.OrgID, k.ID)
	return mustAffect(res, err, "update API key", pathhook.NotFound("API key", k.ID))
}

// HasAPIKeys reports whether any key exists, in any org.
func (t *txn) HasAPIKeys(ctx context.Context) (bool, error) {
	var one int
	err := t.queryRow(ctx, "SELECT 1 FROM api_keys LIMIT 1").Scan(&one)
	switch {
	case err == sql.ErrNoRows:
		return false, nil
	case err != nil:
		return false, fail("has API keys", err)
	}
	return true, nil
}
