package ui

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"

	"github.com/pathhook/pathhook"
)

// session is one signed-in browser. It acts for the org of the API key
// that signed it in, while that key lives.
type session struct {
	orgID   string
	keyID   string
	keyHint string
	// csrf is the token that every form of this session carries.
	csrf    string
	expires time.Time
	// flash is shown by the next page and then forgotten: it carries
	// messages across a redirect, and a generated secret so that it never
	// appears in a URL.
	flash *flash
}

// flash is a message for the next page.
type flash struct {
	Kind    string // "ok" or "error"
	Message string
	// Secret and StandardSecret are set when a secret was just generated.
	Secret         string
	StandardSecret string
	// Link, if set, is where the message's subject can be seen.
	Link, LinkText string
}

// sessions keeps sessions in memory, keyed by a hash of their id so that
// the table alone does not let anyone act as a session.
type sessions struct {
	mu    sync.Mutex
	m     map[[32]byte]*session
	clock pathhook.Clock
	ttl   time.Duration
}

func newSessions(clock pathhook.Clock, ttl time.Duration) *sessions {
	return &sessions{m: map[[32]byte]*session{}, clock: clock, ttl: ttl}
}

// randomToken returns 32 random bytes in URL-safe base64.
func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create starts a session for key and returns its id, the cookie value.
// Expired sessions are dropped here, so that the table does not grow.
func (s *sessions) create(key *pathhook.APIKey) string {
	id := randomToken()
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m {
		if !now.Before(v.expires) {
			delete(s.m, k)
		}
	}
	s.m[sha256.Sum256([]byte(id))] = &session{orgID: key.OrgID, keyID: key.ID, keyHint: key.Hint, csrf: randomToken(),
		expires: now.Add(s.ttl)}
	return id
}

// get returns a copy of the live session with the given id, or false.
func (s *sessions) get(id string) (session, bool) {
	if id == "" {
		return session{}, false
	}
	h := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.m[h]
	if !ok {
		return session{}, false
	}
	if !s.clock().Before(sess.expires) {
		delete(s.m, h)
		return session{}, false
	}
	return *sess, true
}

// delete ends a session.
func (s *sessions) delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, sha256.Sum256([]byte(id)))
}

// setFlash leaves f for the session's next page.
func (s *sessions) setFlash(id string, f *flash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess, ok := s.m[sha256.Sum256([]byte(id))]; ok {
		sess.flash = f
	}
}

// takeFlash returns the session's flash, if any, and forgets it.
func (s *sessions) takeFlash(id string) *flash {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.m[sha256.Sum256([]byte(id))]
	if !ok {
		return nil
	}
	f := sess.flash
	sess.flash = nil
	return f
}
