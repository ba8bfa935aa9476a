package httpapi

import (
	"net/http"

	"github.com/pathhook/pathhook"
)

// setAttendance changes a learner's attendance of a classroom or event
// activity. It answers 200, not 201: an attendance is replaced, not added.
func (s *server) setAttendance(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	var in pathhook.AttendanceInput
	if err := decode(w, r, &in, false); err != nil {
		return err
	}
	a, err := s.svc.SetAttendance(r.Context(), key.OrgID, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return respond(w, http.StatusOK, a)
}
