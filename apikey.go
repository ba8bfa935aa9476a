package pathhook

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"strings"
	"time"
)

// DefaultOrg is the org that serve creates on a fresh database.
const DefaultOrg = "default"

// Org is a tenant: it sees only its own pathways, webhooks and deliveries.
type Org struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// APIKey grants access to one org's resources. Only a hash of the key is
// kept; Hint shows enough of it to tell keys apart.
type APIKey struct {
	ID        string     `json:"id"`
	OrgID     string     `json:"-"`
	Name      string     `json:"name"`
	Hint      string     `json:"hint"`
	Hash      []byte     `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// apiKeyPrefix starts every key that pathhook makes, so that secret
// scanners can find leaked ones.
const apiKeyPrefix = "phk_"

// MinAPIKeyLen is the shortest key accepted from PATHHOOK_ADMIN_KEY.
const MinAPIKeyLen = 24

// HashAPIKey returns the hash under which a key is kept. Keys carry 160
// random bits, so one round of SHA-256 is enough.
func HashAPIKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

func hint(key string) string {
	if len(key) < 12 {
		return "…"
	}
	return key[:8] + "…" + key[len(key)-4:]
}

func newAPIKeyValue() (string, error) {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return apiKeyPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])), nil
}

// Authenticate returns the live API key that key is, or EUNAUTHORIZED.
// A key that authenticated is trusted for KeyCacheTTL without another read.
func (s *Service) Authenticate(ctx context.Context, key string) (*APIKey, error) {
	unauthorized := Errorf(EUNAUTHORIZED, "a valid API key is required: send Authorization: Bearer <key>")
	if key == "" {
		return nil, unauthorized
	}
	hash := sha256.Sum256([]byte(key))
	now := s.clock()
	k, gen := s.keys.get(hash, now)
	if k != nil {
		return k, nil
	}
	err := s.store.View(ctx, func(tx Tx) (err error) {
		k, err = tx.APIKeyByHash(ctx, hash[:])
		return err
	})
	switch {
	case ErrorCode(err) == ENOTFOUND:
		return nil, unauthorized
	case err != nil:
		return nil, err
	case subtle.ConstantTimeCompare(k.Hash, hash[:]) != 1 || k.RevokedAt != nil:
		return nil, unauthorized
	}
	s.keys.put(hash, k, gen, now)
	return k, nil
}

// EnsureOrg returns the org with the given name, creating it if needed.
func (s *Service) EnsureOrg(ctx context.Context, name string) (*Org, error) {
	var v validation
	checkText(&v, "org", name, 100, true)
	if err := v.err(); err != nil {
		return nil, err
	}
	now := s.clock.now()
	var o *Org
	err := s.store.Update(ctx, func(tx Tx) (err error) {
		o, err = tx.OrgByName(ctx, name)
		if ErrorCode(err) != ENOTFOUND {
			return err
		}
		o = &Org{ID: s.ids.next(PrefixOrg, now), Name: name, CreatedAt: now}
		return tx.CreateOrg(ctx, o)
	})
	return o, err
}

// OrgNamed returns the org with the given name, or ENOTFOUND.
func (s *Service) OrgNamed(ctx context.Context, name string) (*Org, error) {
	var o *Org
	err := s.store.View(ctx, func(tx Tx) (err error) {
		o, err = tx.OrgByName(ctx, name)
		return err
	})
	return o, err
}

// CreateAPIKey makes a new key for an org and returns it; this is the only
// time the key itself is shown.
func (s *Service) CreateAPIKey(ctx context.Context, orgID, name string) (string, *APIKey, error) {
	key, err := newAPIKeyValue()
	if err != nil {
		return "", nil, err
	}
	k, err := s.storeAPIKey(ctx, orgID, name, key)
	return key, k, err
}

// CreateFirstAPIKey creates org orgName if need be and, when no API key
// exists yet in any org, a key for it, which it returns once; with keys
// already there it returns "". Nodes starting together on a new database
// make one key between them: the org's row is locked while each looks.
func (s *Service) CreateFirstAPIKey(ctx context.Context, orgName, name string) (string, error) {
	if _, err := s.EnsureOrg(ctx, orgName); err != nil {
		return "", err
	}
	key, err := newAPIKeyValue()
	if err != nil {
		return "", err
	}
	now := s.clock.now()
	created := false
	err = s.store.Update(ctx, func(tx Tx) error {
		created = false
		o, err := tx.OrgByName(ctx, orgName) // locks it, in a database that locks rows
		if err != nil {
			return err
		}
		if has, err := tx.HasAPIKeys(ctx); err != nil || has {
			return err
		}
		created = true
		return tx.CreateAPIKey(ctx, &APIKey{ID: s.ids.next(PrefixAPIKey, now), OrgID: o.ID, Name: name, Hint: hint(key),
			Hash: HashAPIKey(key), CreatedAt: now})
	})
	if err != nil || !created {
		return "", err
	}
	return key, nil
}

// EnsureAPIKey makes sure that key, given by the operator, is a live key of
// the org. It is stored as a hash like any other. A key that was revoked, or
// that is another org's, is ECONFLICT: storing it again would bring a
// revoked key back, or give one key two orgs.
func (s *Service) EnsureAPIKey(ctx context.Context, orgID, name, key string) (*APIKey, error) {
	if len(key) < MinAPIKeyLen {
		return nil, Invalid("PATHHOOK_ADMIN_KEY", "must be at least %d characters", MinAPIKeyLen)
	}
	k, err := s.knownAPIKey(ctx, orgID, key)
	if err != nil || k != nil {
		return k, err
	}
	k, err = s.storeAPIKey(ctx, orgID, name, key)
	if ErrorCode(err) == ECONFLICT {
		// Another process (a second node starting) stored it first.
		if known, kerr := s.knownAPIKey(ctx, orgID, key); known != nil || kerr != nil {
			return known, kerr
		}
	}
	return k, err
}

// knownAPIKey returns key if it is a live key of the org, nil if it is no
// key at all, and ECONFLICT if it was revoked or is another org's.
func (s *Service) knownAPIKey(ctx context.Context, orgID, key string) (*APIKey, error) {
	var k *APIKey
	err := s.store.View(ctx, func(tx Tx) (err error) {
		k, err = tx.APIKeyByHash(ctx, HashAPIKey(key))
		return err
	})
	switch {
	case ErrorCode(err) == ENOTFOUND:
		return nil, nil
	case err != nil:
		return nil, err
	case k.RevokedAt != nil:
		return nil, Errorf(ECONFLICT, "this key was revoked (%s, %s, at %s)", k.ID, k.Hint, k.RevokedAt.UTC().Format(time.RFC3339))
	case k.OrgID != orgID:
		return nil, Errorf(ECONFLICT, "this key belongs to another org")
	}
	return k, nil
}

func (s *Service) storeAPIKey(ctx context.Context, orgID, name, key string) (*APIKey, error) {
	var v validation
	checkText(&v, "name", name, 100, false)
	if err := v.err(); err != nil {
		return nil, err
	}
	now := s.clock.now()
	k := &APIKey{ID: s.ids.next(PrefixAPIKey, now), OrgID: orgID, Name: name, Hint: hint(key), Hash: HashAPIKey(key), CreatedAt: now}
	err := s.store.Update(ctx, func(tx Tx) error { return tx.CreateAPIKey(ctx, k) })
	if err != nil {
		return nil, err
	}
	return k, nil
}

// APIKeys returns an org's API keys, newest first, revoked ones included.
func (s *Service) APIKeys(ctx context.Context, orgID string) ([]APIKey, error) {
	var ks []APIKey
	err := s.store.View(ctx, func(tx Tx) (err error) {
		ks, err = tx.APIKeys(ctx, orgID)
		return err
	})
	return ks, err
}

// RevokeAPIKey ends an API key at once. Revoking it again is ECONFLICT.
func (s *Service) RevokeAPIKey(ctx context.Context, orgID, id string) (*APIKey, error) {
	now := s.clock.now()
	var k *APIKey
	err := s.store.Update(ctx, func(tx Tx) (err error) {
		if k, err = tx.APIKey(ctx, orgID, id); err != nil {
			return err
		}
		if k.RevokedAt != nil {
			return Errorf(ECONFLICT, "API key %q is already revoked", id)
		}
		k.RevokedAt = &now
		return tx.UpdateAPIKey(ctx, k)
	})
	if err == nil {
		s.keys.drop(k.Hash)
	}
	return k, err
}

// HasAPIKeys reports whether any API key exists, in any org.
func (s *Service) HasAPIKeys(ctx context.Context) (bool, error) {
	var has bool
	err := s.store.View(ctx, func(tx Tx) (err error) {
		has, err = tx.HasAPIKeys(ctx)
		return err
	})
	return has, err
}
