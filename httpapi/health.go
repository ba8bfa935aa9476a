package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/pathhook/pathhook"
)

// readyTimeout bounds the readiness check so that a hung database answers
// 503 rather than hanging the prober.
const readyTimeout = 2 * time.Second

type statusAnswer struct {
	Status string `json:"status"`
}

// healthz answers 200 whenever the server is serving.
func (s *server) healthz(w http.ResponseWriter, r *http.Request, _ *pathhook.APIKey) error {
	return respond(w, http.StatusOK, statusAnswer{Status: "ok"})
}

// readyz answers 200 when the server can do its work, 503 when not.
func (s *server) readyz(w http.ResponseWriter, r *http.Request, _ *pathhook.APIKey) error {
	if s.ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			// fail logs the cause.
			return fmt.Errorf("%w (%w)", errNotReady, err)
		}
	}
	return respond(w, http.StatusOK, statusAnswer{Status: "ready"})
}

var errNotReady error = pathhook.Errorf(pathhook.EUNAVAILABLE, "the server is not ready to serve")

// serveMetrics serves Config.Metrics, or 404 when there is none.
func (s *server) serveMetrics(w http.ResponseWriter, r *http.Request, _ *pathhook.APIKey) error {
	if s.metrics == nil {
		return pathhook.Errorf(pathhook.ENOTFOUND, "metrics are not enabled on this server")
	}
	s.metrics.ServeHTTP(w, r)
	return nil
}
