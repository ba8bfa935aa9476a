package pathhook

import "time"

// The data of each event type. docs/events.md shows them in full; change
// both together.

type learnerData struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

func learnerOf(l Learner) learnerData { return learnerData(l) }

type enrolmentInfo struct {
	Status      string  `json:"status"`
	EnrolledAt  string  `json:"enrolled_at"`
	CompletedAt *string `json:"completed_at"`
}

type activityInfo struct {
	ID       string  `json:"id"`
	Title    string  `json:"title"`
	Kind     string  `json:"kind"`
	StartsAt *string `json:"starts_at"`
	Location string  `json:"location"`
}

type progressInfo struct {
	Completed int `json:"completed"`
	Total     int `json:"total"`
}

type rewardInfo struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Points *int   `json:"points"`
}

func formatTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Format(TimeFormat)
	return &s
}

func activityOf(a *Activity) activityInfo {
	return activityInfo{ID: a.ID, Title: a.Title, Kind: a.Kind, StartsAt: formatTime(a.StartsAt), Location: a.Location}
}

// enrolmentData is the data of enrolment.created and enrolment.completed.
func enrolmentData(en *Enrolment) any {
	return struct {
		Learner   learnerData   `json:"learner"`
		Enrolment enrolmentInfo `json:"enrolment"`
	}{learnerOf(en.Learner), enrolmentInfo{en.Status, en.CreatedAt.Format(TimeFormat), formatTime(en.CompletedAt)}}
}

// activityCompletedData is the data of enrolment.activity_completed.
func activityCompletedData(en *Enrolment, a *Activity, at time.Time, done, total int) any {
	return struct {
		Learner     learnerData  `json:"learner"`
		Activity    activityInfo `json:"activity"`
		CompletedAt string       `json:"completed_at"`
		Progress    progressInfo `json:"progress"`
	}{learnerOf(en.Learner), activityOf(a), at.Format(TimeFormat), progressInfo{done, total}}
}

// bookingData is the data of the booking.* events.
func bookingData(l Learner, a *Activity, status, previous string, at time.Time) any {
	var prev *string
	if previous != "" {
		prev = &previous
	}
	return struct {
		Learner        learnerData  `json:"learner"`
		Activity       activityInfo `json:"activity"`
		Status         string       `json:"status"`
		PreviousStatus *string      `json:"previous_status"`
		ChangedAt      string       `json:"changed_at"`
	}{learnerOf(l), activityOf(a), status, prev, at.Format(TimeFormat)}
}

// rewardUnlockedData is the data of reward.unlocked. via is the activity
// whose completion unlocked the reward, if one did.
func rewardUnlockedData(l Learner, r *Reward, trigger string, via *string, at time.Time) any {
	return struct {
		Learner    learnerData `json:"learner"`
		Reward     rewardInfo  `json:"reward"`
		Trigger    string      `json:"trigger"`
		ActivityID *string     `json:"activity_id"`
		UnlockedAt string      `json:"unlocked_at"`
	}{learnerOf(l), rewardInfo{r.ID, r.Name, r.Kind, r.Points}, trigger, via, at.Format(TimeFormat)}
}

// sampleData returns realistic data of event type t for a test delivery.
func sampleData(t string, now time.Time) any {
	l := Learner{ID: "learner_sample_42", Email: "ada.lovelace@example.com", Name: "Ada Lovelace"}
	starts := now.Add(72 * time.Hour).Truncate(time.Hour)
	enrolled := now.Add(-14 * 24 * time.Hour)
	classroom := &Activity{ID: "act_sample_classroom", Title: "Hands-on workshop", Kind: ActivityClassroom, StartsAt: &starts, Location: "Room 4B"}
	online := &Activity{ID: "act_sample_online", Title: "Introduction video", Kind: ActivityOnline}
	points := 50
	champion := &Reward{ID: "rwd_sample_points", Name: "Pathway champion", Kind: RewardPoints, Points: &points}
	en := &Enrolment{Learner: l, Status: EnrolmentActive, CreatedAt: enrolled}
	switch t {
	case TypeEnrolmentCreated:
		en.CreatedAt = now
		return enrolmentData(en)
	case TypeEnrolmentActivityCompleted:
		return activityCompletedData(en, online, now, 1, 3)
	case TypeEnrolmentCompleted:
		en.Status, en.CompletedAt = EnrolmentCompleted, &now
		return enrolmentData(en)
	case TypeBookingRegistered:
		return bookingData(l, classroom, AttendanceRegistered, "", now)
	case TypeBookingCheckedIn:
		return bookingData(l, classroom, AttendanceCheckedIn, AttendanceRegistered, now)
	case TypeBookingCancelled:
		return bookingData(l, classroom, AttendanceCancelled, AttendanceRegistered, now)
	case TypeRewardUnlocked:
		return rewardUnlockedData(l, champion, UnlockPathwayCompleted, nil, now)
	}
	return nil
}
