package sqlstore

import (
	"context"

	"github.com/pathhook/pathhook"
)

const activityColumns = "id, org_id, pathway_id, title, kind, starts_at, location, created_at"

func scanActivity(s interface{ Scan(...any) error }, a *pathhook.Activity) error {
	return s.Scan(&a.ID, &a.OrgID, &a.PathwayID, &a.Title, &a.Kind, nullTimeCol{&a.StartsAt}, &a.Location, timeCol{&a.CreatedAt})
}

// CreateActivity writes a new activity.
func (t *txn) CreateActivity(ctx context.Context, a *pathhook.Activity) error {
	_, err := t.exec(ctx, "INSERT INTO activities ("+activityColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		a.ID, a.OrgID, a.PathwayID, a.Title, a.Kind, nullMicros(a.StartsAt), a.Location, micros(a.CreatedAt))
	return t.conflict(err, "create activity", "activity %q exists already", a.ID)
}

// Activity returns one of org's activities.
func (t *txn) Activity(ctx context.Context, orgID, id string) (*pathhook.Activity, error) {
	a := &pathhook.Activity{}
	row := t.queryRow(ctx, "SELECT "+activityColumns+" FROM activities WHERE org_id = ? AND id = ?", orgID, id)
	if err := one(scanActivity(row, a), "activity", pathhook.NotFound("activity", id)); err != nil {
		return nil, err
	}
	return a, nil
}

// Activities lists a pathway's activities, oldest first.
func (t *txn) Activities(ctx context.Context, orgID, pathwayID string) ([]pathhook.Activity, error) {
	rows, err := t.query(ctx, "SELECT "+activityColumns+" FROM activities WHERE org_id = ? AND pathway_id = ? ORDER BY id",
		orgID, pathwayID)
	if err != nil {
		return nil, fail("activities", err)
	}
	return collect(rows, "activities", scanActivity)
}
