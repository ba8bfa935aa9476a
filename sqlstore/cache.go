package sqlstore

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/pathhook/pathhook"
)

// Every change that emits an event reads its pathway and the pathway's
// webhooks, which change rarely; on SQLite those two reads cost about a
// third of an enrolment. A store with Config.Direct keeps them in memory
// for its write transactions, which all run on the one write connection
// and so see the database in turn:
//
//   - What a transaction reads is kept only once it has committed, and
//     only if nothing that may have changed what it read (a generation,
//     see bump) happened since the read.
//   - Any statement that changes rows of webhooks or pathways, a rollback
//     to a savepoint, and a commit by another connection (PRAGMA
//     data_version, checked once per transaction) empty the cache.
//   - Callers get copies, which they may change.
//
// Reads in View always ask the database. On PostgreSQL, write
// transactions keep their reads in the generation cache (genCache) below.

// maxCachedPathways bounds the cache; past it, it starts again empty.
const maxCachedPathways = 4096

type readCache struct {
	mu       sync.Mutex
	gen      uint64 // bumped whenever what the cache holds may be stale
	pathways map[cacheKey]pathhook.Pathway
	webhooks map[cacheKey][]pathhook.Webhook
}

type cacheKey struct{ org, pathway string }

// cacheFill is a read that a transaction made, kept once it commits.
type cacheFill struct {
	gen      uint64
	key      cacheKey
	pathway  *pathhook.Pathway
	webhooks []pathhook.Webhook
}

// bump empties the cache and invalidates the reads that transactions have
// made so far.
func (c *readCache) bump() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.pathways, c.webhooks = nil, nil
}

// current returns the generation that a read made now belongs to.
func (c *readCache) current() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *readCache) pathway(k cacheKey) (pathhook.Pathway, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pathways[k]
	return p, ok
}

func (c *readCache) webhookList(k cacheKey) ([]pathhook.Webhook, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ws, ok := c.webhooks[k]
	return ws, ok
}

// keep adds the reads of a committed transaction that are still current.
func (c *readCache) keep(fills []cacheFill) {
	if len(fills) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range fills {
		if f.gen != c.gen {
			continue
		}
		if len(c.pathways) >= maxCachedPathways || len(c.webhooks) >= maxCachedPathways {
			c.pathways, c.webhooks = nil, nil
		}
		if f.pathway != nil {
			if c.pathways == nil {
				c.pathways = map[cacheKey]pathhook.Pathway{}
			}
			c.pathways[f.key] = *f.pathway
		} else {
			if c.webhooks == nil {
				c.webhooks = map[cacheKey][]pathhook.Webhook{}
			}
			c.webhooks[f.key] = f.webhooks
		}
	}
}

// cached reports whether t may read through the cache. The first time in
// a transaction it learns whether another connection has committed since
// the write connection last looked, which empties the cache.
func (t *txn) cached() (bool, error) {
	if t.direct == nil || !t.write {
		return false, nil
	}
	if t.versionChecked {
		return true, nil
	}
	rows, err := t.direct.query(context.Background(), "PRAGMA data_version", nil)
	var v int64
	if err := (oneRow{rows: rows, err: err}).Scan(&v); err != nil {
		return false, fail("data version", err)
	}
	if !t.direct.versionKnown || v != t.direct.dataVersion {
		t.db.cache.bump()
	}
	t.direct.dataVersion, t.direct.versionKnown, t.versionChecked = v, true, true
	return true, nil
}

// changesCached reports whether a statement that changed rows may have
// changed what the cache holds: whether the table it inserts into,
// updates or deletes from (outside parentheses: a CTE or a subquery only
// reads) is webhooks or pathways. SET changes none; a statement of
// another form counts.
func changesCached(query string) bool {
	if len(query) > 4 && strings.EqualFold(query[:4], "SET ") {
		return false // a setting of the session or the transaction
	}
	depth := 0
	for i := 0; i < len(query); i++ {
		switch query[i] {
		case '(':
			depth++
			continue
		case ')':
			depth--
			continue
		}
		if depth != 0 || i > 0 && isWordByte(query[i-1]) {
			continue
		}
		for _, kw := range []string{"UPDATE", "INSERT INTO", "DELETE FROM", "REPLACE INTO", "INSERT OR REPLACE INTO"} {
			rest := query[i:]
			if len(rest) <= len(kw) || !strings.EqualFold(rest[:len(kw)], kw) || isWordByte(rest[len(kw)]) {
				continue
			}
			table := strings.TrimLeft(rest[len(kw):], " \t\r\n")
			end := 0
			for end < len(table) && isWordByte(table[end]) {
				end++
			}
			switch strings.ToLower(table[:end]) {
			case "webhooks", "pathways":
				return true
			}
			return false
		}
	}
	return true
}

