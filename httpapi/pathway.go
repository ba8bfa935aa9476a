package httpapi

import (
	"net/http"

	"github.com/pathhook/pathhook"
)

func (s *server) createPathway(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	var in pathhook.PathwayInput
	if err := decode(w, r, &in, false); err != nil {
		return err
	}
	p, err := s.svc.CreatePathway(r.Context(), key.OrgID, in)
	if err != nil {
		return err
	}
	return respond(w, http.StatusCreated, p)
}

func (s *server) listPathways(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	page, err := pageOf(r)
	if err != nil {
		return err
	}
	ps, next, err := s.svc.Pathways(r.Context(), key.OrgID, page)
	if err != nil {
		return err
	}
	return respondList(w, ps, next)
}

func (s *server) getPathway(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	p, err := s.svc.Pathway(r.Context(), key.OrgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return respond(w, http.StatusOK, p)
}
