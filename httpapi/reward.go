package httpapi

import (
	"net/http"

	"github.com/pathhook/pathhook"
)

func (s *server) createReward(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	var in pathhook.RewardInput
	if err := decode(w, r, &in, false); err != nil {
		return err
	}
	rw, err := s.svc.CreateReward(r.Context(), key.OrgID, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return respond(w, http.StatusCreated, rw)
}

// listRewards answers a pathway's rewards, oldest first.
func (s *server) listRewards(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	page, err := pageOf(r)
	if err != nil {
		return err
	}
	rs, err := s.svc.Rewards(r.Context(), key.OrgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	rs, next, err := pageSlice(rs, page, func(rw pathhook.Reward) string { return rw.ID })
	if err != nil {
		return err
	}
	return respondList(w, rs, next)
}

// awardReward gives a reward to an enrolled learner by hand.
func (s *server) awardReward(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	var in pathhook.AwardInput
	if err := decode(w, r, &in, false); err != nil {
		return err
	}
	a, err := s.svc.AwardReward(r.Context(), key.OrgID, r.PathValue("id"), r.PathValue("reward_id"), in)
	if err != nil {
		return err
	}
	return respond(w, http.StatusCreated, a)
}
