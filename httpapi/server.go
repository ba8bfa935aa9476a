// Package httpapi serves pathhook's management API: JSON over HTTP under
// /v1, authenticated by API keys, with RFC 9457 problem+json errors, plus the
// unauthenticated operational endpoints /healthz, /readyz, /openapi.json and
// /metrics.
//
// Every route is in routes.go; each resource has its own file; error.go holds
// the one mapping from pathhook error codes to HTTP statuses.
package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/pathhook/pathhook"
)

// Config holds what the API server needs. Service is required; the rest may
// be left zero.
type Config struct {
	// Service applies every change; the server only translates HTTP.
	Service *pathhook.Service
	// Logger receives one line per request and the real cause of every 500.
	// Nil discards.
	Logger *slog.Logger
	// Platform names the realm of WWW-Authenticate (default "Falkor").
	Platform string
	// Ready, if set, is asked by /readyz whether the server can do its work
	// (a database ping, say); an error answers 503.
	Ready func(context.Context) error
	// Metrics, if set, is served at /metrics without a key.
	Metrics http.Handler
	// RateLimit bounds requests per API key.
	RateLimit RateLimit
	// Clock drives the rate limiter and request timing (default time.Now).
	Clock pathhook.Clock
}

// RateLimit configures the token bucket that each API key gets: Burst
// requests at once, refilled at PerSecond. Zero fields take the defaults
// (100 per second, burst 200); a negative PerSecond turns limiting off.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// Rate limit defaults.
const (
	DefaultRatePerSecond = 100
	DefaultRateBurst     = 200
)

// DefaultPlatform is the platform name used when Config.Platform is empty.
const DefaultPlatform = "Falkor"

// server is the http.Handler that NewServer returns.
type server struct {
	svc      *pathhook.Service
	log      *slog.Logger
	platform string
	ready    func(context.Context) error
	metrics  http.Handler
	clock    pathhook.Clock
	limiter  *limiter // nil when rate limiting is off
	mux      *http.ServeMux
}

// NewServer returns the API as an http.Handler.
func NewServer(cfg Config) http.Handler {
	return newServer(cfg)
}

func newServer(cfg Config) *server {
	s := &server{svc: cfg.Service, log: cfg.Logger, platform: cfg.Platform, ready: cfg.Ready, metrics: cfg.Metrics, clock: cfg.Clock}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.platform == "" {
		s.platform = DefaultPlatform
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if rl := cfg.RateLimit; rl.PerSecond >= 0 {
		if rl.PerSecond == 0 {
			rl.PerSecond = DefaultRatePerSecond
		}
		if rl.Burst <= 0 {
			rl.Burst = DefaultRateBurst
		}
		s.limiter = newLimiter(rl.PerSecond, rl.Burst)
	}
	s.mux = http.NewServeMux()
	for _, rt := range s.routes() {
		s.mux.Handle(rt.method+" "+rt.path, s.handle(rt))
	}
	return s
}

// ServeHTTP logs the request, turns a panic into a 500 problem, and answers
// requests that match no route with a 404 or 405 problem.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.clock()
	sw := &statusWriter{ResponseWriter: w}
	h, route := s.mux.Handler(r)
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.recovered(sw, r, v)
		}
		s.logRequest(r, route, sw.status, s.clock().Sub(start))
	}()
	if route == "" {
		// An outer mux may have set its own pattern ("/v1/"); this request
		// matched none of ours.
		r.Pattern = ""
		s.unrouted(sw, r, h)
		return
	}
	s.mux.ServeHTTP(sw, r)
}
