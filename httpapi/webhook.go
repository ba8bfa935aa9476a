package httpapi

import (
	"net/http"
	"time"

	"github.com/pathhook/pathhook"
)

// listWebhooks answers a pathway's three webhooks, in category order.
func (s *server) listWebhooks(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	page, err := pageOf(r)
	if err != nil {
		return err
	}
	ws, err := s.svc.Webhooks(r.Context(), key.OrgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	ws, next, err := pageSlice(ws, page, func(wh pathhook.Webhook) string { return wh.ID })
	if err != nil {
		return err
	}
	return respondList(w, ws, next)
}

func (s *server) getWebhook(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	wh, err := s.svc.Webhook(r.Context(), key.OrgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return respond(w, http.StatusOK, wh)
}

// setupWebhook sets a webhook's URL and secret. The answer is the webhook,
// which never shows the secret.
func (s *server) setupWebhook(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	var in pathhook.WebhookSetup
	if err := decode(w, r, &in, false); err != nil {
		return err
	}
	wh, err := s.svc.SetupWebhook(r.Context(), key.OrgID, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return respond(w, http.StatusOK, wh)
}

// switchWebhook enables or disables a webhook.
func (s *server) switchWebhook(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	var in pathhook.WebhookSwitch
	if err := decode(w, r, &in, false); err != nil {
		return err
	}
	wh, err := s.svc.SwitchWebhook(r.Context(), key.OrgID, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return respond(w, http.StatusOK, wh)
}

// secretInput is the optional body of POST /v1/webhooks/{id}/secret.
type secretInput struct {
	GracePeriodSeconds *int `json:"grace_period_seconds"`
}

// secretAnswer shows a generated secret, the only time it is shown, also in
// the form that Standard Webhooks libraries take.
type secretAnswer struct {
	Secret         string `json:"secret"`
	StandardSecret string `json:"standard_secret"`
}

// generateSecret sets a new strong secret on a webhook and shows it once.
func (s *server) generateSecret(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	var in secretInput
	if err := decode(w, r, &in, true); err != nil {
		return err
	}
	grace := pathhook.DefaultGracePeriod
	if g := in.GracePeriodSeconds; g != nil {
		max := int(pathhook.MaxGracePeriod / time.Second)
		if *g < 0 || *g > max {
			return pathhook.Invalid("grace_period_seconds", "must be between 0 and %d", max)
		}
		grace = time.Duration(*g) * time.Second
	}
	secret, err := s.svc.GenerateSecret(r.Context(), key.OrgID, r.PathValue("id"), grace)
	if err != nil {
		return err
	}
	return respond(w, http.StatusOK, secretAnswer{Secret: secret, StandardSecret: pathhook.StandardSecret([]byte(secret))})
}

// deliveryAnswer is the answer of the calls that start a delivery.
type deliveryAnswer struct {
	DeliveryID string `json:"delivery_id"`
}

// testWebhook sends a test delivery; 202 because it is sent later.
func (s *server) testWebhook(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	var in pathhook.TestInput
	if err := decode(w, r, &in, true); err != nil {
		return err
	}
	id, err := s.svc.TestWebhook(r.Context(), key.OrgID, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return respond(w, http.StatusAccepted, deliveryAnswer{DeliveryID: id})
}
