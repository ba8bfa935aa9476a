package pathhook

import (
	"context"
	"strings"
	"time"
)

// Kinds of reward.
const (
	RewardBadge       = "badge"
	RewardCertificate = "certificate"
	RewardPoints      = "points"
)

// What unlocks a reward.
const (
	UnlockPathwayCompleted  = "pathway_completed"
	UnlockActivityCompleted = "activity_completed"
)

// How a learner came by a reward.
const (
	AwardAutomatic = "automatic"
	AwardManual    = "manual"
)

// Reward is something a learner receives on a pathway: unlocked when the
// pathway or one of its activities is completed, or awarded by hand.
type Reward struct {
	ID         string    `json:"id"`
	OrgID      string    `json:"-"`
	PathwayID  string    `json:"pathway_id"`
	Name       string    `json:"name"`
	Kind       string    `json:"kind"`
	Points     *int      `json:"points"`
	UnlockOn   string    `json:"unlock_on"`
	ActivityID *string   `json:"activity_id"`
	CreatedAt  time.Time `json:"created_at"`
}

// RewardInput is what a caller gives to add a reward to a pathway.
type RewardInput struct {
	Name       string  `json:"name"`
	Kind       string  `json:"kind"`
	Points     *int    `json:"points"`
	UnlockOn   string  `json:"unlock_on"`
	ActivityID *string `json:"activity_id"`
}

func (in *RewardInput) validate() validation {
	var v validation
	in.Name = strings.TrimSpace(in.Name)
	checkText(&v, "name", in.Name, 200, true)
	switch in.Kind {
	case RewardBadge, RewardCertificate:
		if in.Points != nil {
			v.add("points", "is for a points reward only, not a %s", in.Kind)
		}
	case RewardPoints:
		if in.Points == nil {
			v.add("points", "is required for a points reward")
		}
	case "":
		v.add("kind", "is required")
	default:
		v.add("kind", "must be one of badge, certificate, points")
	}
	if in.Kind == RewardPoints && in.Points != nil && (*in.Points < 1 || *in.Points > 1_000_000) {
		v.add("points", "must be between 1 and 1000000")
	}
	switch in.UnlockOn {
	case UnlockPathwayCompleted:
		if in.ActivityID != nil {
			v.add("activity_id", "must be absent when unlock_on is pathway_completed")
		}
	case UnlockActivityCompleted:
		if in.ActivityID == nil || *in.ActivityID == "" {
			v.add("activity_id", "is required when unlock_on is activity_completed")
		} else if !CanBeID(*in.ActivityID) {
			v.add("activity_id", "is not an activity of this pathway")
		}
	case "":
		v.add("unlock_on", "is required")
	default:
		v.add("unlock_on", "must be one of pathway_completed, activity_completed")
	}
	return v
}

// CreateReward adds a reward to one of org's pathways.
func (s *Service) CreateReward(ctx context.Context, orgID, pathwayID string, in RewardInput) (*Reward, error) {
	if err := in.validate().err(); err != nil {
		return nil, err
	}
	now := s.clock.now()
	r := &Reward{ID: s.ids.next(PrefixReward, now), OrgID: orgID, PathwayID: pathwayID, Name: in.Name, Kind: in.Kind,
		Points: in.Points, UnlockOn: in.UnlockOn, ActivityID: in.ActivityID, CreatedAt: now}
	err := s.store.Update(ctx, func(tx Tx) error {
		if _, err := tx.Pathway(ctx, orgID, pathwayID); err != nil {
			return err
		}
		if r.ActivityID != nil {
			a, err := tx.Activity(ctx, orgID, *r.ActivityID)
			if ErrorCode(err) == ENOTFOUND || err == nil && a.PathwayID != pathwayID {
				return Invalid("activity_id", "is not an activity of this pathway")
			} else if err != nil {
				return err
			}
		}
		return tx.CreateReward(ctx, r)
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Rewards returns all rewards of one of org's pathways, oldest first.
func (s *Service) Rewards(ctx context.Context, orgID, pathwayID string) ([]Reward, error) {
	var rs []Reward
	err := s.store.View(ctx, func(tx Tx) (err error) {
		if _, err = tx.Pathway(ctx, orgID, pathwayID); err != nil {
			return err
		}
		rs, err = tx.Rewards(ctx, orgID, pathwayID)
		return err
	})
	return rs, err
}

// Award is a reward that a learner has received.
type Award struct {
	RewardID  string    `json:"reward_id"`
	OrgID     string    `json:"-"`
	PathwayID string    `json:"pathway_id"`
	LearnerID string    `json:"learner_id"`
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
}

// AwardInput is what a caller gives to award a reward by hand.
type AwardInput struct {
	LearnerID string `json:"learner_id"`
}

// AwardReward gives a reward to an enrolled learner by hand and emits
// reward.unlocked. Awarding a reward the learner already has is ECONFLICT.
func (s *Service) AwardReward(ctx context.Context, orgID, pathwayID, rewardID string, in AwardInput) (*Award, error) {
	var v validation
	checkLearnerID(&v, "learner_id", in.LearnerID)
	if err := v.err(); err != nil {
		return nil, err
	}
	now := s.clock.now()
	award := &Award{RewardID: rewardID, OrgID: orgID, PathwayID: pathwayID, LearnerID: in.LearnerID, Source: AwardManual, CreatedAt: now}
	err := s.update(ctx, now, func(tx Tx, e *emitter) error {
		p, err := tx.Pathway(ctx, orgID, pathwayID)
		if err != nil {
			return err
		}
		r, err := tx.Reward(ctx, orgID, rewardID)
		if err != nil {
			return err
		}
		if r.PathwayID != pathwayID {
			return NotFound("reward", rewardID)
		}
		en, err := tx.Enrolment(ctx, orgID, pathwayID, in.LearnerID)
		if err != nil {
			return err
		}
		if err := tx.CreateAward(ctx, award); err != nil {
			return err
		}
		return e.emit(ctx, tx, p, TypeRewardUnlocked, rewardUnlockedData(en.Learner, r, AwardManual, nil, now))
	})
	if err != nil {
		return nil, err
	}
	return award, nil
}