func isWordByte(b byte) bool {
	return b == '_' || '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}

// copyWebhooks returns a copy of ws that shares no memory with it.
func copyWebhooks(ws []pathhook.Webhook) []pathhook.Webhook {
	out := slices.Clone(ws)
	for i := range out {
		w := &out[i]
		w.URL = clonePtr(w.URL)
		w.Secret = slices.Clone(w.Secret)
		w.PreviousSecret = slices.Clone(w.PreviousSecret)
		w.PreviousSecretExpiresAt = clonePtr(w.PreviousSecretExpiresAt)
		w.DisabledReason = clonePtr(w.DisabledReason)
		w.FailingSince = clonePtr(w.FailingSince)
	}
	return out
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// On a database with a generation (Dialect.Generation: PostgreSQL), every
// change to pathways or webhooks changes it, in the transaction that makes
// the change, on whichever node, so nodes can keep what they read without
// hearing from each other:
//
//   - Pathway, in a write transaction through a Pipe, reads a pathway,
//     its webhooks and the generation in one statement, and so sees them
//     as of one moment. The generation cache keeps the read, with that
//     generation, once the transaction commits.
//   - A later transaction asks the database for the generation once,
//     when the cache holds a pathway it needs. A read kept with that
//     generation is what the transaction would have read of the pathway
//     at that moment: nothing that the read could show has changed.
//   - A transaction that has changed webhooks or pathways, or may have,
//     reads them from the database from then on (txn.changedCached), which
//     shows it its own changes.
//
// So a transaction sees pathways and webhooks as of its first look at the
// generation, rather than as of each statement. In a group commit that
// moment comes after every call in the group arrived: a call that arrives
// after a change has committed is in a later group, and sees it. The
// calls of a group then read nothing, where without the cache each call
// for another pathway than the calls before it costs a round trip.

// genCache holds the reads of pathways with their webhooks, by pathway,
// each with the generation it was read at.
type genCache struct {
	mu    sync.Mutex
	reads map[cacheKey]genRead
}

// genRead is a pathway and its webhooks as read at generation gen.
type genRead struct {
	key  cacheKey
	gen  string
	read pathwayRead
}

func (c *genCache) get(k cacheKey) (genRead, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.reads[k]
	return r, ok
}

// keep adds the reads of a transaction that has committed. Of two
// transactions that read one pathway at different generations, the last
// to commit is kept: if its read is the older, the next transaction reads
// the pathway again.
func (c *genCache) keep(reads []genRead) {
	if len(reads) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range reads {
		if c.reads == nil || len(c.reads) >= maxCachedPathways {
			c.reads = map[cacheKey]genRead{}
		}
		c.reads[r.key] = r
	}
}

// usesGenCache reports whether t reads through the generation cache and
// keeps what it reads there: a write transaction through a Pipe, on a
// database with a generation, that has not changed webhooks or pathways.
func (t *txn) usesGenCache() bool {
	return t.pipe != nil && !t.changedCached && t.db.dialect.Generation() != ""
}

// fromGeneration returns what the generation cache holds of key for t: a
// read made at the generation the database holds now, which t asks for the
// first time. It reports false where t cannot use the cache.
func (t *txn) fromGeneration(ctx context.Context, key cacheKey) (pathwayRead, bool, error) {
	if !t.usesGenCache() {
		return pathwayRead{}, false, nil
	}
	r, ok := t.db.genCache.get(key)
	if !ok {
		return pathwayRead{}, false, nil // reading the pathway tells the generation too
	}
	if t.gen == "" {
		if err := t.queryRow(ctx, "SELECT "+t.db.dialect.Generation()).Scan(&t.gen); err != nil {
			return pathwayRead{}, false, fail("cache generation", err)
		}
	}
	if r.gen != t.gen {
		return pathwayRead{}, false, nil
	}
	return r.read, true, nil
}
