package sqlstore

import (
	"context"

	"github.com/pathhook/pathhook"
)

// Attendance returns a learner's attendance of an activity.
func (t *txn) Attendance(ctx context.Context, orgID, activityID, learnerID string) (*pathhook.Attendance, error) {
	a := &pathhook.Attendance{}
	err := t.queryRow(ctx, `SELECT org_id, pathway_id, activity_id, learner_id, status, updated_at FROM attendance
		WHERE org_id = ? AND activity_id = ? AND learner_id = ?`, orgID, activityID, learnerID).
		Scan(&a.OrgID, &a.PathwayID, &a.ActivityID, &a.LearnerID, &a.Status, timeCol{&a.UpdatedAt})
	notFound := pathhook.Errorf(pathhook.ENOTFOUND, "learner %q has no attendance of activity %q", learnerID, activityID)
	if err := one(err, "attendance", notFound); err != nil {
		return nil, err
	}
	return a, nil
}

// PutAttendance creates or replaces a learner's attendance.
func (t *txn) PutAttendance(ctx context.Context, a *pathhook.Attendance) error {
	// The org is checked on conflict too, so that no org can overwrite
	// another's row, should two orgs ever share an activity id.
	_, err := t.exec(ctx, `INSERT INTO attendance (org_id, activity_id, learner_id, pathway_id, status, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (activity_id, learner_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at
		WHERE attendance.org_id = excluded.org_id`,
		a.OrgID, a.ActivityID, a.LearnerID, a.PathwayID, a.Status, micros(a.UpdatedAt))
	if err != nil {
		return fail("put attendance", err)
	}
	return nil
}
