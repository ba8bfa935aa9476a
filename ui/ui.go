// Package ui is pathhook's admin web UI: server-rendered pages, embedded in
// the binary, through which a pathway's admins set up, switch on, test and
// watch its webhooks.
//
// An admin signs in with an API key; the UI keeps a server-side session and
// from then on acts for that key's org through the same *pathhook.Service
// that the JSON API uses, so both apply the same rules and speak the same
// error messages.
package ui

import (
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/pathhook/pathhook"
)

// Config holds what the UI needs. Service is required.
type Config struct {
	Service *pathhook.Service
	// Logger defaults to one that discards.
	Logger *slog.Logger
	// Platform names the platform in page titles and in the delivery
	// headers that the UI shows (Falkor-Webhook-Signature, ...); default
	// "Falkor".
	Platform string
	// Clock defaults to time.Now; it times sessions and the charts.
	Clock pathhook.Clock
	// Secure sets the Secure flag of the session cookie on every request;
	// without it, requests that came over https (r.TLS, or a proxy's
	// X-Forwarded-Proto: https) get it anyway.
	Secure bool
	// SessionTTL is how long a session lasts after sign-in; default 12h.
	SessionTTL time.Duration
	// Sessions keeps the sessions; nil keeps them in this process's
	// memory, where other nodes do not find them and a restart ends them.
	Sessions SessionStore
}

// handler serves the UI. Its sessions live in it, not in a global.
type handler struct {
	svc      *pathhook.Service
	log      *slog.Logger
	platform string
	clock    pathhook.Clock
	secure   bool
	sessions *sessions
	failures *failures // failed sign-ins, per client address
	pages    pages
	mux      *http.ServeMux
}

var platformName = regexp.MustCompile(`^[A-Za-z0-9-]+$`)

// New returns the UI's handler. It panics if cfg.Service is nil or the
// platform name is not letters, digits and "-", as these are programming
// errors that the caller checks beforehand.
func New(cfg Config) http.Handler {
	if cfg.Service == nil {
		panic("ui: Config.Service is nil")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Platform == "" {
		cfg.Platform = "Falkor"
	}
	if !platformName.MatchString(cfg.Platform) {
		panic("ui: platform name must be letters, digits and '-'")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Sessions == nil {
		cfg.Sessions = newMemorySessions()
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	h := &handler{
		svc: cfg.Service, log: cfg.Logger, platform: cfg.Platform, clock: cfg.Clock, secure: cfg.Secure,
		sessions: &sessions{store: cfg.Sessions, clock: cfg.Clock, ttl: cfg.SessionTTL, log: cfg.Logger},
		failures: newFailures(),
		pages:    parsePages(),
	}
	h.mux = h.routes()
	return h
}

// ServeHTTP sets the headers that every page wants, then routes.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
	h.mux.ServeHTTP(w, r)
}
