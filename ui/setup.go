package ui

import (
	"net/http"
	"strings"

	"github.com/pathhook/pathhook"
)

type setupPage struct {
	base
	Webhook *pathhook.Webhook
	Pathway *pathhook.Pathway
}

// URL returns the URL to show in the form: what was typed, or the
// webhook's own.
func (p *setupPage) URL() string {
	if p.Form.Failed("setup") {
		return p.Form.V("setup", "url")
	}
	return derefOr(p.Webhook.URL, "")
}

func (h *handler) setupForm(w http.ResponseWriter, r *http.Request, a *actor) {
	h.setupWith(w, r, a, http.StatusOK, nil)
}

func (h *handler) setupWith(w http.ResponseWriter, r *http.Request, a *actor, status int, f *form) {
	wh, pw, err := h.loadWebhook(r, a)
	if err != nil {
		h.fail(w, r, a, err)
		return
	}
	p := &setupPage{Webhook: wh, Pathway: pw}
	p.base = h.base(a, "Set up the "+strings.ToLower(categoryTitle(wh.Category))+" webhook", webhookCrumbs(pw, wh, crumb{Text: "Setup"})...)
	p.Form = f
	h.render(w, r, status, "setup", p)
}

// setup saves a webhook's URL and, if one was typed, its secret. The
// secret is never written back into the form.
func (h *handler) setup(w http.ResponseWriter, r *http.Request, a *actor) {
	in := pathhook.WebhookSetup{URL: strings.TrimSpace(r.PostFormValue("url"))}
	if s := r.PostFormValue("secret"); s != "" {
		in.Secret = &s
	}
	wh, err := h.svc.SetupWebhook(r.Context(), a.orgID, r.PathValue("id"), in)
	if err != nil {
		if f, status, ok := failedForm("setup", r, []string{"url", "secret"}, err); ok {
			f.Values["secret"] = ""
			h.setupWith(w, r, a, status, f)
			return
		}
		h.fail(w, r, a, err)
		return
	}
	msg := categoryTitle(wh.Category) + " webhook set up."
	if !wh.Enabled {
		msg += " Switch it on to start deliveries."
	}
	h.sessions.setFlash(r.Context(), a.sid, &flash{Kind: "ok", Message: msg})
	http.Redirect(w, r, "/pathways/"+wh.PathwayID+"#webhooks", http.StatusSeeOther)
}

// generateSecret sets a new strong secret and shows it once, on the setup
// page, through the session rather than the URL.
func (h *handler) generateSecret(w http.ResponseWriter, r *http.Request, a *actor) {
	id := r.PathValue("id")
	secret, err := h.svc.GenerateSecret(r.Context(), a.orgID, id, pathhook.DefaultGracePeriod)
	if err != nil {
		h.fail(w, r, a, err)
		return
	}
	h.sessions.setFlash(r.Context(), a.sid, &flash{Kind: "ok",
		Message: "New secret generated. Copy it now: it is not shown again. A previous secret keeps signing for 24 hours.",
		Secret:  secret, StandardSecret: pathhook.StandardSecret([]byte(secret))})
	http.Redirect(w, r, "/webhooks/"+id+"/setup", http.StatusSeeOther)
}
