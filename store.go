package pathhook

import (
	"context"
	"errors"
	"time"
)

// ErrCommitUnknown is wrapped by the error of an Update whose COMMIT went
// out and got no answer: the change may have been saved or not.
var ErrCommitUnknown = errors.New("the database did not answer whether the transaction committed")

// Store keeps pathhook's state. Update runs fn in one read-write
// transaction: everything fn writes commits together or not at all. View
// runs fn in a read-only one. Either may run fn more than once when the
// database asks for a retry, so fn must have no other effects.
type Store interface {
	Update(ctx context.Context, fn func(Tx) error) error
	View(ctx context.Context, fn func(Tx) error) error
}

// Tx is one transaction of a Store. Every read is scoped to an org: a
// resource of another org is ENOTFOUND. A create that would duplicate an
// existing resource (an enrolment, a completion, an award) is ECONFLICT.
// The store keeps webhook secrets encrypted; through Tx they are plain.
type Tx interface {
	CreateOrg(ctx context.Context, o *Org) error
	OrgByName(ctx context.Context, name string) (*Org, error)

	CreateAPIKey(ctx context.Context, k *APIKey) error
	APIKey(ctx context.Context, orgID, id string) (*APIKey, error)
	// APIKeyByHash finds a key of any org by its hash.
	APIKeyByHash(ctx context.Context, hash []byte) (*APIKey, error)
	// APIKeys lists an org's keys, newest first.
	APIKeys(ctx context.Context, orgID string) ([]APIKey, error)
	// UpdateAPIKey writes RevokedAt.
	UpdateAPIKey(ctx context.Context, k *APIKey) error
	HasAPIKeys(ctx context.Context) (bool, error)

	CreatePathway(ctx context.Context, p *Pathway) error
	Pathway(ctx context.Context, orgID, id string) (*Pathway, error)
	// Pathways lists up to page.Limit pathways older than the cursor,
	// newest first.
	Pathways(ctx context.Context, orgID string, page Page) ([]Pathway, error)

	CreateActivity(ctx context.Context, a *Activity) error
	Activity(ctx context.Context, orgID, id string) (*Activity, error)
	// Activities lists a pathway's activities, oldest first.
	Activities(ctx context.Context, orgID, pathwayID string) ([]Activity, error)

	CreateReward(ctx context.Context, r *Reward) error
	Reward(ctx context.Context, orgID, id string) (*Reward, error)
	// Rewards lists a pathway's rewards, oldest first.
	Rewards(ctx context.Context, orgID, pathwayID string) ([]Reward, error)
	CreateAward(ctx context.Context, a *Award) error

	// CreateEnrolment writes a new enrolment. Enrolling a learner twice is
	// ECONFLICT, which the store may report from a later statement of the
	// transaction or from its commit rather than from this call; the
	// transaction fails either way.
	CreateEnrolment(ctx context.Context, en *Enrolment) error
	// Enrolment returns a learner's enrolment with CompletedActivityIDs.
	Enrolment(ctx context.Context, orgID, pathwayID, learnerID string) (*Enrolment, error)
	// Enrolments lists up to page.Limit enrolments enrolled before the one
	// whose learner id is the cursor, newest first, with
	// CompletedActivityIDs.
	Enrolments(ctx context.Context, orgID, pathwayID string, page Page) ([]Enrolment, error)
	// UpdateEnrolment writes Status and CompletedAt.
	UpdateEnrolment(ctx context.Context, en *Enrolment) error
	CreateCompletion(ctx context.Context, c *Completion) error

	Attendance(ctx context.Context, orgID, activityID, learnerID string) (*Attendance, error)
	// PutAttendance creates or replaces a learner's attendance.
	PutAttendance(ctx context.Context, a *Attendance) error

	CreateWebhook(ctx context.Context, w *Webhook) error
	Webhook(ctx context.Context, orgID, id string) (*Webhook, error)
	Webhooks(ctx context.Context, orgID, pathwayID string) ([]Webhook, error)
	// UpdateWebhook writes URL, Enabled, the secrets, DisabledReason,
	// FailingSince and UpdatedAt.
	UpdateWebhook(ctx context.Context, w *Webhook) error

	// CreateEvent writes an event and its deliveries.
	CreateEvent(ctx context.Context, ev *Event, ds []Delivery) error
	Event(ctx context.Context, orgID, id string) (*Event, error)
	// Deliveries lists up to page.Limit deliveries of a webhook older than
	// the cursor, newest first, with the given status unless it is "".
	Deliveries(ctx context.Context, orgID, webhookID, status string, page Page) ([]Delivery, error)
	// Delivery returns a delivery with its attempts, oldest first.
	Delivery(ctx context.Context, orgID, id string) (*Delivery, error)
	// UpdateDelivery writes Status, NextAttemptAt, Manual and the lease.
	UpdateDelivery(ctx context.Context, d *Delivery) error
	// EndBacklog has every pending delivery of a webhook that the
	// transaction switches off ended as failed at now, with reason. The
	// delivery engine fails them soon after the transaction commits, in
	// transactions of its own (a large backlog takes long to fail); until
	// then no node claims them, their webhook being off. A webhook
	// switched on again before that keeps the backlog left.
	EndBacklog(ctx context.Context, orgID, webhookID, reason string, now time.Time) error
}
