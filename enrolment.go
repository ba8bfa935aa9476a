package pathhook

import (
	"context"
	"net/mail"
	"strings"
	"time"
	"unicode"
)

// Enrolment statuses.
const (
	EnrolmentActive    = "active"
	EnrolmentCompleted = "completed"
)

// Learner is a person who enrols in pathways. Learner ids belong to the
// platform; pathhook keeps them as given.
type Learner struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// Enrolment is a learner's place on a pathway.
type Enrolment struct {
	OrgID       string     `json:"-"`
	PathwayID   string     `json:"pathway_id"`
	Learner     Learner    `json:"learner"`
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"enrolled_at"`
	CompletedAt *time.Time `json:"completed_at"`
	// CompletedActivityIDs lists the activities done so far, in the order
	// they were completed.
	CompletedActivityIDs []string `json:"completed_activity_ids"`
}

// EnrolmentInput is what a caller gives to enrol a learner.
type EnrolmentInput struct {
	Learner *Learner `json:"learner"`
}

func (in *EnrolmentInput) validate() error {
	var v validation
	if in.Learner == nil {
		v.add("learner", "is required")
		return v.err()
	}
	l := in.Learner
	checkLearnerID(&v, "learner.id", l.ID)
	l.Email = strings.TrimSpace(l.Email)
	if l.Email != "" {
		if a, err := mail.ParseAddress(l.Email); err != nil || a.Address != l.Email || len(l.Email) > 254 ||
			strings.ContainsFunc(l.Email, IsBidiControl) {
			v.add("learner.email", "must be a plain email address such as ada@example.com")
		}
	}
	l.Name = strings.TrimSpace(l.Name)
	checkText(&v, "learner.name", l.Name, 200, false)
	return v.err()
}

// checkLearnerID accepts the platform's own ids: 1 to 128 printable
// characters without spaces, so that they fit in a URL path.
func checkLearnerID(v *validation, field, id string) {
	if id == "" {
		v.add(field, "is required")
		return
	}
	if len(id) > 128 {
		v.add(field, "must be at most 128 characters")
		return
	}
	for _, r := range id {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) || r == ' ' || r == '/' {
			v.add(field, "must be printable ASCII without spaces or slashes")
			return
		}
	}
	if id == "." || id == ".." {
		// A URL path cannot hold them as a segment: /enrolments/.. is the
		// pathway's.
		v.add(field, "must not be %q", id)
	}
}

// Enrol enrols a learner in one of org's pathways and emits
// enrolment.created. Enrolling a learner twice is ECONFLICT.
func (s *Service) Enrol(ctx context.Context, orgID, pathwayID string, in EnrolmentInput) (*Enrolment, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	now := s.clock.now()
	en := &Enrolment{OrgID: orgID, PathwayID: pathwayID, Learner: *in.Learner, Status: EnrolmentActive, CreatedAt: now,
		CompletedActivityIDs: []string{}}
	err := s.update(ctx, now, func(tx Tx, e *emitter) error {
		p, err := tx.Pathway(ctx, orgID, pathwayID)
		if err != nil {
			return err
		}
		if err := tx.CreateEnrolment(ctx, en); err != nil {
			return err
		}
		return e.emit(ctx, tx, p, TypeEnrolmentCreated, enrolmentData(en))
	})
	if err != nil {
		return nil, err
	}
	return en, nil
}

// Enrolment returns one learner's enrolment in one of org's pathways.
func (s *Service) Enrolment(ctx context.Context, orgID, pathwayID, learnerID string) (*Enrolment, error) {
	if !CanBeID(learnerID) {
		return nil, Errorf(ENOTFOUND, "learner %q is not enrolled in pathway %q", learnerID, pathwayID)
	}
	var en *Enrolment
	err := s.store.View(ctx, func(tx Tx) (err error) {
		if _, err = tx.Pathway(ctx, orgID, pathwayID); err != nil {
			return err
		}
		en, err = tx.Enrolment(ctx, orgID, pathwayID, learnerID)
		return err
	})
	return en, err
}

// Enrolments returns a page of a pathway's enrolments, newest first.
func (s *Service) Enrolments(ctx context.Context, orgID, pathwayID string, page Page) ([]Enrolment, string, error) {
	page, err := page.normalize()
	if err != nil {
		return nil, "", err
	}
	var ens []Enrolment
	err = s.store.View(ctx, func(tx Tx) (err error) {
		if _, err = tx.Pathway(ctx, orgID, pathwayID); err != nil {
			return err
		}
		if page.Cursor != "" {
			// The page starts after the cursor's enrolment time, which
			// only its row holds: without it the list would be empty.
			_, err = tx.Enrolment(ctx, orgID, pathwayID, page.Cursor)
			if ErrorCode(err) == ENOTFOUND {
				return Invalid("cursor", "is not a cursor of this list")
			} else if err != nil {
				return err
			}
		}
		ens, err = tx.Enrolments(ctx, orgID, pathwayID, page)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return pageOf(ens, page, func(e Enrolment) string { return e.Learner.ID })
}

// Completion records that a learner has done an activity.
type Completion struct {
	OrgID      string    `json:"-"`
	PathwayID  string    `json:"pathway_id"`
	LearnerID  string    `json:"learner_id"`
	ActivityID string    `json:"activity_id"`
	CreatedAt  time.Time `json:"completed_at"`
	// PathwayCompleted reports whether this completion completed the pathway.
	PathwayCompleted bool `json:"pathway_completed"`
	// UnlockedRewardIDs lists the rewards that this completion unlocked.
	UnlockedRewardIDs []string `json:"unlocked_reward_ids"`
}

// CompletionInput is what a caller gives to record a completion.
type CompletionInput struct {
	ActivityID string `json:"activity_id"`
}

// Complete records that an enrolled learner has completed an activity of the
// pathway. It emits enrolment.activity_completed; enrolment.completed when
// that was the last activity; and reward.unlocked for each reward that the
// completion unlocks. Completing an activity twice is ECONFLICT; a learner
// who is not enrolled is ENOTFOUND.
func (s *Service) Complete(ctx context.Context, orgID, pathwayID, learnerID string, in CompletionInput) (*Completion, error) {
	var v validation
	if in.ActivityID == "" {
		v.add("activity_id", "is required")
	} else if !CanBeID(in.ActivityID) {
		v.add("activity_id", "is not an activity of this pathway")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if !CanBeID(learnerID) {
		return nil, Errorf(ENOTFOUND, "learner %q is not enrolled in pathway %q", learnerID, pathwayID)
	}
	now := s.clock.now()
	c := &Completion{OrgID: orgID, PathwayID: pathwayID, LearnerID: learnerID, ActivityID: in.ActivityID, CreatedAt: now,
		UnlockedRewardIDs: []string{}}
	err := s.update(ctx, now, func(tx Tx, e *emitter) error {
		c.PathwayCompleted, c.UnlockedRewardIDs = false, []string{} // Update may run this more than once
		p, err := tx.Pathway(ctx, orgID, pathwayID)
		if err != nil {
			return err
		}
		en, err := tx.Enrolment(ctx, orgID, pathwayID, learnerID)
		if err != nil {
			return err
		}
		a, err := tx.Activity(ctx, orgID, in.ActivityID)
		if ErrorCode(err) == ENOTFOUND || err == nil && a.PathwayID != pathwayID {
			return Invalid("activity_id", "is not an activity of this pathway")
		} else if err != nil {
			return err
		}
		if err := tx.CreateCompletion(ctx, c); err != nil {
			return err
		}
		return s.completed(ctx, tx, e, p, en, a, c)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// completed applies the rules of a new completion c: the events it emits,
// the pathway's completion, and the rewards it unlocks.
func (s *Service) completed(ctx context.Context, tx Tx, e *emitter, p *Pathway, en *Enrolment, a *Activity, c *Completion) error {
	activities, err := tx.Activities(ctx, p.OrgID, p.ID)
	if err != nil {
		return err
	}
	en.CompletedActivityIDs = append(en.CompletedActivityIDs, a.ID)
	done := len(en.CompletedActivityIDs)
	if err := e.emit(ctx, tx, p, TypeEnrolmentActivityCompleted, activityCompletedData(en, a, c.CreatedAt, done, len(activities))); err != nil {
		return err
	}
	c.PathwayCompleted = en.Status == EnrolmentActive && done >= len(activities)
	if c.PathwayCompleted {
		en.Status, en.CompletedAt = EnrolmentCompleted, &c.CreatedAt
		if err := tx.UpdateEnrolment(ctx, en); err != nil {
			return err
		}
		if err := e.emit(ctx, tx, p, TypeEnrolmentCompleted, enrolmentData(en)); err != nil {
			return err
		}
	}
	rewards, err := tx.Rewards(ctx, p.OrgID, p.ID)
	if err != nil {
		return err
	}
	for i := range rewards {
		r := &rewards[i]
		if !Unlocks(r, a.ID, c.PathwayCompleted) {
			continue
		}
		award := &Award{RewardID: r.ID, OrgID: p.OrgID, PathwayID: p.ID, LearnerID: en.Learner.ID, Source: AwardAutomatic, CreatedAt: c.CreatedAt}
		switch err := tx.CreateAward(ctx, award); ErrorCode(err) {
		case "":
		case ECONFLICT: // awarded by hand before: nothing new is unlocked
			continue
		default:
			return err
		}
		c.UnlockedRewardIDs = append(c.UnlockedRewardIDs, r.ID)
		var via *string
		if r.UnlockOn == UnlockActivityCompleted {
			via = &a.ID
		}
		if err := e.emit(ctx, tx, p, TypeRewardUnlocked, rewardUnlockedData(en.Learner, r, r.UnlockOn, via, c.CreatedAt)); err != nil {
			return err
		}
	}
	return nil
}

// Unlocks reports whether completing activityID, which completed the
// pathway or not, unlocks reward r.
func Unlocks(r *Reward, activityID string, pathwayCompleted bool) bool {
	switch r.UnlockOn {
	case UnlockActivityCompleted:
		return r.ActivityID != nil && *r.ActivityID == activityID
	case UnlockPathwayCompleted:
		return pathwayCompleted
	}
	return false
}
