package pathhook

import (
	"context"
	"time"
)

// Attendance statuses.
const (
	AttendanceRegistered = "registered"
	AttendanceCheckedIn  = "checked_in"
	AttendanceCancelled  = "cancelled"
)

// Attendance is a learner's booking of a classroom or event activity.
type Attendance struct {
	OrgID      string    `json:"-"`
	PathwayID  string    `json:"pathway_id"`
	ActivityID string    `json:"activity_id"`
	LearnerID  string    `json:"learner_id"`
	Status     string    `json:"status"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// AttendanceInput is what a caller gives to change a learner's attendance.
type AttendanceInput struct {
	LearnerID string `json:"learner_id"`
	Status    string `json:"status"`
}

// attendanceEvents maps each status to the event that reaching it emits.
var attendanceEvents = map[string]string{
	AttendanceRegistered: TypeBookingRegistered,
	AttendanceCheckedIn:  TypeBookingCheckedIn,
	AttendanceCancelled:  TypeBookingCancelled,
}

func (in *AttendanceInput) validate() error {
	var v validation
	checkLearnerID(&v, "learner_id", in.LearnerID)
	if in.Status == "" {
		v.add("status", "is required")
	} else if _, ok := attendanceEvents[in.Status]; !ok {
		v.add("status", "must be one of registered, checked_in, cancelled")
	}
	return v.err()
}

// SetAttendance records a change of an enrolled learner's attendance of a
// classroom or event activity and emits the matching booking event. The same
// status again is ECONFLICT; an online activity is EINVALID.
func (s *Service) SetAttendance(ctx context.Context, orgID, activityID string, in AttendanceInput) (*Attendance, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	now := s.clock.now()
	var att *Attendance
	err := s.update(ctx, now, func(tx Tx, e *emitter) error {
		a, err := tx.Activity(ctx, orgID, activityID)
		if err != nil {
			return err
		}
		if !a.Bookable() {
			return Invalid("activity", "is an %s activity; attendance is only for classroom and event activities", a.Kind)
		}
		p, err := tx.Pathway(ctx, orgID, a.PathwayID)
		if err != nil {
			return err
		}
		en, err := tx.Enrolment(ctx, orgID, a.PathwayID, in.LearnerID)
		if err != nil {
			return err
		}
		previous := ""
		switch old, err := tx.Attendance(ctx, orgID, activityID, in.LearnerID); {
		case err == nil && old.Status == in.Status:
			return Errorf(ECONFLICT, "learner %q is already %s for activity %q", in.LearnerID, in.Status, activityID)
		case err == nil:
			previous = old.Status
		case ErrorCode(err) != ENOTFOUND:
			return err
		case in.Status == AttendanceCancelled:
			// A walk-in may check in without a booking; nothing can be
			// cancelled without one.
			return Errorf(ECONFLICT, "learner %q has no booking for activity %q to cancel", in.LearnerID, activityID)
		}
		att = &Attendance{OrgID: orgID, PathwayID: a.PathwayID, ActivityID: activityID, LearnerID: in.LearnerID, Status: in.Status, UpdatedAt: now}
		if err := tx.PutAttendance(ctx, att); err != nil {
			return err
		}
		return e.emit(ctx, tx, p, attendanceEvents[in.Status], bookingData(en.Learner, a, in.Status, previous, now))
	})
	if err != nil {
		return nil, err
	}
	return att, nil
}
