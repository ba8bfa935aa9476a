package pathhook

import (
	"crypto/sha256"
	"sync"
	"time"
)

// KeyCacheTTL is how long Authenticate trusts an API key it has read from
// the store before it reads it again. Every API call authenticates, and the
// read cost as much as the rest of a light call; this makes it one read per
// key per TTL. Revoking a key through a Service drops it from that
// Service's cache at once; a revocation made by another process (another
// node, or the CLI) takes effect here within KeyCacheTTL.
const KeyCacheTTL = time.Second

// keyCacheMax bounds the keys held; a full cache starts over. Only keys
// that authenticated are kept, so guessing cannot fill it.
const keyCacheMax = 4096

// keyCache holds live API keys by hash for a short while.
type keyCache struct {
	mu   sync.Mutex
	keys map[[sha256.Size]byte]cachedKey
	// gen changes with every revocation, so that a read that began
	// before a revocation does not put the revoked key back.
	gen uint64
}

type cachedKey struct {
	key   APIKey
	until time.Time
}

// get returns the key with the given hash if it is held and fresh at now,
// and the generation to pass to put after a read from the store.
func (c *keyCache) get(hash [sha256.Size]byte, now time.Time) (*APIKey, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.keys[hash]; ok && now.Before(e.until) {
		k := e.key
		return &k, c.gen
	}
	return nil, c.gen
}

// put keeps k, read from the store under generation gen, until now+ttl,
// unless a revocation has happened since.
func (c *keyCache) put(hash [sha256.Size]byte, k *APIKey, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.keys == nil || len(c.keys) >= keyCacheMax {
		c.keys = make(map[[sha256.Size]byte]cachedKey)
	}
	c.keys[hash] = cachedKey{key: *k, until: now.Add(KeyCacheTTL)}
}

// drop forgets the key with the given hash, and any read of it under way.
func (c *keyCache) drop(hash []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if len(hash) == sha256.Size {
		delete(c.keys, [sha256.Size]byte(hash))
	}
}
