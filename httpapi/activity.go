package httpapi

import (
	"net/http"

	"github.com/pathhook/pathhook"
)

func (s *server) createActivity(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	var in pathhook.ActivityInput
	if err := decode(w, r, &in, false); err != nil {
		return err
	}
	a, err := s.svc.CreateActivity(r.Context(), key.OrgID, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return respond(w, http.StatusCreated, a)
}

// listActivities answers a pathway's activities in the pathway's order,
// oldest first, which is the order learners take them in.
func (s *server) listActivities(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	page, err := pageOf(r)
	if err != nil {
		return err
	}
	as, err := s.svc.Activities(r.Context(), key.OrgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	as, next, err := pageSlice(as, page, func(a pathhook.Activity) string { return a.ID })
	if err != nil {
		return err
	}
	return respondList(w, as, next)
}
