package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/pathhook/pathhook"
)

func (s *server) listDeliveries(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	page, err := pageOf(r)
	if err != nil {
		return err
	}
	ds, next, err := s.svc.Deliveries(r.Context(), key.OrgID, r.PathValue("id"), r.URL.Query().Get("status"), page)
	if err != nil {
		return err
	}
	return respondList(w, ds, next)
}

// deliveryDetail is one delivery as GET /v1/deliveries/{id} shows it: with
// its attempts (an empty list before the first), and the request that every
// attempt sends. Attempts here shadows the embedded field, which is omitted
// when empty.
type deliveryDetail struct {
	*pathhook.Delivery
	Attempts []pathhook.Attempt `json:"attempts"`
	Request  deliveryRequest    `json:"request"`
}

// deliveryRequest shows what each attempt sends: the event's payload, byte
// for byte the body of every attempt. Headers are not shown: the signature
// headers depend on the secret and the time of each attempt.
type deliveryRequest struct {
	Event json.RawMessage `json:"event"`
}

func (s *server) getDelivery(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	id := r.PathValue("id")
	d, err := s.svc.Delivery(r.Context(), key.OrgID, id)
	if err != nil {
		return err
	}
	ev, err := s.svc.DeliveryEvent(r.Context(), key.OrgID, id)
	if err != nil {
		return err
	}
	out := deliveryDetail{Delivery: d, Attempts: d.Attempts, Request: deliveryRequest{Event: ev.Payload}}
	if out.Attempts == nil {
		out.Attempts = []pathhook.Attempt{}
	}
	return respond(w, http.StatusOK, out)
}

// redeliver makes one more attempt of a delivery that has ended; 202
// because the attempt is made later.
func (s *server) redeliver(w http.ResponseWriter, r *http.Request, key *pathhook.APIKey) error {
	id := r.PathValue("id")
	if err := s.svc.Redeliver(r.Context(), key.OrgID, id); err != nil {
		return err
	}
	return respond(w, http.StatusAccepted, deliveryAnswer{DeliveryID: id})
}
