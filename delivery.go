package pathhook

import (
	"context"
	"time"
)

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
)

// MaxResponseBody is how much of a receiver's answer an attempt keeps.
const MaxResponseBody = 64 << 10

// Delivery is one event on its way to one webhook. Every attempt sends the
// same body with the same delivery id.
type Delivery struct {
	ID            string     `json:"id"`
	OrgID         string     `json:"-"`
	WebhookID     string     `json:"webhook_id"`
	EventID       string     `json:"event_id"`
	EventType     string     `json:"event_type"`
	Status        string     `json:"status"`
	AttemptCount  int        `json:"attempt_count"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	CreatedAt     time.Time  `json:"created_at"`
	// Manual marks a redelivery: it makes one attempt and is not retried.
	Manual bool `json:"-"`
	// LeaseOwner is the node that may attempt the delivery until LeaseUntil.
	LeaseOwner string    `json:"-"`
	LeaseUntil time.Time `json:"-"`

	// Attempts are filled in where an answer shows them.
	Attempts []Attempt `json:"attempts,omitempty"`
}

// Attempt is one try of a delivery.
type Attempt struct {
	N              int       `json:"n"`
	StartedAt      time.Time `json:"started_at"`
	DurationMS     int64     `json:"duration_ms"`
	ResponseStatus *int      `json:"response_status"`
	Error          *string   `json:"error"`
	ResponseBody   string    `json:"response_body"`
}

// LeaseOwner names the node that attempts the deliveries it creates, and
// for how long it holds them before other nodes may take them over.
type LeaseOwner struct {
	Owner string
	For   time.Duration
}

// Job is a delivery ready to be attempted, with all that the attempt needs.
type Job struct {
	DeliveryID string
	OrgID      string
	WebhookID  string
	EventID    string
	EventType  string
	URL        string
	// Secrets sign the body: the current secret first, then the previous
	// one during a rotation.
	Secrets [][]byte
	Body    []byte
	// Attempt is the number of the attempt to make: 1, 2, ...
	Attempt    int
	Manual     bool
	CreatedAt  time.Time
	LeaseUntil time.Time
	// MadeAt is when the webhook was read for the job: a job made before
	// a change of its webhook carries the webhook as it was, and must not
	// be sent (see WebhookWatcher).
	MadeAt time.Time
}

// Lease names the lease under which a job was given out: its delivery and
// when the lease ends. Handing a delivery back under it changes nothing
// once the delivery is under another lease, even one of the same owner.
type Lease struct {
	DeliveryID string
	Until      time.Time
}

// Lease returns the lease the job was given out under.
func (j *Job) Lease() Lease { return Lease{DeliveryID: j.DeliveryID, Until: j.LeaseUntil} }

// Turns are the times to which a slow webhook's deliveries are deferred,
// one after another: the first at From, the next Step later and so on,
// none later than Last.
type Turns struct {
	From time.Time
	Step time.Duration
	Last time.Time
}

// At returns the i-th turn, counting from 0.
func (t Turns) At(i int) time.Time {
	if at := t.From.Add(time.Duration(i) * t.Step); at.Before(t.Last) {
		return at
	}
	return t.Last
}

func newJob(d *Delivery, ev *Event, w *Webhook, now time.Time) Job {
	url := ""
	if w.URL != nil {
		url = *w.URL
	}
	return Job{DeliveryID: d.ID, OrgID: d.OrgID, WebhookID: w.ID, EventID: ev.ID, EventType: ev.Type, URL: url,
		Secrets: w.Secrets(now), Body: ev.Payload, Attempt: d.AttemptCount + 1, Manual: d.Manual,
		CreatedAt: d.CreatedAt, LeaseUntil: d.LeaseUntil, MadeAt: now}
}

// Result is the outcome of one attempt, to be recorded: the attempt, and
// the delivery's new status.
type Result struct {
	DeliveryID string
	WebhookID  string
	Attempt    Attempt
	// Status is DeliveryPending when the delivery is to be retried at
	// NextAttemptAt.
	Status        string
	NextAttemptAt time.Time
	// DisableReason, when set, disables the webhook with this reason.
	DisableReason string
	// LeaseOwner and LeaseUntil are the lease that the attempt ran under
	// (the job's; no owner and zero for a job leased to no node). The
	// attempt is logged in any case, but it decides the delivery's state
	// only while the delivery is still under that lease: a result written
	// after another node took the delivery over, or after it ended, leaves
	// it as that node, or the end, left it.
	LeaseOwner string
	LeaseUntil time.Time
}

// Deliveries returns a page of a webhook's deliveries, newest first,
// optionally only those with the given status.
func (s *Service) Deliveries(ctx context.Context, orgID, webhookID, status string, page Page) ([]Delivery, string, error) {
	switch status {
	case "", DeliveryPending, DeliverySucceeded, DeliveryFailed:
	default:
		return nil, "", Invalid("status", "must be one of pending, succeeded, failed")
	}
	page, err := page.normalize()
	if err != nil {
		return nil, "", err
	}
	if err := page.checkIDCursor(PrefixDelivery); err != nil {
		return nil, "", err
	}
	var ds []Delivery
	err = s.store.View(ctx, func(tx Tx) (err error) {
		if _, err = tx.Webhook(ctx, orgID, webhookID); err != nil {
			return err
		}
		ds, err = tx.Deliveries(ctx, orgID, webhookID, status, page)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return pageOf(ds, page, func(d Delivery) string { return d.ID })
}

// Delivery returns one of org's deliveries with its attempts.
func (s *Service) Delivery(ctx context.Context, orgID, id string) (*Delivery, error) {
	var d *Delivery
	err := s.store.View(ctx, func(tx Tx) (err error) {
		d, err = tx.Delivery(ctx, orgID, id)
		return err
	})
	return d, err
}

// DeliveryEvent returns the event that one of org's deliveries carries.
func (s *Service) DeliveryEvent(ctx context.Context, orgID, deliveryID string) (*Event, error) {
	var ev *Event
	err := s.store.View(ctx, func(tx Tx) error {
		d, err := tx.Delivery(ctx, orgID, deliveryID)
		if err != nil {
			return err
		}
		ev, err = tx.Event(ctx, orgID, d.EventID)
		return err
	})
	return ev, err
}

// Redeliver makes one more attempt of a delivery that has ended, with the
// same body; the attempt number follows the last one. A delivery that is
// still pending, or whose webhook is disabled, is ECONFLICT.
func (s *Service) Redeliver(ctx context.Context, orgID, id string) error {
	now := s.clock.now()
	return s.update(ctx, now, func(tx Tx, e *emitter) error {
		d, err := tx.Delivery(ctx, orgID, id)
		if err != nil {
			return err
		}
		if d.Status == DeliveryPending {
			return Errorf(ECONFLICT, "delivery %q is still pending", id)
		}
		w, err := tx.Webhook(ctx, orgID, d.WebhookID)
		if err != nil {
			return err
		}
		if !w.Enabled {
			return Errorf(ECONFLICT, "webhook %q is disabled: enable it before redelivering", w.ID)
		}
		ev, err := tx.Event(ctx, orgID, d.EventID)
		if err != nil {
			return err
		}
		d.Status, d.NextAttemptAt, d.Manual = DeliveryPending, &now, true
		d.LeaseOwner, d.LeaseUntil = "", time.Time{}
		if e.lease.Owner != "" {
			d.LeaseOwner, d.LeaseUntil = e.lease.Owner, now.Add(e.lease.For)
		}
		if err := tx.UpdateDelivery(ctx, d); err != nil {
			return err
		}
		e.jobs = append(e.jobs, newJob(d, ev, w, now))
		return nil
	})
}
