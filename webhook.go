package pathhook

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Webhook carries the events of one category of a pathway to an
// integrator's URL. It is created disabled and not set up.
type Webhook struct {
	ID        string  `json:"id"`
	OrgID     string  `json:"-"`
	PathwayID string  `json:"pathway_id"`
	Category  string  `json:"category"`
	URL       *string `json:"url"`
	Enabled   bool    `json:"enabled"`
	SecretSet bool    `json:"secret_set"`
	// Secret signs deliveries. PreviousSecret also signs them, in an extra
	// header, until PreviousSecretExpiresAt: the grace period of a rotation.
	Secret                  []byte     `json:"-"`
	PreviousSecret          []byte     `json:"-"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
	DisabledReason          *string    `json:"disabled_reason"`
	// FailingSince is when the first of the attempts that have failed since
	// the last success was made; nil after a success.
	FailingSince *time.Time `json:"failing_since"`
}

// Secret limits.
const (
	MinSecretLen = 24
	MaxSecretLen = 512
	// DefaultGracePeriod is how long a replaced secret keeps signing.
	DefaultGracePeriod = 24 * time.Hour
	MaxGracePeriod     = 7 * 24 * time.Hour
)

// Secrets returns the secrets that sign a delivery made at now: the current
// one first, then the previous one while its grace period lasts.
func (w *Webhook) Secrets(now time.Time) [][]byte {
	ss := [][]byte{w.Secret}
	if len(w.PreviousSecret) > 0 && w.PreviousSecretExpiresAt != nil && now.Before(*w.PreviousSecretExpiresAt) {
		ss = append(ss, w.PreviousSecret)
	}
	return ss
}

// StandardSecret returns secret in the form that Standard Webhooks libraries
// take: "whsec_" and the base64 of the secret's bytes.
func StandardSecret(secret []byte) string {
	return "whsec_" + base64.StdEncoding.EncodeToString(secret)
}

// WebhookSetup is what a caller gives to set a webhook up.
type WebhookSetup struct {
	URL    string  `json:"url"`
	Secret *string `json:"secret"`
	// GracePeriodSeconds is how long a replaced secret keeps signing
	// deliveries (default 24 hours; 0 ends it at once).
	GracePeriodSeconds *int `json:"grace_period_seconds"`
}

// CheckSecret returns an error naming field if s is not a strong secret:
// 24 to 512 printable ASCII characters without spaces.
func CheckSecret(field, s string) *Error {
	if len(s) < MinSecretLen || len(s) > MaxSecretLen {
		return Invalid(field, "must be %d to %d characters long", MinSecretLen, MaxSecretLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return Invalid(field, "must be printable ASCII without spaces (character %d is not)", i+1)
		}
	}
	return nil
}

// ParseWebhookURL checks the form of a webhook URL: absolute https (or http
// when allowHTTP), a host, no credentials, no fragment. Whether its host is
// a public address is the business of the Service's host check.
func ParseWebhookURL(raw string, allowHTTP bool) (*url.URL, *Error) {
	const field = "url"
	if raw == "" {
		return nil, Invalid(field, "is required")
	}
	if len(raw) > 2048 {
		return nil, Invalid(field, "must be at most 2048 characters")
	}
	if !utf8.ValidString(raw) {
		return nil, Invalid(field, "must be valid UTF-8")
	}
	if msg := refusedRune(raw, isLineControl); msg != "" {
		return nil, Invalid(field, "%s", msg)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, Invalid(field, "is not a valid URL")
	}
	switch {
	case !u.IsAbs() || u.Opaque != "":
		return nil, Invalid(field, "must be an absolute URL such as https://example.com/webhooks")
	case u.Scheme == "http" && !allowHTTP:
		return nil, Invalid(field, "must use https (http is accepted only when the server runs with --allow-http)")
	case u.Scheme != "https" && u.Scheme != "http" && allowHTTP:
		return nil, Invalid(field, "must use http or https, not %s", u.Scheme)
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, Invalid(field, "must use https, not %s", u.Scheme)
	case u.User != nil:
		return nil, Invalid(field, "must not contain credentials")
	case u.Hostname() == "":
		return nil, Invalid(field, "must name a host")
	case !validPort(u):
		return nil, Invalid(field, "must have a port from 1 to 65535, or none")
	case u.Fragment != "" || strings.HasSuffix(raw, "#"):
		return nil, Invalid(field, "must not contain a fragment")
	}
	return u, nil
}

// validPort reports whether u names no port or one from 1 to 65535 (":"
// with no number after it is no port to url.Parse, but not to dialers).
func validPort(u *url.URL) bool {
	if strings.HasSuffix(u.Host, ":") {
		return false
	}
	p := u.Port()
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// checkURL checks raw's form and that its host is a place deliveries may go.
func (s *Service) checkURL(ctx context.Context, raw string) error {
	u, perr := ParseWebhookURL(raw, s.allowHTTP)
	if perr != nil {
		return perr
	}
	if s.checkHost == nil {
		return nil
	}
	return s.checkHost(ctx, u.Hostname())
}

func (in *WebhookSetup) grace() (time.Duration, error) {
	if in.GracePeriodSeconds == nil {
		return DefaultGracePeriod, nil
	}
	// The range is checked on the seconds: multiplied first, a number of
	// seconds beyond about 292 years wraps round to a Duration in range.
	max := int(MaxGracePeriod / time.Second)
	if g := *in.GracePeriodSeconds; g < 0 || g > max {
		return 0, Invalid("grace_period_seconds", "must be between 0 and %d", max)
	}
	return time.Duration(*in.GracePeriodSeconds) * time.Second, nil
}

// SetupWebhook sets a webhook's URL and, when given, its secret. The secret
// is required the first time; a new secret starts a rotation in which the
// old one keeps signing for the grace period.
func (s *Service) SetupWebhook(ctx context.Context, orgID, id string, in WebhookSetup) (*Webhook, error) {
	if err := s.checkURL(ctx, in.URL); err != nil {
		return nil, err
	}
	if in.Secret != nil {
		if err := CheckSecret("secret", *in.Secret); err != nil {
			return nil, err
		}
	}
	grace, err := in.grace()
	if err != nil {
		return nil, err
	}
	return s.changeWebhook(ctx, orgID, id, func(w *Webhook, now time.Time) error {
		if in.Secret == nil && !w.SecretSet {
			return Invalid("secret", "is required the first time a webhook is set up")
		}
		w.URL = &in.URL
		if in.Secret != nil {
			w.rotate([]byte(*in.Secret), now, grace)
		}
		return nil
	})
}

// rotate makes secret the current one; the old one, if any, keeps signing
// until now+grace. The current secret given again changes nothing: a tool
// that sends the whole setup each time must not cut a rotation short.
func (w *Webhook) rotate(secret []byte, now time.Time, grace time.Duration) {
	if w.SecretSet && subtle.ConstantTimeCompare(w.Secret, secret) == 1 {
		return
	}
	w.PreviousSecret, w.PreviousSecretExpiresAt = nil, nil
	if w.SecretSet && grace > 0 {
		until := now.Add(grace)
		w.PreviousSecret, w.PreviousSecretExpiresAt = w.Secret, &until
	}
	w.Secret, w.SecretSet = secret, true
}

// GenerateSecret sets a new strong secret on a webhook and returns it; this
// is the only time it is shown. An existing secret keeps signing for grace.
func (s *Service) GenerateSecret(ctx context.Context, orgID, id string, grace time.Duration) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	secret := hex.EncodeToString(b[:])
	_, err := s.changeWebhook(ctx, orgID, id, func(w *Webhook, now time.Time) error {
		w.rotate([]byte(secret), now, grace)
		return nil
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// WebhookSwitch is what a caller gives to switch a webhook on or off.
type WebhookSwitch struct {
	Enabled *bool `json:"enabled"`
}

// SwitchWebhook enables or disables a webhook. Enabling one that is not set
// up is ECONFLICT. Disabling fails its pending deliveries (the delivery
// engine does, moments after: Tx.EndBacklog), which can be redelivered
// once it is enabled again.
func (s *Service) SwitchWebhook(ctx context.Context, orgID, id string, in WebhookSwitch) (*Webhook, error) {
	if in.Enabled == nil {
		return nil, Invalid("enabled", "is required")
	}
	on := *in.Enabled
	return s.changeWebhook(ctx, orgID, id, func(w *Webhook, now time.Time) error {
		if on && (w.URL == nil || !w.SecretSet) {
			return Errorf(ECONFLICT, "webhook %q is not set up: give it a URL and a secret first", id)
		}
		w.Enabled, w.DisabledReason = on, nil
		if on {
			w.FailingSince = nil
		}
		return nil
	})
}

// changeWebhook reads a webhook, lets change alter it, and writes it back.
func (s *Service) changeWebhook(ctx context.Context, orgID, id string, change func(*Webhook, time.Time) error) (*Webhook, error) {
	now := s.clock.now()
	var w *Webhook
	err := s.store.Update(ctx, func(tx Tx) (err error) {
		if w, err = tx.Webhook(ctx, orgID, id); err != nil {
			return err
		}
		wasEnabled := w.Enabled
		if err := change(w, now); err != nil {
			return err
		}
		w.UpdatedAt = now
		if err := tx.UpdateWebhook(ctx, w); err != nil {
			return err
		}
		if wasEnabled && !w.Enabled {
			return tx.EndBacklog(ctx, orgID, w.ID, "webhook disabled", now)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if ww, ok := s.dispatcher.(WebhookWatcher); ok {
		ww.WebhookChanged(w.ID)
	}
	return w, nil
}

// Webhook returns one of org's webhooks.
func (s *Service) Webhook(ctx context.Context, orgID, id string) (*Webhook, error) {
	var w *Webhook
	err := s.store.View(ctx, func(tx Tx) (err error) {
		w, err = tx.Webhook(ctx, orgID, id)
		return err
	})
	return w, err
}

// Webhooks returns the three webhooks of one of org's pathways, in the
// order of Categories.
func (s *Service) Webhooks(ctx context.Context, orgID, pathwayID string) ([]Webhook, error) {
	var ws []Webhook
	err := s.store.View(ctx, func(tx Tx) (err error) {
		if _, err = tx.Pathway(ctx, orgID, pathwayID); err != nil {
			return err
		}
		ws, err = tx.Webhooks(ctx, orgID, pathwayID)
		return err
	})
	sortWebhooks(ws)
	return ws, err
}

func sortWebhooks(ws []Webhook) {
	slices.SortFunc(ws, func(a, b Webhook) int {
		return slices.Index(Categories, a.Category) - slices.Index(Categories, b.Category)
	})
}

// TestInput is what a caller gives to send a test delivery.
type TestInput struct {
	Type string `json:"type"`
}

// TestWebhook sends a test delivery to one enabled webhook: a real event of
// the given type (default: the category's first) with sample data and
// "test": true. It returns the delivery's id.
func (s *Service) TestWebhook(ctx context.Context, orgID, id string, in TestInput) (string, error) {
	now := s.clock.now()
	var deliveryID string
	err := s.update(ctx, now, func(tx Tx, e *emitter) error {
		w, err := tx.Webhook(ctx, orgID, id)
		if err != nil {
			return err
		}
		types := CategoryTypes(w.Category)
		t := in.Type
		if t == "" {
			t = types[0]
		} else if !slices.Contains(types, t) {
			return Invalid("type", "must be one of %s for %s webhooks", strings.Join(types, ", "), w.Category)
		}
		if !w.Enabled {
			return Errorf(ECONFLICT, "webhook %q is disabled: enable it before sending test deliveries", id)
		}
		p, err := tx.Pathway(ctx, orgID, w.PathwayID)
		if err != nil {
			return err
		}
		ev, err := newEvent(e.ids.next(PrefixEvent, now), p, t, sampleData(t, now), true, now)
		if err != nil {
			return err
		}
		if err := e.write(ctx, tx, ev, []Webhook{*w}); err != nil {
			return err
		}
		deliveryID = e.jobs[len(e.jobs)-1].DeliveryID
		return nil
	})
	return deliveryID, err
}
