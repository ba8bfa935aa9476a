package ui

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/pathhook/pathhook"
)

// deliveryRow is a delivery as the log lists it, with its last attempt.
type deliveryRow struct {
	pathhook.Delivery
	Last *pathhook.Attempt
}

type webhookPage struct {
	base
	Webhook  *pathhook.Webhook
	Pathway  *pathhook.Pathway
	Stats    *stats
	Status   string // the log's filter
	Cursor   string
	Next     string
	Log      []deliveryRow
	Statuses []string
}

// loadWebhook returns one of the org's webhooks with its pathway.
func (h *handler) loadWebhook(r *http.Request, a *actor) (*pathhook.Webhook, *pathhook.Pathway, error) {
	wh, err := h.svc.Webhook(r.Context(), a.orgID, r.PathValue("id"))
	if err != nil {
		return nil, nil, err
	}
	pw, err := h.svc.Pathway(r.Context(), a.orgID, wh.PathwayID)
	return wh, pw, err
}

func webhookCrumbs(pw *pathhook.Pathway, wh *pathhook.Webhook, last ...crumb) []crumb {
	cs := []crumb{{"Pathways", "/pathways"}, {pw.Name, "/pathways/" + pw.ID + "#webhooks"}}
	if len(last) == 0 {
		return append(cs, crumb{Text: categoryTitle(wh.Category) + " webhook"})
	}
	return append(append(cs, crumb{categoryTitle(wh.Category) + " webhook", "/webhooks/" + wh.ID}), last...)
}

// webhook shows a webhook: its state, its chart, and its delivery log.
func (h *handler) webhook(w http.ResponseWriter, r *http.Request, a *actor) {
	ctx := r.Context()
	wh, pw, err := h.loadWebhook(r, a)
	if err != nil {
		h.fail(w, r, a, err)
		return
	}
	q := r.URL.Query()
	p := &webhookPage{Webhook: wh, Pathway: pw, Status: q.Get("status"), Cursor: q.Get("cursor"),
		Statuses: []string{pathhook.DeliveryPending, pathhook.DeliverySucceeded, pathhook.DeliveryFailed}}
	ds, next, err := h.svc.Deliveries(ctx, a.orgID, wh.ID, p.Status, pathhook.Page{Cursor: p.Cursor})
	if err != nil {
		h.fail(w, r, a, err)
		return
	}
	p.Next = next
	for _, d := range ds {
		row := deliveryRow{Delivery: d}
		if row.Last, err = h.lastAttempt(r, a, &d); err != nil {
			h.fail(w, r, a, err)
			return
		}
		p.Log = append(p.Log, row)
	}
	if p.Stats, err = h.stats(ctx, a.orgID, wh.ID, true); err != nil {
		h.fail(w, r, a, err)
		return
	}
	p.base = h.base(a, categoryTitle(wh.Category)+" webhook", webhookCrumbs(pw, wh)...)
	h.render(w, r, http.StatusOK, "webhook", p)
}

// lastAttempt returns a listed delivery's last attempt. Lists come
// without attempts, so it reads the delivery when it has any.
func (h *handler) lastAttempt(r *http.Request, a *actor, d *pathhook.Delivery) (*pathhook.Attempt, error) {
	if d.AttemptCount == 0 {
		return nil, nil
	}
	if len(d.Attempts) == 0 {
		full, err := h.svc.Delivery(r.Context(), a.orgID, d.ID)
		if err != nil {
			return nil, err
		}
		d.Attempts = full.Attempts
	}
	if len(d.Attempts) == 0 {
		return nil, nil
	}
	return &d.Attempts[len(d.Attempts)-1], nil
}

// logURL is the delivery log's address with a filter and a cursor.
func logURL(webhookID, status, cursor string) string {
	v := url.Values{}
	if status != "" {
		v.Set("status", status)
	}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	u := "/webhooks/" + webhookID
	if len(v) > 0 {
		u += "?" + v.Encode()
	}
	return u + "#log"
}

// NextURL is the address of the log's next page.
func (p *webhookPage) NextURL() string { return logURL(p.Webhook.ID, p.Status, p.Next) }

// FirstURL is the address of the log's first page.
func (p *webhookPage) FirstURL() string { return logURL(p.Webhook.ID, p.Status, "") }

// switchWebhook turns a webhook on or off, then returns to the page the
// switch was on.
func (h *handler) switchWebhook(w http.ResponseWriter, r *http.Request, a *actor) {
	var on bool
	var err error
	switch v := r.PostFormValue("enabled"); v {
	case "true", "false":
		on = v == "true"
	default:
		err = pathhook.Invalid("enabled", "must be true or false")
	}
	var wh *pathhook.Webhook
	if err == nil {
		wh, err = h.svc.SwitchWebhook(r.Context(), a.orgID, r.PathValue("id"), pathhook.WebhookSwitch{Enabled: &on})
	}
	if !h.flashResult(w, r, a, err) {
		return
	}
	msg := categoryTitle(wh.Category) + " webhook disabled."
	if on {
		msg = categoryTitle(wh.Category) + " webhook enabled: new events are delivered to it."
	}
	h.sessions.setFlash(r.Context(), a.sid, &flash{Kind: "ok", Message: msg})
	http.Redirect(w, r, back(r, "/webhooks/"+wh.ID), http.StatusSeeOther)
}

// testWebhook sends a test delivery and points at it in the log.
func (h *handler) testWebhook(w http.ResponseWriter, r *http.Request, a *actor) {
	id := r.PathValue("id")
	typ := r.PostFormValue("type")
	did, err := h.svc.TestWebhook(r.Context(), a.orgID, id, pathhook.TestInput{Type: typ})
	if !h.flashResult(w, r, a, err) {
		return
	}
	msg := "Test delivery sent."
	if typ != "" {
		msg = fmt.Sprintf("Test delivery of %s sent.", typ)
	}
	h.sessions.setFlash(r.Context(), a.sid, &flash{Kind: "ok", Message: msg,
		Link: "/deliveries/" + did, LinkText: "View delivery " + did})
	http.Redirect(w, r, back(r, "/webhooks/"+id), http.StatusSeeOther)
}

// flashResult reports whether err is nil. A conflict or invalid input is
// shown, in the API's words, on the page the form came from; anything else
// is an error page.
func (h *handler) flashResult(w http.ResponseWriter, r *http.Request, a *actor, err error) bool {
	switch pathhook.ErrorCode(err) {
	case "":
		return true
	case pathhook.ECONFLICT, pathhook.EINVALID:
		h.sessions.setFlash(r.Context(), a.sid, &flash{Kind: "error", Message: pathhook.ErrorMessage(err)})
		http.Redirect(w, r, back(r, "/webhooks/"+r.PathValue("id")), http.StatusSeeOther)
	default:
		h.fail(w, r, a, err)
	}
	return false
}
