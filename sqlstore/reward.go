package sqlstore

import (
	"context"

	"github.com/pathhook/pathhook"
)

const rewardColumns = "id, org_id, pathway_id, name, kind, points, unlock_on, activity_id, created_at"

func scanReward(s interface{ Scan(...any) error }, r *pathhook.Reward) error {
	return s.Scan(&r.ID, &r.OrgID, &r.PathwayID, &r.Name, &r.Kind, &r.Points, &r.UnlockOn, &r.ActivityID, timeCol{&r.CreatedAt})
}

// CreateReward writes a new reward.
func (t *txn) CreateReward(ctx context.Context, r *pathhook.Reward) error {
	_, err := t.exec(ctx, "INSERT INTO rewards ("+rewardColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		r.ID, r.OrgID, r.PathwayID, r.Name, r.Kind, r.Points, r.UnlockOn, r.ActivityID, micros(r.CreatedAt))
	return t.conflict(err, "create reward", "reward %q exists already", r.ID)
}

// Reward returns one of org's rewards.
func (t *txn) Reward(ctx context.Context, orgID, id string) (*pathhook.Reward, error) {
	r := &pathhook.Reward{}
	row := t.queryRow(ctx, "SELECT "+rewardColumns+" FROM rewards WHERE org_id = ? AND id = ?", orgID, id)
	if err := one(scanReward(row, r), "reward", pathhook.NotFound("reward", id)); err != nil {
		return nil, err
	}
	return r, nil
}

// Rewards lists a pathway's rewards, oldest first.
func (t *txn) Rewards(ctx context.Context, orgID, pathwayID string) ([]pathhook.Reward, error) {
	rows, err := t.query(ctx, "SELECT "+rewardColumns+" FROM rewards WHERE org_id = ? AND pathway_id = ? ORDER BY id",
		orgID, pathwayID)
	if err != nil {
		return nil, fail("rewards", err)
	}
	return collect(rows, "rewards", scanReward)
}

// CreateAward records that a learner received a reward; receiving it again
// is ECONFLICT.
func (t *txn) CreateAward(ctx context.Context, a *pathhook.Award) error {
	return t.insertOnce(ctx, "create award", `INSERT INTO awards (org_id, reward_id, learner_id, pathway_id, source, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, []any{a.OrgID, a.RewardID, a.LearnerID, a.PathwayID, a.Source, micros(a.CreatedAt)},
		"reward %q was already awarded to learner %q", a.RewardID, a.LearnerID)
}
