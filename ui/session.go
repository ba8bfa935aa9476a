package ui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/pathhook/pathhook"
)

// SessionStore keeps the UI's sessions (Config.Sessions). *sqlstore.DB
// implements it, so that every node on one database knows every session,
// and a restart signs nobody out.
type SessionStore interface {
	// CreateUISession adds a session; it may drop sessions that ended
	// before now.
	CreateUISession(ctx context.Context, s *pathhook.UISession, now time.Time) error
	// SetUISessionFlash replaces a session's flash (nil: none), or is
	// ENOTFOUND: a session that has ended is never made again.
	SetUISessionFlash(ctx context.Context, idHash string, flash []byte) error
	// UISession returns the session of an IDHash, or ENOTFOUND.
	UISession(ctx context.Context, idHash string) (*pathhook.UISession, error)
	// DeleteUISession ends a session; one that does not exist is no error.
	DeleteUISession(ctx context.Context, idHash string) error
}

// session is one signed-in browser. It acts for the org of the API key
// that signed it in, while that key lives.
type session struct {
	orgID   string
	keyID   string
	keyHint string
	// csrf is the token that every form of this session carries.
	csrf    string
	expires time.Time
}

// flash is a message for the next page: it carries messages across a
// redirect, and a generated secret so that it never appears in a URL.
type flash struct {
	Kind    string // "ok" or "error"
	Message string
	// Secret and StandardSecret are set when a secret was just generated.
	Secret         string
	StandardSecret string
	// Link, if set, is where the message's subject can be seen.
	Link, LinkText string
}

// sessions keeps sessions in a SessionStore, keyed by a hash of their id,
// so that the table alone does not let anyone act as a session.
type sessions struct {
	store SessionStore
	clock pathhook.Clock
	ttl   time.Duration
	log   *slog.Logger
}

// randomToken returns 32 random bytes in URL-safe base64.
func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// idHash is how a session id is kept: its SHA-256, in hex.
func idHash(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

// create starts a session for key and returns its id, the cookie value.
func (s *sessions) create(ctx context.Context, key *pathhook.APIKey) (string, error) {
	id := randomToken()
	now := s.clock()
	err := s.store.CreateUISession(ctx, &pathhook.UISession{IDHash: idHash(id), OrgID: key.OrgID, KeyID: key.ID,
		KeyHint: key.Hint, CSRF: randomToken(), ExpiresAt: now.Add(s.ttl)}, now)
	return id, err
}

// get returns the live session with the given id; ok is false when there
// is none.
func (s *sessions) get(ctx context.Context, id string) (sess session, ok bool, err error) {
	if id == "" {
		return session{}, false, nil
	}
	us, err := s.store.UISession(ctx, idHash(id))
	switch {
	case pathhook.ErrorCode(err) == pathhook.ENOTFOUND:
		return session{}, false, nil
	case err != nil:
		return session{}, false, err
	case !s.clock().Before(us.ExpiresAt):
		s.delete(ctx, id)
		return session{}, false, nil
	}
	return session{orgID: us.OrgID, keyID: us.KeyID, keyHint: us.KeyHint, csrf: us.CSRF, expires: us.ExpiresAt}, true, nil
}

// delete ends a session. A failure is logged: the session then ends when
// it expires.
func (s *sessions) delete(ctx context.Context, id string) {
	if err := s.store.DeleteUISession(ctx, idHash(id)); err != nil {
		s.log.ErrorContext(ctx, "ui: ending a session", "err", err)
	}
}

// setFlash leaves f for the session's next page. A failure is logged: the
// next page goes without it.
func (s *sessions) setFlash(ctx context.Context, id string, f *flash) {
	if err := s.putFlash(ctx, id, f); err != nil {
		s.log.ErrorContext(ctx, "ui: keeping a message for the next page", "err", err)
	}
}

func (s *sessions) putFlash(ctx context.Context, id string, f *flash) error {
	var b []byte
	if f != nil {
		var err error
		if b, err = json.Marshal(f); err != nil {
			return err
		}
	}
	return s.store.SetUISessionFlash(ctx, idHash(id), b)
}

// takeFlash returns the session's flash, if any, and forgets it.
func (s *sessions) takeFlash(ctx context.Context, id string) *flash {
	us, err := s.store.UISession(ctx, idHash(id))
	if err != nil || us.Flash == nil {
		if err != nil && pathhook.ErrorCode(err) != pathhook.ENOTFOUND {
			s.log.ErrorContext(ctx, "ui: reading the message for this page", "err", err)
		}
		return nil
	}
	var f flash
	if err := json.Unmarshal(us.Flash, &f); err != nil {
		s.log.ErrorContext(ctx, "ui: reading the message for this page", "err", err)
	}
	if err := s.store.SetUISessionFlash(ctx, idHash(id), nil); err != nil && pathhook.ErrorCode(err) != pathhook.ENOTFOUND {
		s.log.ErrorContext(ctx, "ui: forgetting the message of this page", "err", err)
	}
	return &f
}

// memorySessions is the SessionStore of a UI without one: this process's
// memory. Its sessions end with the process, and other nodes do not know
// them.
type memorySessions struct {
	mu sync.Mutex
	m  map[string]pathhook.UISession
}

func newMemorySessions() *memorySessions { return &memorySessions{m: map[string]pathhook.UISession{}} }

func (m *memorySessions) CreateUISession(_ context.Context, s *pathhook.UISession, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, v := range m.m { // drop the ended ones, so that the map does not grow
		if !now.Before(v.ExpiresAt) {
			delete(m.m, k)
		}
	}
	m.m[s.IDHash] = *s
	return nil
}

func (m *memorySessions) SetUISessionFlash(_ context.Context, idHash string, flash []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.m[idHash]
	if !ok {
		return pathhook.NotFound("session", "")
	}
	s.Flash = flash
	m.m[idHash] = s
	return nil
}

func (m *memorySessions) UISession(_ context.Context, idHash string) (*pathhook.UISession, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.m[idHash]
	if !ok {
		return nil, pathhook.NotFound("session", "")
	}
	return &s, nil
}

func (m *memorySessions) DeleteUISession(_ context.Context, idHash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, idHash)
	return nil
}
