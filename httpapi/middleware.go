package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/pathhook/pathhook"
)

// handler is the shape of every route's handler: it writes a successful
// answer itself and returns any error for the one place that turns errors
// into problems. key is the caller's API key, nil on public routes.
type handler func(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error

// handle wraps a route's handler with authentication and rate limiting
// (unless the route is public) and with the error answer.
func (s *server) handle(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var key *pathhook.APIKey
		if !rt.public {
			var err error
			if key, err = s.authenticate(w, r); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		if err := checkPathIDs(r, rt.path); err != nil {
			s.fail(w, r, err)
			return
		}
		if err := rt.handler(w, r, key); err != nil {
			s.fail(w, r, err)
		}
	})
}

// checkPathIDs answers 404 for a route whose path holds, where an id goes,
// something that cannot be an id: bytes that are not UTF-8, or a control
// character. No such id exists, and PostgreSQL would refuse the query
// (a NUL or bad UTF-8 in text is an error there, not a miss).
func checkPathIDs(r *http.Request, pattern string) error {
	for rest := pattern; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			return nil
		}
		j := strings.IndexByte(rest[i:], '}')
		name := rest[i+1 : i+j]
		if v := r.PathValue(name); !pathhook.CanBeID(v) {
			return pathhook.Errorf(pathhook.ENOTFOUND, "no such resource: the path's %s %q is not valid UTF-8 or holds a control character", name, v)
		}
		rest = rest[i+j+1:]
	}
}

// authenticate finds the caller's API key in the Authorization header and
// takes a token from its rate-limit bucket.
func (s *server) authenticate(w http.ResponseWriter, r *http.Request) (*pathhook.APIKey, error) {
	token, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		return nil, pathhook.Errorf(pathhook.EUNAUTHORIZED, "an API key is required: send Authorization: Bearer <key>")
	}
	key, err := s.svc.Authenticate(r.Context(), token)
	if err != nil {
		return nil, err
	}
	if s.limiter != nil {
		if wait := s.limiter.take(key.ID, s.clock()); wait > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(int((wait+time.Second-1)/time.Second)))
			return nil, pathhook.Errorf(pathhook.ERATELIMITED, "too many requests with this API key: retry after %s", wait.Round(time.Millisecond))
		}
	}
	return key, nil
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
// The scheme is case-insensitive (RFC 9110, section 11.1).
func bearer(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// unrouted answers a request that matches no route. The mux's own answer
// (h) is plain text; only its status is kept, and the Allow header of a 405.
func (s *server) unrouted(w http.ResponseWriter, r *http.Request, h http.Handler) {
	probe := &probeWriter{header: http.Header{}}
	h.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", probe.header.Get("Allow"))
		s.fail(w, r, pathhook.Errorf(eMethodNotAllowed, "%s is not allowed on %s", r.Method, r.URL.Path))
		return
	}
	s.fail(w, r, pathhook.Errorf(pathhook.ENOTFOUND, "no such route: %s %s", r.Method, r.URL.Path))
}

// recovered answers a request whose handler panicked with a 500 problem,
// unless the answer had already begun.
func (s *server) recovered(w *statusWriter, r *http.Request, v any) {
	err := fmt.Errorf("panic: %v\n%s", v, debug.Stack())
	if w.status != 0 {
		s.log.Error("panic after the answer began", "method", r.Method, "route", r.Pattern, "error", err)
		return
	}
	s.fail(w, r, err)
}

// logRequest writes one line per request. It never logs bodies, query
// strings or headers, which may hold keys and secrets.
func (s *server) logRequest(r *http.Request, route string, status int, d time.Duration) {
	if route == "" {
		route = "(unrouted)"
	}
	if status == 0 {
		status = http.StatusOK
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("method", r.Method), slog.String("route", route), slog.Int("status", status), slog.Duration("duration", d))
}

// statusWriter remembers the status of the answer for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// probeWriter catches the mux's answer to an unrouted request.
type probeWriter struct {
	header http.Header
	status int
}

func (p *probeWriter) Header() http.Header         { return p.header }
func (p *probeWriter) Write(b []byte) (int, error) { return len(b), nil }
func (p *probeWriter) WriteHeader(status int)      { p.status = status }
