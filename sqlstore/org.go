package sqlstore

import (
	"context"

	"github.com/pathhook/pathhook"
)

// CreateOrg writes a new org; a name already taken is ECONFLICT.
func (t *txn) CreateOrg(ctx context.Context, o *pathhook.Org) error {
	return t.insertOnce(ctx, "create org", "INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)",
		[]any{o.ID, o.Name, micros(o.CreatedAt)}, "org %q already exists", o.Name)
}

// OrgByName returns the org with the given name, locked in a write
// transaction where the dialect locks rows.
func (t *txn) OrgByName(ctx context.Context, name string) (*pathhook.Org, error) {
	o := &pathhook.Org{}
	err := t.queryRow(ctx, "SELECT id, name, created_at FROM orgs WHERE name = ?"+t.forUpdate(), name).
		Scan(&o.ID, &o.Name, timeCol{&o.CreatedAt})
	if err := one(err, "org", pathhook.NotFound("org", name)); err != nil {
		return nil, err
	}
	return o, nil
}
