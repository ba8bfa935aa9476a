package sqlstore

import (
	"context"

	"github.com/pathhook/pathhook"
)

const enrolmentColumns = "org_id, pathway_id, learner_id, email, name, status, created_at, completed_at"

func scanEnrolment(s interface{ Scan(...any) error }, en *pathhook.Enrolment) error {
	return s.Scan(&en.OrgID, &en.PathwayID, &en.Learner.ID, &en.Learner.Email, &en.Learner.Name, &en.Status,
		timeCol{&en.CreatedAt}, nullTimeCol{&en.CompletedAt})
}

// CreateEnrolment writes a new enrolment; enrolling a learner twice is
// ECONFLICT. Nothing waits for the insert: a Pipe sends it with the next
// statement, usually the event's, with COMMIT, which then reports the
// conflict and fails the transaction (pathhook.Tx allows this). Without a
// Pipe the conflict is reported here.
func (t *txn) CreateEnrolment(ctx context.Context, en *pathhook.Enrolment) error {
	const (
		op     = "create enrolment"
		query  = "INSERT INTO enrolments (" + enrolmentColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
		exists = "learner %q is already enrolled in pathway %q"
	)
	args := []any{en.OrgID, en.PathwayID, en.Learner.ID, en.Learner.Email, en.Learner.Name, en.Status, micros(en.CreatedAt),
		nullMicros(en.CompletedAt)}
	if t.pipe == nil {
		return t.insertOnce(ctx, op, query, args, exists, en.Learner.ID, en.PathwayID)
	}
	return t.execLater(ctx, func(err error) error { return t.conflict(err, op, exists, en.Learner.ID, en.PathwayID) },
		query, args...)
}

// Enrolment returns a learner's enrolment with CompletedActivityIDs.
func (t *txn) Enrolment(ctx context.Context, orgID, pathwayID, learnerID string) (*pathhook.Enrolment, error) {
	en := &pathhook.Enrolment{}
	row := t.queryRow(ctx, "SELECT "+enrolmentColumns+" FROM enrolments WHERE org_id = ? AND pathway_id = ? AND learner_id = ?"+t.forUpdate(),
		orgID, pathwayID, learnerID)
	notFound := pathhook.Errorf(pathhook.ENOTFOUND, "learner %q is not enrolled in pathway %q", learnerID, pathwayID)
	if err := one(scanEnrolment(row, en), "enrolment", notFound); err != nil {
		return nil, err
	}
	ens := []pathhook.Enrolment{*en}
	if err := t.fillCompletions(ctx, orgID, pathwayID, ens); err != nil {
		return nil, err
	}
	return &ens[0], nil
}

// Enrolments lists up to page.Limit enrolments made before the one whose
// learner id is the cursor, newest first, with CompletedActivityIDs.
func (t *txn) Enrolments(ctx context.Context, orgID, pathwayID string, page pathhook.Page) ([]pathhook.Enrolment, error) {
	q := "SELECT " + enrolmentColumns + " FROM enrolments e WHERE org_id = ? AND pathway_id = ?"
	args := []any{orgID, pathwayID}
	if page.Cursor != "" {
		// Learners enrolled in the same microsecond are told apart by id.
		q += ` AND (created_at, learner_id) < (SELECT c.created_at, c.learner_id FROM enrolments c
			WHERE c.org_id = ? AND c.pathway_id = ? AND c.learner_id = ?)`
		args = append(args, orgID, pathwayID, page.Cursor)
	}
	q += " ORDER BY created_at DESC, learner_id DESC LIMIT ?"
	rows, err := t.query(ctx, q, append(args, page.Limit)...)
	if err != nil {
		return nil, fail("enrolments", err)
	}
	ens, err := collect(rows, "enrolments", scanEnrolment)
	if err != nil {
		return nil, err
	}
	if err := t.fillCompletions(ctx, orgID, pathwayID, ens); err != nil {
		return nil, err
	}
	return ens, nil
}

// fillCompletions sets the CompletedActivityIDs of enrolments in one
// pathway, in the order they were completed.
func (t *txn) fillCompletions(ctx context.Context, orgID, pathwayID string, ens []pathhook.Enrolment) error {
	if len(ens) == 0 {
		return nil
	}
	byLearner := make(map[string]*pathhook.Enrolment, len(ens))
	args := []any{orgID, pathwayID}
	for i := range ens {
		ens[i].CompletedActivityIDs = []string{}
		byLearner[ens[i].Learner.ID] = &ens[i]
		args = append(args, ens[i].Learner.ID)
	}
	rows, err := t.query(ctx, `SELECT learner_id, activity_id FROM completions
		WHERE org_id = ? AND pathway_id = ? AND learner_id IN (`+placeholders(len(ens))+`)
		ORDER BY created_at, activity_id`, args...)
	if err != nil {
		return fail("completions", err)
	}
	defer rows.Close()
	for rows.Next() {
		var learner, activity string
		if err := rows.Scan(&learner, &activity); err != nil {
			return fail("completions", err)
		}
		en := byLearner[learner]
		en.CompletedActivityIDs = append(en.CompletedActivityIDs, activity)
	}
	if err := rows.Err(); err != nil {
		return fail("completions", err)
	}
	return nil
}

// UpdateEnrolment writes Status and CompletedAt.
func (t *txn) UpdateEnrolment(ctx context.Context, en *pathhook.Enrolment) error {
	res, err := t.exec(ctx, "UPDATE enrolments SET status = ?, completed_at = ? WHERE org_id = ? AND pathway_id = ? AND learner_id = ?",
		en.Status, nullMicros(en.CompletedAt), en.OrgID, en.PathwayID, en.Learner.ID)
	return mustAffect(res, err, "update enrolment",
		pathhook.Errorf(pathhook.ENOTFOUND, "learner %q is not enrolled in pathway %q", en.Learner.ID, en.PathwayID))
}

// CreateCompletion records that a learner did an activity; doing it again
// is ECONFLICT.
func (t *txn) CreateCompletion(ctx context.Context, c *pathhook.Completion) error {
	return t.insertOnce(ctx, "create completion", `INSERT INTO completions (org_id, pathway_id, learner_id, activity_id, created_at)
		VALUES (?, ?, ?, ?, ?)`, []any{c.OrgID, c.PathwayID, c.LearnerID, c.ActivityID, micros(c.CreatedAt)},
		"activity %q is already completed by learner %q", c.ActivityID, c.LearnerID)
}
