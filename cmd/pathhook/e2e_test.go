package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

type webhookJSON struct {
	ID             string  `json:"id"`
	PathwayID      string  `json:"pathway_id"`
	Category       string  `json:"category"`
	URL            *string `json:"url"`
	Enabled        bool    `json:"enabled"`
	SecretSet      bool    `json:"secret_set"`
	DisabledReason *string `json:"disabled_reason"`
}

type pathwayJSON struct {
	ID       string        `json:"id"`
	Name     string        `json:"name"`
	Webhooks []webhookJSON `json:"webhooks"`
}

type deliveryJSON struct {
	ID           string `json:"id"`
	WebhookID    string `json:"webhook_id"`
	EventID      string `json:"event_id"`
	EventType    string `json:"event_type"`
	Status       string `json:"status"`
	AttemptCount int    `json:"attempt_count"`
	Attempts     []struct {
		N              int     `json:"n"`
		ResponseStatus *int    `json:"response_status"`
		Error          *string `json:"error"`
		ResponseBody   string  `json:"response_body"`
	} `json:"attempts"`
}

type eventJSON struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Category string `json:"category"`
	Test     bool   `json:"test"`
	Pathway  struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"pathway"`
	Data map[string]json.RawMessage `json:"data"`
}

// phpAccepts follows the seed's PHP receiver literally:
// explode('sha256=', $header)[1] == hash_hmac('sha256', $body, $secret).
func phpAccepts(header string, body []byte, secret string) bool {
	parts := strings.Split(header, "sha256=")
	if len(parts) < 2 {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return parts[1] == hex.EncodeToString(m.Sum(nil))
}

// setUp sets a webhook up with url and secret and enables it.
func (s *server) setUp(t *testing.T, webhookID, url, secret string) {
	t.Helper()
	s.call(t, "PUT", "/v1/webhooks/"+webhookID, map[string]any{"url": url, "secret": secret}, 200, nil)
	s.call(t, "PATCH", "/v1/webhooks/"+webhookID, map[string]any{"enabled": true}, 200, nil)
}

func hookOf(t *testing.T, p pathwayJSON, category string) webhookJSON {
	t.Helper()
	for _, w := range p.Webhooks {
		if w.Category == category {
			return w
		}
	}
	t.Fatalf("pathway has no %s webhook: %+v", category, p.Webhooks)
	return webhookJSON{}
}

// checkDelivery checks one received request against the wire format and
// returns its event.
func checkDelivery(t *testing.T, platform, secret string, r received) eventJSON {
	t.Helper()
	h := r.Header
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if ua := h.Get("User-Agent"); !strings.HasPrefix(ua, platform+"-Webhooks/") {
		t.Errorf("User-Agent %q, want %s-Webhooks/<version>", ua, platform)
	}
	sig := h.Get(platform + "-Webhook-Signature")
	if !phpAccepts(sig, r.Body, secret) {
		t.Errorf("the seed's PHP steps reject %s-Webhook-Signature %q", platform, sig)
	}
	var ev eventJSON
	if err := json.Unmarshal(r.Body, &ev); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, r.Body)
	}
	for name, want := range map[string]string{"Event": ev.Type, "Id": ev.ID} {
		if got := h.Get(platform + "-Webhook-" + name); got != want {
			t.Errorf("%s-Webhook-%s = %q, want %q", platform, name, got, want)
		}
	}
	if h.Get(platform+"-Webhook-Delivery") == "" || h.Get(platform+"-Webhook-Attempt") == "" {
		t.Errorf("missing delivery or attempt header: %v", h)
	}
	if h.Get("webhook-id") != ev.ID || h.Get("webhook-timestamp") == "" || !strings.HasPrefix(h.Get("webhook-signature"), "v1,") {
		t.Errorf("Standard Webhooks headers missing or wrong: %v", h)
	}
	return ev
}

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	for _, platform := range []string{"Falkor", "ByteKast"} {
		t.Run(platform, func(t *testing.T) {
			t.Parallel()
			testEndToEnd(t, platform)
		})
	}
}

func testEndToEnd(t *testing.T, platform string) {
	const secret = "e2e-secret-0123456789abcdefghij"
	s := startServer(t, map[string]string{"PATHHOOK_PLATFORM": platform}, "--retry-schedule", "10ms,10ms,10ms")
	rc := newReceiver(t)

	// A new pathway has three disabled webhooks.
	var p pathwayJSON
	s.call(t, "POST", "/v1/pathways", map[string]any{"name": "Onboarding", "description": "First steps"}, 201, &p)
	if len(p.Webhooks) != 3 {
		t.Fatalf("pathway has %d webhooks, want 3", len(p.Webhooks))
	}
	for _, w := range p.Webhooks {
		if w.Enabled || w.URL != nil || w.SecretSet {
			t.Fatalf("new webhook %+v: want disabled, no URL, no secret", w)
		}
	}
	enrolments, bookings, rewards := hookOf(t, p, "enrolments"), hookOf(t, p, "bookings"), hookOf(t, p, "rewards")

	// Enabling before setup is a conflict; setup, enable, test.
	s.call(t, "PATCH", "/v1/webhooks/"+enrolments.ID, map[string]any{"enabled": true}, 409, nil)
	s.call(t, "POST", "/v1/webhooks/"+enrolments.ID+"/test", nil, 409, nil)
	for _, w := range []webhookJSON{enrolments, bookings, rewards} {
		s.setUp(t, w.ID, rc.URL+"/"+w.Category, secret)
	}
	var test struct {
		DeliveryID string `json:"delivery_id"`
	}
	s.call(t, "POST", "/v1/webhooks/"+enrolments.ID+"/test", map[string]any{"type": "enrolment.completed"}, 202, &test)
	got := rc.wait(t, 1)
	ev := checkDelivery(t, platform, secret, got[0])
	if !ev.Test || ev.Type != "enrolment.completed" || got[0].Header.Get(platform+"-Webhook-Delivery") != test.DeliveryID {
		t.Fatalf("test delivery: %+v", ev)
	}

	// Activities and rewards, then a learner's whole path.
	var classroom, online struct{ ID string }
	s.call(t, "POST", "/v1/pathways/"+p.ID+"/activities", map[string]any{"title": "Workshop", "kind": "classroom", "location": "Room 1"}, 201, &classroom)
	s.call(t, "POST", "/v1/pathways/"+p.ID+"/activities", map[string]any{"title": "Video", "kind": "online"}, 201, &online)
	s.call(t, "POST", "/v1/pathways/"+p.ID+"/rewards", map[string]any{"name": "Finisher", "kind": "badge", "unlock_on": "pathway_completed"}, 201, nil)
	s.call(t, "POST", "/v1/pathways/"+p.ID+"/enrolments", map[string]any{"learner": map[string]any{"id": "u-1", "email": "ada@example.com", "name": "Ada"}}, 201, nil)
	s.call(t, "POST", "/v1/pathways/"+p.ID+"/enrolments", map[string]any{"learner": map[string]any{"id": "u-1"}}, 409, nil)
	s.call(t, "POST", "/v1/activities/"+classroom.ID+"/attendance", map[string]any{"learner_id": "u-1", "status": "registered"}, 200, nil)
	s.call(t, "POST", "/v1/activities/"+classroom.ID+"/attendance", map[string]any{"learner_id": "u-1", "status": "checked_in"}, 200, nil)
	s.call(t, "POST", "/v1/activities/"+classroom.ID+"/attendance", map[string]any{"learner_id": "u-1", "status": "checked_in"}, 409, nil)
	s.call(t, "POST", "/v1/activities/"+online.ID+"/attendance", map[string]any{"learner_id": "u-1", "status": "registered"}, 422, nil)
	s.call(t, "POST", "/v1/pathways/"+p.ID+"/enrolments/u-1/completions", map[string]any{"activity_id": classroom.ID}, 201, nil)
	s.call(t, "POST", "/v1/pathways/"+p.ID+"/enrolments/u-1/completions", map[string]any{"activity_id": classroom.ID}, 409, nil)
	s.call(t, "POST", "/v1/pathways/"+p.ID+"/enrolments/u-2/completions", map[string]any{"activity_id": online.ID}, 404, nil)
	s.call(t, "POST", "/v1/pathways/"+p.ID+"/enrolments/u-1/completions", map[string]any{"activity_id": online.ID}, 201, nil)

	want := map[string]int{
		"enrolment.created": 1, "booking.registered": 1, "booking.checked_in": 1,
		"enrolment.activity_completed": 2, "enrolment.completed": 2 /* one is the test */, "reward.unlocked": 1,
	}
	total := 0
	for _, n := range want {
		total += n
	}
	got = rc.wait(t, total)
	counts := map[string]int{}
	for _, r := range got {
		ev := checkDelivery(t, platform, secret, r)
		counts[ev.Type]++
		if ev.Pathway.ID != p.ID || ev.Pathway.Name != "Onboarding" {
			t.Errorf("%s: pathway %+v", ev.Type, ev.Pathway)
		}
		if r.Path != "/"+ev.Category {
			t.Errorf("%s (category %q) went to %s, the %s webhook", ev.Type, ev.Category, r.Path, strings.TrimPrefix(r.Path, "/"))
		}
	}
	for typ, n := range want {
		if counts[typ] != n {
			t.Errorf("received %d %s, want %d (all: %v)", counts[typ], typ, n, counts)
		}
	}
}

func TestRetriesKeepBodyAndSignature(t *testing.T) {
	t.Parallel()
	const secret = "retry-secret-0123456789abcdefgh"
	s := startServer(t, nil, "--retry-schedule", "10ms,10ms,10ms")
	rc := newReceiver(t, 500, 503)
	var p pathwayJSON
	s.call(t, "POST", "/v1/pathways", map[string]any{"name": "Retries"}, 201, &p)
	hook := hookOf(t, p, "enrolments")
	s.setUp(t, hook.ID, rc.URL, secret)
	s.call(t, "POST", "/v1/pathways/"+p.ID+"/enrolments", map[string]any{"learner": map[string]any{"id": "u-1"}}, 201, nil)

	got := rc.wait(t, 3)
	for i, r := range got {
		if !bytes.Equal(r.Body, got[0].Body) {
			t.Fatalf("attempt %d body differs:\n%s\n%s", i+1, r.Body, got[0].Body)
		}
		if r.Header.Get("Falkor-Webhook-Signature") != got[0].Header.Get("Falkor-Webhook-Signature") ||
			r.Header.Get("Falkor-Webhook-Delivery") != got[0].Header.Get("Falkor-Webhook-Delivery") {
			t.Fatalf("attempt %d signature or delivery id differs", i+1)
		}
		if a := r.Header.Get("Falkor-Webhook-Attempt"); a != strconv.Itoa(i+1) {
			t.Fatalf("attempt %d has Falkor-Webhook-Attempt %q", i+1, a)
		}
	}
	id := got[0].Header.Get("Falkor-Webhook-Delivery")
	d := waitDelivery(t, s, id, func(d deliveryJSON) bool { return d.Status == "succeeded" })
	if d.AttemptCount != 3 || len(d.Attempts) != 3 || *d.Attempts[0].ResponseStatus != 500 || *d.Attempts[2].ResponseStatus != 200 {
		t.Fatalf("delivery after retries: %+v", d)
	}

	// Redelivery: the same body, the next attempt number.
	var redo struct {
		DeliveryID string `json:"delivery_id"`
	}
	s.call(t, "POST", "/v1/deliveries/"+id+"/redeliver", nil, 202, &redo)
	got = rc.wait(t, 4)
	if !bytes.Equal(got[3].Body, got[0].Body) || got[3].Header.Get("Falkor-Webhook-Attempt") != "4" {
		t.Fatalf("redelivery: attempt %q, body %s", got[3].Header.Get("Falkor-Webhook-Attempt"), got[3].Body)
	}
	waitDelivery(t, s, id, func(d deliveryJSON) bool { return d.Status == "succeeded" && d.AttemptCount == 4 })

	var list struct {
		Data       []deliveryJSON `json:"data"`
		NextCursor *string        `json:"next_cursor"`
	}
	s.call(t, "GET", "/v1/webhooks/"+hook.ID+"/deliveries?status=succeeded", nil, http.StatusOK, &list)
	if len(list.Data) != 1 || list.Data[0].ID != id || list.NextCursor != nil {
		t.Fatalf("delivery log: %+v", list)
	}
}

// waitDelivery polls a delivery until ok holds.
func waitDelivery(t *testing.T, s *server, id string, ok func(deliveryJSON) bool) deliveryJSON {
	t.Helper()
	var d deliveryJSON
	for range 3000 {
		s.call(t, "GET", "/v1/deliveries/"+id, nil, 200, &d)
		if ok(d) {
			return d
		}
		sleepBriefly()
	}
	t.Fatalf("delivery %s never reached the wanted state: %+v", id, d)
	return d
}
