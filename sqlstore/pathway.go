package sqlstore

import (
	"context"

	"github.com/pathhook/pathhook"
)

const pathwayColumns = "id, org_id, name, description, created_at, updated_at"

func scanPathway(s interface{ Scan(...any) error }, p *pathhook.Pathway) error {
	return s.Scan(pathwayDest(p)...)
}

// pathwayDest is where the pathwayColumns of a row go.
func pathwayDest(p *pathhook.Pathway) []any {
	return []any{&p.ID, &p.OrgID, &p.Name, &p.Description, timeCol{&p.CreatedAt}, timeCol{&p.UpdatedAt}}
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
	} else if t.write {
		if r, ok := t.read[key]; ok {
			p := r.pathway
			return &p, nil
		}
		return t.pathwayAndWebhooks(ctx, key)
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

// pathwayAndWebhooksQuery reads a pathway with its webhooks, one row per
// webhook, or one row with an empty webhook id if it has none.
const pathwayAndWebhooksQuery = `SELECT p.id, p.org_id, p.name, p.description, p.created_at, p.updated_at,
	COALESCE(w.id, ''), COALESCE(w.org_id, ''), COALESCE(w.pathway_id, ''), COALESCE(w.category, ''), w.url,
	COALESCE(w.enabled, FALSE), w.secret, w.previous_secret, w.previous_secret_expires_at,
	COALESCE(w.created_at, 0), COALESCE(w.updated_at, 0), w.disabled_reason, w.failing_since
	FROM pathways p LEFT JOIN webhooks w ON w.org_id = p.org_id AND w.pathway_id = p.id
	WHERE p.org_id = ? AND p.id = ? ORDER BY w.id`

// pathwayAndWebhooks reads a pathway and its webhooks in one statement, for
// a write transaction without the cache (PostgreSQL, where each statement
// is a round trip): a change that reads a pathway goes on to emit an event,
// which reads the pathway's webhooks next. Pathway and Webhooks answer
// from this read (txn.read) until the transaction changes webhooks or
// pathways.
func (t *txn) pathwayAndWebhooks(ctx context.Context, key cacheKey) (*pathhook.Pathway, error) {
	rows, err := t.query(ctx, pathwayAndWebhooksQuery, key.org, key.pathway)
	if err != nil {
		return nil, fail("pathway", err)
	}
	defer rows.Close()
	var p *pathhook.Pathway
	ws := []pathhook.Webhook{}
	for rows.Next() {
		var row pathhook.Pathway
		var w pathhook.Webhook
		if err := rows.Scan(append(pathwayDest(&row), webhookDest(&w)...)...); err != nil {
			return nil, fail("pathway", err)
		}
		p = &row
		if w.ID == "" {
			continue // the pathway has no webhooks
		}
		if err := t.db.unseal(&w); err != nil {
			return nil, err
		}
		ws = append(ws, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("pathway", err)
	}
	if p == nil {
		return nil, pathhook.NotFound("pathway", key.pathway)
	}
	if t.read == nil {
		t.read = map[cacheKey]pathwayRead{}
	}
	t.read[key] = pathwayRead{pathway: *p, webhooks: ws}
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
