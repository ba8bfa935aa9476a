package ui

import (
	"net/http"
	"path"
	"strings"
)

// routes holds every route of the UI. None starts with /v1, /healthz,
// /readyz, /metrics or /openapi.json, so the UI can be mounted at "/"
// beside the API.
func (h *handler) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.authed(func(w http.ResponseWriter, r *http.Request, _ *actor) {
		http.Redirect(w, r, "/pathways", http.StatusSeeOther)
	}))
	mux.HandleFunc("GET /signin", h.signinForm)
	mux.HandleFunc("POST /signin", h.signin)
	mux.HandleFunc("POST /signout", h.authed(h.signout))

	mux.HandleFunc("GET /pathways", h.authed(h.pathways))
	mux.HandleFunc("POST /pathways", h.authed(h.createPathway))
	mux.HandleFunc("GET /pathways/{id}", h.authed(h.pathway))
	mux.HandleFunc("POST /pathways/{id}/activities", h.authed(h.createActivity))
	mux.HandleFunc("POST /pathways/{id}/rewards", h.authed(h.createReward))
	mux.HandleFunc("POST /pathways/{id}/enrolments", h.authed(h.enrol))
	mux.HandleFunc("POST /pathways/{id}/completions", h.authed(h.complete))

	mux.HandleFunc("GET /webhooks/{id}", h.authed(h.webhook))
	mux.HandleFunc("GET /webhooks/{id}/setup", h.authed(h.setupForm))
	mux.HandleFunc("POST /webhooks/{id}/setup", h.authed(h.setup))
	mux.HandleFunc("POST /webhooks/{id}/secret", h.authed(h.generateSecret))
	mux.HandleFunc("POST /webhooks/{id}/switch", h.authed(h.switchWebhook))
	mux.HandleFunc("POST /webhooks/{id}/test", h.authed(h.testWebhook))

	mux.HandleFunc("GET /deliveries/{id}", h.authed(h.delivery))
	mux.HandleFunc("POST /deliveries/{id}/redeliver", h.authed(h.redeliver))

	mux.HandleFunc("GET /assets/{file}", h.asset)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { h.notFound(w, r, nil) })
	return mux
}

// asset serves the embedded CSS and script. They change only with the
// binary, so browsers may keep them for an hour.
func (h *handler) asset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := files.ReadFile("assets/" + name)
	if err != nil || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	switch path.Ext(name) {
	case ".css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case ".js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case ".svg":
		w.Header().Set("Content-Type", "image/svg+xml")
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(b)
}

// back returns the local path that a form asked to return to, or def.
func back(r *http.Request, def string) string {
	if b := r.PostFormValue("back"); b != "" {
		return localPath(b)
	}
	return def
}
