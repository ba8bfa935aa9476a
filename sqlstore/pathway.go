package sqlstore

import (
	"context"

	"github.com/pathhook/pathhook"
)

const pathwayColumns = "id, org_id, name, description, created_at, updated_at"

func scanPathway(s interface{ Scan(...any) error }, p *pathhook.Pathway) error {
	return s.Scan(&p.ID, &p.OrgID, &p.Name, &p.Description, timeCol{&p.CreatedAt}, timeCol{&p.UpdatedAt})
}

// CreatePathway writes a new pathway.
func (t *txn) CreatePathway(ctx context.Context, p *pathhook.Pathway) error {
	_, err := t.exec(ctx, "INSERT INTO pathways ("+pathwayColumns+") VALUES (?, ?, ?, ?, ?, ?)",
		p.ID, p.OrgID, p.Name, p.Description, micros(p.CreatedAt), micros(p.UpdatedAt))
	return t.conflict(err, "create pathway", "pathway %q exists already", p.ID)
}

// Pathway returns one of org's pathways, without its webhooks.
func (t *txn) Pathway(ctx context.Context, orgID, id string) (*pathhook.Pathway, error) {
	cached, err := t.cached()
	if err != nil {
		return nil, err
	}
	key := cacheKey{orgID, id}
	if cached {
		if p, ok := t.db.cache.pathway(key); ok {
			return &p, nil
		}
	}
	gen := t.db.cache.current()
	p := &pathhook.Pathway{}
	row := t.queryRow(ctx, "SELECT "+pathwayColumns+" FROM pathways WHERE org_id = ? AND id = ?", orgID, id)
	if err := scanPathway(row, p); err != nil {
		return nil, one(err, "pathway", pathhook.NotFound("pathway", id))
	}
	if cached {
		t.fills = append(t.fills, cacheFill{gen: gen, key: key, pathway: clonePtr(p)})
	}
	return p, nil
}

// Pathways lists up to page.Limit of org's pathways older than the cursor,
// newest first.
func (t *txn) Pathways(ctx context.Context, orgID string, page pathhook.Page) ([]pathhook.Pathway, error) {
	q := "SELECT " + pathwayColumns + " FROM pathways WHERE org_id = ?"
	args := []any{orgID}
	if page.Cursor != "" {
		q += " AND id < ?"
		args = append(args, page.Cursor)
	}
	rows, err := t.query(ctx, q+" ORDER BY id DESC LIMIT ?", append(args, page.Limit)...)
	if err != nil {
		return nil, fail("pathways", err)
	}
	return collect(rows, "pathways", scanPathway)
}
