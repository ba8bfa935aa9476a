package sqlstore

import (
	"context"
	"fmt"

	"github.com/pathhook/pathhook"
)

const webhookColumns = `id, org_id, pathway_id, category, url, enabled, secret, previous_secret,
	previous_secret_expires_at, created_at, updated_at, disabled_reason, failing_since`

// scanWebhook reads a webhook with its secrets still sealed; unseal opens
// them.
func scanWebhook(s interface{ Scan(...any) error }, w *pathhook.Webhook) error {
	return s.Scan(webhookDest(w)...)
}

// webhookDest is where the webhookColumns of a row go.
func webhookDest(w *pathhook.Webhook) []any {
	return []any{&w.ID, &w.OrgID, &w.PathwayID, &w.Category, &w.URL, &w.Enabled, &w.Secret, &w.PreviousSecret,
		nullTimeCol{&w.PreviousSecretExpiresAt}, timeCol{&w.CreatedAt}, timeCol{&w.UpdatedAt}, &w.DisabledReason,
		nullTimeCol{&w.FailingSince}}
}

// unseal opens the secrets of a webhook read by scanWebhook.
func (db *DB) unseal(w *pathhook.Webhook) error {
	var err error
	if w.Secret, err = db.open(w.Secret); err != nil {
		return fmt.Errorf("sqlstore: webhook %s: secret: %w", w.ID, err)
	}
	if w.PreviousSecret, err = db.open(w.PreviousSecret); err != nil {
		return fmt.Errorf("sqlstore: webhook %s: previous secret: %w", w.ID, err)
	}
	w.SecretSet = len(w.Secret) > 0
	return nil
}

// sealed returns w's secrets as they are kept.
func (db *DB) sealed(w *pathhook.Webhook) (secret, previous []byte, err error) {
	if secret, err = db.seal(w.Secret); err != nil {
		return nil, nil, fmt.Errorf("sqlstore: webhook %s: seal secret: %w", w.ID, err)
	}
	if previous, err = db.seal(w.PreviousSecret); err != nil {
		return nil, nil, fmt.Errorf("sqlstore: webhook %s: seal previous secret: %w", w.ID, err)
	}
	return secret, previous, nil
}

// CreateWebhook writes a new webhook, sealing its secrets.
func (t *txn) CreateWebhook(ctx context.Context, w *pathhook.Webhook) error {
	secret, previous, err := t.db.sealed(w)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "INSERT INTO webhooks ("+webhookColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		w.ID, w.OrgID, w.PathwayID, w.Category, w.URL, w.Enabled, secret, previous,
		nullMicros(w.PreviousSecretExpiresAt), micros(w.CreatedAt), micros(w.UpdatedAt), w.DisabledReason,
		nullMicros(w.FailingSince))
	return t.conflict(err, "create webhook", "webhook %q exists already", w.ID)
}

// Webhook returns one of org's webhooks with its secrets in plain.
func (t *txn) Webhook(ctx context.Context, orgID, id string) (*pathhook.Webhook, error) {
	w := &pathhook.Webhook{}
	row := t.queryRow(ctx, "SELECT "+webhookColumns+" FROM webhooks WHERE org_id = ? AND id = ?"+t.forUpdate(), orgID, id)
	if err := one(scanWebhook(row, w), "webhook", pathhook.NotFound("webhook", id)); err != nil {
		return nil, err
	}
	if err := t.db.unseal(w); err != nil {
		return nil, err
	}
	return w, nil
}

// Webhooks returns a pathway's webhooks with their secrets in plain.
func (t *txn) Webhooks(ctx context.Context, orgID, pathwayID string) ([]pathhook.Webhook, error) {
	key := cacheKey{orgID, pathwayID}
	if r, ok := t.read[key]; ok {
		return copyWebhooks(r.webhooks), nil
	}
	cached, err := t.cached()
	if err != nil {
		return nil, err
	}
	if cached {
		if ws, ok := t.db.cache.webhookList(key); ok {
			return copyWebhooks(ws), nil
		}
	}
	gen := t.db.cache.current()
	ws, err := t.webhooks(ctx, orgID, pathwayID)
	if err != nil {
		return nil, err
	}
	if cached {
		t.fills = append(t.fills, cacheFill{gen: gen, key: key, webhooks: copyWebhooks(ws)})
	}
	return ws, nil
}

func (t *txn) webhooks(ctx context.Context, orgID, pathwayID string) ([]pathhook.Webhook, error) {
	rows, err := t.query(ctx, "SELECT "+webhookColumns+" FROM webhooks WHERE org_id = ? AND pathway_id = ? ORDER BY id",
		orgID, pathwayID)
	if err != nil {
		return nil, fail("webhooks", err)
	}
	ws, err := collect(rows, "webhooks", scanWebhook)
	if err != nil {
		return nil, err
	}
	for i := range ws {
		if err := t.db.unseal(&ws[i]); err != nil {
			return nil, err
		}
	}
	return ws, nil
}

// UpdateWebhook writes URL, Enabled, the secrets (sealed), DisabledReason,
// FailingSince and UpdatedAt.
func (t *txn) UpdateWebhook(ctx context.Context, w *pathhook.Webhook) error {
	secret, previous, err := t.db.sealed(w)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, `UPDATE webhooks SET url = ?, enabled = ?, secret = ?, previous_secret = ?,
		previous_secret_expires_at = ?, disabled_reason = ?, failing_since = ?, updated_at = ?
		WHERE org_id = ? AND id = ?`,
		w.URL, w.Enabled, secret, previous, nullMicros(w.PreviousSecretExpiresAt), w.DisabledReason,
		nullMicros(w.FailingSince), micros(w.UpdatedAt), w.OrgID, w.ID)
	return mustAffect(res, err, "update webhook", pathhook.NotFound("webhook", w.ID))
}
