package httpapi

import (
	"net/http"

	"github.com/pathhook/pathhook"
)

// apiKeyInput is the body of POST /v1/api-keys.
type apiKeyInput struct {
	Name string `json:"name"`
}

// newAPIKey is a key as its creation shows it: the only answer that holds
// the key itself. Lists show only its hint.
type newAPIKey struct {
	*pathhook.APIKey
	Key string `json:"key"`
}

func (s *server) createAPIKey(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	var in apiKeyInput
	if err := decode(w, r, &in, false); err != nil {
		return err
	}
	plain, k, err := s.svc.CreateAPIKey(r.Context(), key.OrgID, in.Name)
	if err != nil {
		return err
	}
	return respond(w, http.StatusCreated, newAPIKey{APIKey: k, Key: plain})
}

// listAPIKeys answers the org's keys, revoked ones included, newest first.
func (s *server) listAPIKeys(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	page, err := pageOf(r)
	if err != nil {
		return err
	}
	ks, err := s.svc.APIKeys(r.Context(), key.OrgID)
	if err != nil {
		return err
	}
	ks, next, err := pageSlice(ks, page, func(k pathhook.APIKey) string { return k.ID })
	if err != nil {
		return err
	}
	return respondList(w, ks, next)
}

// revokeAPIKey ends a key at once, even the one that makes this call; the
// answer shows it revoked.
func (s *server) revokeAPIKey(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	k, err := s.svc.RevokeAPIKey(r.Context(), key.OrgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return respond(w, http.StatusOK, k)
}
