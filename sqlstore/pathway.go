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
		return t.pathwayRead(ctx, key)
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

// pathwayRead returns a pathway for a write transaction without the cache:
// what the transaction read of it and its webhooks before, or what the
// generation cache holds, or else a read of both in one statement, which
// Webhooks answers from next.
func (t *txn) pathwayRead(ctx context.Context, key cacheKey) (*pathhook.Pathway, error) {
	r, ok := t.read[key]
	if !ok {
		var err error
		if r, ok, err = t.fromGeneration(ctx, key); err != nil {
			return nil, err
		}
		if !ok {
			return t.pathwayAndWebhooks(ctx, key)
		}
		t.remember(key, r)
	}
	p := r.pathway
	return &p, nil
}

// remember keeps what the transaction knows of a pathway and its webhooks
// for its later calls of Pathway and Webhooks.
func (t *txn) remember(key cacheKey, r pathwayRead) {
	if t.read == nil {
		t.read = map[cacheKey]pathwayRead{}
	}
	t.read[key] = r
}

// pathwayAndWebhooksQuery reads a pathway with its webhooks, one row per
// webhook, or one row with an empty webhook id if it has none; each row
// starts with the value of the expression generation (Dialect.Generation),
// or an empty string if there is none.
func pathwayAndWebhooksQuery(generation string) string {
	gen := "''"
	if generation != "" {
		gen = generation
	}
	return "SELECT " + gen + `, p.id, p.org_id, p.name, p.description, p.created_at, p.updated_at,
	COALESCE(w.id, ''), COALESCE(w.org_id, ''), COALESCE(w.pathway_id, ''), COALESCE(w.category, ''), w.url,
	COALESCE(w.enabled, FALSE), w.secret, w.previous_secret, w.previous_secret_expires_at,
	COALESCE(w.created_at, 0), COALESCE(w.updated_at, 0), w.disabled_reason, w.failing_since
	FROM pathways p LEFT JOIN webhooks w ON w.org_id = p.org_id AND w.pathway_id = p.id
	WHERE p.org_id = ? AND p.id = ? ORDER BY w.id`
}

// pathwayAndWebhooks reads a pathway and its webhooks in one statement, for
// a write transaction without the cache (PostgreSQL, where each statement
// is a round trip): a change that reads a pathway goes on to emit an event,
// which reads the pathway's webhooks next. Pathway and Webhooks answer
// from this read (txn.read) until the transaction changes webhooks or
// pathways, and, on a database with a generation, so does the generation
// cache once the transaction commits.
func (t *txn) pathwayAndWebhooks(ctx context.Context, key cacheKey) (*pathhook.Pathway, error) {
	rows, err := t.query(ctx, t.db.pathwayQuery, key.org, key.pathway)
	if err != nil {
		return nil, fail("pathway", err)
	}
	defer rows.Close()
	var gen string
	var p *pathhook.Pathway
	ws := []pathhook.Webhook{}
	for rows.Next() {
		var row pathhook.Pathway
		var w pathhook.Webhook
		if err := rows.Scan(append(append([]any{&gen}, pathwayDest(&row)...), webhookDest(&w)...)...); err != nil {
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
	r := pathwayRead{pathway: *p, webhooks: ws}
	t.remember(key, r)
	if t.usesGenCache() {
		// Read in one statement: the rows are those of generation gen.
		if t.gen == "" {
			t.gen = gen
		}
		t.genFills = append(t.genFills, genRead{key: key, gen: gen, read: r})
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
