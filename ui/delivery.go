package ui

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/pathhook/pathhook"
)

// header is one request header as the delivery page shows it.
type header struct {
	Name, Value string
	// Redacted marks a value that the page does not show.
	Redacted bool
}

type deliveryPage struct {
	base
	Delivery *pathhook.Delivery
	Webhook  *pathhook.Webhook
	Pathway  *pathhook.Pathway
	Event    *pathhook.Event
	Headers  []header
	Body     string // the payload, indented to read
	BodySize int
}

// requestHeaders rebuilds the headers that an attempt of d sends, from the
// wire format. The signatures are not shown: they are derived from the
// secret, and a page need not hand out material to test guesses against.
func requestHeaders(platform string, d *pathhook.Delivery, wh *pathhook.Webhook, attempt *pathhook.Attempt) []header {
	n, ts := 1, "(the time of the attempt)"
	if attempt != nil {
		n, ts = attempt.N, strconv.FormatInt(attempt.StartedAt.Unix(), 10)
	}
	hs := []header{
		{Name: "Content-Type", Value: "application/json"},
		{Name: "User-Agent", Value: platform + "-Webhooks/" + pathhook.Version},
		{Name: platform + "-Webhook-Signature", Value: "sha256=…", Redacted: true},
		{Name: platform + "-Webhook-Event", Value: d.EventType},
		{Name: platform + "-Webhook-Id", Value: d.EventID},
		{Name: platform + "-Webhook-Delivery", Value: d.ID},
		{Name: platform + "-Webhook-Attempt", Value: strconv.Itoa(n)},
		{Name: "webhook-id", Value: d.EventID},
		{Name: "webhook-timestamp", Value: ts},
		{Name: "webhook-signature", Value: "v1,…", Redacted: true},
	}
	// During a secret rotation the previous secret signs too.
	if exp := wh.PreviousSecretExpiresAt; exp != nil && (attempt == nil || attempt.StartedAt.Before(*exp)) {
		hs = append(hs[:3], append([]header{{Name: platform + "-Webhook-Signature-Previous", Value: "sha256=…", Redacted: true}}, hs[3:]...)...)
	}
	return hs
}

// LastAttempt is the delivery's latest attempt, or nil.
func (p *deliveryPage) LastAttempt() *pathhook.Attempt {
	if len(p.Delivery.Attempts) == 0 {
		return nil
	}
	return &p.Delivery.Attempts[len(p.Delivery.Attempts)-1]
}

// Redeliverable reports whether the Redeliver button can work now.
func (p *deliveryPage) Redeliverable() bool {
	return p.Delivery.Status != pathhook.DeliveryPending && p.Webhook.Enabled
}

func (h *handler) delivery(w http.ResponseWriter, r *http.Request, a *actor) {
	ctx := r.Context()
	d, err := h.svc.Delivery(ctx, a.orgID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, a, err)
		return
	}
	p := &deliveryPage{Delivery: d}
	if p.Event, err = h.svc.DeliveryEvent(ctx, a.orgID, d.ID); err == nil {
		if p.Webhook, err = h.svc.Webhook(ctx, a.orgID, d.WebhookID); err == nil {
			p.Pathway, err = h.svc.Pathway(ctx, a.orgID, p.Webhook.PathwayID)
		}
	}
	if err != nil {
		h.fail(w, r, a, err)
		return
	}
	p.Headers = requestHeaders(h.platform, d, p.Webhook, p.LastAttempt())
	p.BodySize = len(p.Event.Payload)
	var buf bytes.Buffer
	if json.Indent(&buf, p.Event.Payload, "", "  ") == nil {
		p.Body = buf.String()
	} else {
		p.Body = string(p.Event.Payload)
	}
	p.base = h.base(a, "Delivery "+d.ID, webhookCrumbs(p.Pathway, p.Webhook, crumb{Text: d.ID})...)
	h.render(w, r, http.StatusOK, "delivery", p)
}

func (h *handler) redeliver(w http.ResponseWriter, r *http.Request, a *actor) {
	id := r.PathValue("id")
	if !h.flashResult(w, r, a, h.svc.Redeliver(r.Context(), a.orgID, id)) {
		return
	}
	h.sessions.setFlash(r.Context(), a.sid, &flash{Kind: "ok", Message: "Redelivery started: a new attempt is on its way."})
	http.Redirect(w, r, "/deliveries/"+id, http.StatusSeeOther)
}
