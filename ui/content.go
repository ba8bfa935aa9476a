package ui

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pathhook/pathhook"
)

// The forms of a pathway page that change its content: activities,
// rewards, enrolments and completions. They let an admin make the events
// that the webhooks carry.

var activityFields = []string{"title", "kind", "starts_at", "location"}

func (h *handler) createActivity(w http.ResponseWriter, r *http.Request, a *actor) {
	h.pathwayForm(w, r, a, "activity", "activities", activityFields, "Activity added.", func() error {
		in := pathhook.ActivityInput{Title: r.PostFormValue("title"), Kind: r.PostFormValue("kind"),
			Location: strings.TrimSpace(r.PostFormValue("location"))}
		if s := r.PostFormValue("starts_at"); s != "" {
			// A datetime-local input has no zone; the form says UTC.
			t, err := time.ParseInLocation("2006-01-02T15:04", s, time.UTC)
			if err != nil {
				return pathhook.Invalid("starts_at", "must be a date and time")
			}
			in.StartsAt = &t
		}
		_, err := h.svc.CreateActivity(r.Context(), a.orgID, r.PathValue("id"), in)
		return err
	})
}

var rewardFields = []string{"name", "kind", "points", "unlock_on", "activity_id"}

func (h *handler) createReward(w http.ResponseWriter, r *http.Request, a *actor) {
	h.pathwayForm(w, r, a, "reward", "rewards", rewardFields, "Reward added.", func() error {
		in := pathhook.RewardInput{Name: r.PostFormValue("name"), Kind: r.PostFormValue("kind"), UnlockOn: r.PostFormValue("unlock_on")}
		if s := strings.TrimSpace(r.PostFormValue("points")); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return pathhook.Invalid("points", "must be a whole number")
			}
			in.Points = &n
		}
		// The activity select keeps its value when the admin switches to
		// "pathway completed"; only the activity trigger uses it.
		if id := r.PostFormValue("activity_id"); id != "" && in.UnlockOn == pathhook.UnlockActivityCompleted {
			in.ActivityID = &id
		}
		_, err := h.svc.CreateReward(r.Context(), a.orgID, r.PathValue("id"), in)
		return err
	})
}

var enrolFields = []string{"learner.id", "learner.email", "learner.name"}

func (h *handler) enrol(w http.ResponseWriter, r *http.Request, a *actor) {
	h.pathwayForm(w, r, a, "enrol", "enrolments", enrolFields, "Learner enrolled.", func() error {
		_, err := h.svc.Enrol(r.Context(), a.orgID, r.PathValue("id"), pathhook.EnrolmentInput{Learner: &pathhook.Learner{
			ID: strings.TrimSpace(r.PostFormValue("learner.id")), Email: r.PostFormValue("learner.email"),
			Name: r.PostFormValue("learner.name")}})
		return err
	})
}

var completionFields = []string{"learner_id", "activity_id"}

func (h *handler) complete(w http.ResponseWriter, r *http.Request, a *actor) {
	h.pathwayForm(w, r, a, "completion", "enrolments", completionFields, "Completion recorded.", func() error {
		learner := strings.TrimSpace(r.PostFormValue("learner_id"))
		if learner == "" {
			return pathhook.Invalid("learner_id", "is required")
		}
		_, err := h.svc.Complete(r.Context(), a.orgID, r.PathValue("id"), learner,
			pathhook.CompletionInput{ActivityID: r.PostFormValue("activity_id")})
		return err
	})
}
