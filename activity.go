package pathhook

import (
	"context"
	"strings"
	"time"
)

// Kinds of activity.
const (
	ActivityOnline    = "online"
	ActivityClassroom = "classroom"
	ActivityEvent     = "event"
)

// Activity is one step of a pathway. Classroom and event activities are
// sessions that learners register for and check in to.
type Activity struct {
	ID        string     `json:"id"`
	OrgID     string     `json:"-"`
	PathwayID string     `json:"pathway_id"`
	Title     string     `json:"title"`
	Kind      string     `json:"kind"`
	StartsAt  *time.Time `json:"starts_at"`
	Location  string     `json:"location"`
	CreatedAt time.Time  `json:"created_at"`
}

// Bookable reports whether learners book and attend the activity.
func (a *Activity) Bookable() bool {
	return a.Kind == ActivityClassroom || a.Kind == ActivityEvent
}

// ActivityInput is what a caller gives to add an activity to a pathway.
type ActivityInput struct {
	Title    string     `json:"title"`
	Kind     string     `json:"kind"`
	StartsAt *time.Time `json:"starts_at"`
	Location string     `json:"location"`
}

// The years (UTC) an activity may start in: wider than any learning
// pathway needs, narrow enough that a typo (year 0) is caught, and within
// what JSON's times can write (a year past 9999 cannot be read back).
const minYear, maxYear = 1900, 9999

func (in *ActivityInput) validate() error {
	var v validation
	in.Title = strings.TrimSpace(in.Title)
	checkText(&v, "title", in.Title, 200, true)
	switch in.Kind {
	case ActivityOnline, ActivityClassroom, ActivityEvent:
	case "":
		v.add("kind", "is required")
	default:
		v.add("kind", "must be one of online, classroom, event")
	}
	checkText(&v, "location", in.Location, 500, false)
	if in.StartsAt != nil {
		t := in.StartsAt.UTC().Truncate(time.Millisecond)
		in.StartsAt = &t
		if y := t.Year(); y < minYear || y > maxYear {
			v.add("starts_at", "must be in the years %d to %d (UTC)", minYear, maxYear)
		}
	}
	return v.err()
}

// CreateActivity adds an activity to one of org's pathways.
func (s *Service) CreateActivity(ctx context.Context, orgID, pathwayID string, in ActivityInput) (*Activity, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	now := s.clock.now()
	a := &Activity{ID: s.ids.next(PrefixActivity, now), OrgID: orgID, PathwayID: pathwayID, Title: in.Title, Kind: in.Kind,
		StartsAt: in.StartsAt, Location: in.Location, CreatedAt: now}
	err := s.store.Update(ctx, func(tx Tx) error {
		if _, err := tx.Pathway(ctx, orgID, pathwayID); err != nil {
			return err
		}
		return tx.CreateActivity(ctx, a)
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Activities returns all activities of one of org's pathways, oldest first
// (the order of the pathway).
func (s *Service) Activities(ctx context.Context, orgID, pathwayID string) ([]Activity, error) {
	var as []Activity
	err := s.store.View(ctx, func(tx Tx) (err error) {
		if _, err = tx.Pathway(ctx, orgID, pathwayID); err != nil {
			return err
		}
		as, err = tx.Activities(ctx, orgID, pathwayID)
		return err
	})
	return as, err
}
