package httpapi

import (
	"net/http"

	"github.com/pathhook/pathhook"
)

func (s *server) enrol(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	var in pathhook.EnrolmentInput
	if err := decode(w, r, &in, false); err != nil {
		return err
	}
	en, err := s.svc.Enrol(r.Context(), key.OrgID, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return respond(w, http.StatusCreated, en)
}

func (s *server) listEnrolments(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	page, err := pageOf(r)
	if err != nil {
		return err
	}
	ens, next, err := s.svc.Enrolments(r.Context(), key.OrgID, r.PathValue("id"), page)
	if err != nil {
		return err
	}
	return respondList(w, ens, next)
}

func (s *server) getEnrolment(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	en, err := s.svc.Enrolment(r.Context(), key.OrgID, r.PathValue("id"), r.PathValue("learner_id"))
	if err != nil {
		return err
	}
	return respond(w, http.StatusOK, en)
}

// complete records that an enrolled learner has completed an activity.
func (s *server) complete(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	var in pathhook.CompletionInput
	if err := decode(w, r, &in, false); err != nil {
		return err
	}
	c, err := s.svc.Complete(r.Context(), key.OrgID, r.PathValue("id"), r.PathValue("learner_id"), in)
	if err != nil {
		return err
	}
	return respond(w, http.StatusCreated, c)
}
