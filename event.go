package pathhook

import (
	"context"
	"encoding/json"
	"time"
)

// Webhook categories: each pathway has one webhook per category.
const (
	CategoryEnrolments = "enrolments"
	CategoryBookings   = "bookings"
	CategoryRewards    = "rewards"
)

// Categories lists the webhook categories in the order pathways show them.
var Categories = []string{CategoryEnrolments, CategoryBookings, CategoryRewards}

// Event types.
const (
	TypeEnrolmentCreated           = "enrolment.created"
	TypeEnrolmentActivityCompleted = "enrolment.activity_completed"
	TypeEnrolmentCompleted         = "enrolment.completed"
	TypeBookingRegistered          = "booking.registered"
	TypeBookingCheckedIn           = "booking.checked_in"
	TypeBookingCancelled           = "booking.cancelled"
	TypeRewardUnlocked             = "reward.unlocked"
)

// CategoryTypes lists each category's event types; the first is the type of
// a test delivery that names none.
func CategoryTypes(category string) []string {
	switch category {
	case CategoryEnrolments:
		return []string{TypeEnrolmentCreated, TypeEnrolmentActivityCompleted, TypeEnrolmentCompleted}
	case CategoryBookings:
		return []string{TypeBookingRegistered, TypeBookingCheckedIn, TypeBookingCancelled}
	case CategoryRewards:
		return []string{TypeRewardUnlocked}
	}
	return nil
}

// CategoryOf returns the category of an event type, or "" if it is none.
func CategoryOf(eventType string) string {
	for _, c := range Categories {
		for _, t := range CategoryTypes(c) {
			if t == eventType {
				return c
			}
		}
	}
	return ""
}

// Event is something that happened on a pathway. Payload is the exact body
// that every delivery of the event sends.
type Event struct {
	ID        string    `json:"id"`
	OrgID     string    `json:"-"`
	PathwayID string    `json:"pathway_id"`
	Type      string    `json:"type"`
	Category  string    `json:"category"`
	Test      bool      `json:"test"`
	CreatedAt time.Time `json:"created_at"`
	Payload   []byte    `json:"-"`
}

// TimeFormat is how times appear in event payloads: UTC, milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// payload is the wire format of an event: its fields in this order.
type payload struct {
	ID        string         `json:"id"`
	Type      string         `json:"type"`
	Category  string         `json:"category"`
	CreatedAt string         `json:"created_at"`
	Test      bool           `json:"test"`
	Pathway   payloadPathway `json:"pathway"`
	Data      any            `json:"data"`
}

type payloadPathway struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// newEvent builds an event with the given id and type t on pathway p.
func newEvent(id string, p *Pathway, t string, data any, test bool, now time.Time) (*Event, error) {
	ev := &Event{ID: id, OrgID: p.OrgID, PathwayID: p.ID, Type: t, Category: CategoryOf(t), Test: test, CreatedAt: now}
	body, err := json.Marshal(payload{ID: ev.ID, Type: t, Category: ev.Category, CreatedAt: now.Format(TimeFormat), Test: test,
		Pathway: payloadPathway{ID: p.ID, Name: p.Name}, Data: data})
	if err != nil {
		return nil, err
	}
	ev.Payload = body
	return ev, nil
}

// emitter writes events and their deliveries inside a transaction and keeps
// the jobs that the dispatcher may start once the transaction commits.
type emitter struct {
	now   time.Time
	lease LeaseOwner
	ids   *idSource
	jobs  []Job
	// hooks caches each pathway's webhooks: one change may emit several
	// events on the same pathway.
	hooks map[string][]Webhook
}

// emit writes an event of type t with one pending delivery per enabled
// webhook of its category on pathway p.
func (e *emitter) emit(ctx context.Context, tx Tx, p *Pathway, t string, data any) error {
	hooks, ok := e.hooks[p.ID]
	if !ok {
		var err error
		if hooks, err = tx.Webhooks(ctx, p.OrgID, p.ID); err != nil {
			return err
		}
		if e.hooks == nil {
			e.hooks = map[string][]Webhook{}
		}
		e.hooks[p.ID] = hooks
	}
	ev, err := newEvent(e.ids.next(PrefixEvent, e.now), p, t, data, false, e.now)
	if err != nil {
		return err
	}
	var targets []Webhook
	for _, w := range hooks {
		if w.Enabled && w.Category == ev.Category {
			targets = append(targets, w)
		}
	}
	return e.write(ctx, tx, ev, targets)
}

// write stores ev and one delivery to each target webhook.
func (e *emitter) write(ctx context.Context, tx Tx, ev *Event, targets []Webhook) error {
	ds := make([]Delivery, len(targets))
	for i, w := range targets {
		ds[i] = Delivery{ID: e.ids.next(PrefixDelivery, e.now), OrgID: ev.OrgID, WebhookID: w.ID, EventID: ev.ID, EventType: ev.Type,
			Status: DeliveryPending, NextAttemptAt: &e.now, CreatedAt: e.now}
		if e.lease.Owner != "" {
			ds[i].LeaseOwner, ds[i].LeaseUntil = e.lease.Owner, e.now.Add(e.lease.For)
		}
	}
	if err := tx.CreateEvent(ctx, ev, ds); err != nil {
		return err
	}
	for i, w := range targets {
		e.jobs = append(e.jobs, newJob(&ds[i], ev, &w, e.now))
	}
	return nil
}
