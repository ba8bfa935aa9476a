package httpapi

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestEveryRoute walks the happy path of every route in the route table and
// fails if one was not answered with a 2xx.
func TestEveryRoute(t *testing.T) {
	t.Parallel()
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintln(w, "pathhook_up 1")
	})
	f := setup(t, func(c *Config) { c.Metrics = metrics })
	key := f.a.key

	f.must(200, "", "GET", "/healthz", nil)
	f.must(200, "", "GET", "/readyz", nil)
	f.must(200, "", "GET", "/openapi.json", nil)
	if res := f.do("", "GET", "/metrics", nil); res.status != 200 || !strings.Contains(string(res.body), "pathhook_up") {
		t.Errorf("/metrics: %d %s", res.status, res.body)
	}

	w := f.world(key)
	pw := "/v1/pathways/" + w.pathway

	p := f.must(200, key, "GET", pw, nil)
	if hooks := p["webhooks"].([]any); len(hooks) != 3 {
		t.Errorf("pathway has %d webhooks, want 3", len(hooks))
	}
	if l := f.must(200, key, "GET", "/v1/pathways?limit=1", nil); len(l["data"].([]any)) != 1 {
		t.Errorf("pathways: %v", l)
	}
	if l := f.must(200, key, "GET", pw+"/activities", nil); len(l["data"].([]any)) != 2 || l["next_cursor"] != nil {
		t.Errorf("activities: %v", l)
	}
	f.must(200, key, "GET", pw+"/rewards", nil)
	f.must(200, key, "GET", pw+"/enrolments", nil)
	en := f.must(200, key, "GET", pw+"/enrolments/"+w.learner, nil)
	if en["learner"].(map[string]any)["email"] != "ada@example.com" {
		t.Errorf("enrolment: %v", en)
	}

	hook := w.webhooks[0]
	if l := f.must(200, key, "GET", pw+"/webhooks", nil); len(l["data"].([]any)) != 3 {
		t.Errorf("webhooks: %v", l)
	}
	wh := f.must(200, key, "GET", "/v1/webhooks/"+hook, nil)
	if wh["enabled"] != true || wh["secret_set"] != true {
		t.Errorf("webhook: %v", wh)
	}
	sec := f.must(200, key, "POST", "/v1/webhooks/"+hook+"/secret", map[string]any{"grace_period_seconds": 60})
	secret := sec["secret"].(string)
	if sec["standard_secret"] != "whsec_"+base64.StdEncoding.EncodeToString([]byte(secret)) {
		t.Errorf("standard_secret %v does not match secret %q", sec["standard_secret"], secret)
	}

	if l := f.must(200, key, "GET", "/v1/webhooks/"+hook+"/deliveries?status=failed", nil); len(l["data"].([]any)) != 1 {
		t.Errorf("failed deliveries: %v", l)
	}
	d := f.must(200, key, "GET", "/v1/deliveries/"+w.delivery, nil)
	if atts := d["attempts"].([]any); len(atts) != 1 {
		t.Errorf("attempts: %v", atts)
	}
	if ev := d["request"].(map[string]any)["event"].(map[string]any); ev["id"] != d["event_id"] || ev["test"] != true {
		t.Errorf("request.event: %v", ev)
	}
	f.must(202, key, "POST", "/v1/deliveries/"+w.delivery+"/redeliver", nil)

	att := f.must(200, key, "POST", "/v1/activities/"+w.classroom+"/attendance", map[string]any{"learner_id": w.learner, "status": "registered"})
	if att["status"] != "registered" {
		t.Errorf("attendance: %v", att)
	}
	bonus := f.must(201, key, "POST", pw+"/rewards", map[string]any{"name": "Bonus", "kind": "points", "points": 10,
		"unlock_on": "activity_completed", "activity_id": w.classroom})["id"].(string)
	f.must(201, key, "POST", pw+"/rewards/"+bonus+"/awards", map[string]any{"learner_id": w.learner})
	f.must(201, key, "POST", pw+"/enrolments/"+w.learner+"/completions", map[string]any{"activity_id": w.online})
	c := f.must(201, key, "POST", pw+"/enrolments/"+w.learner+"/completions", map[string]any{"activity_id": w.classroom})
	if c["pathway_completed"] != true || len(c["unlocked_reward_ids"].([]any)) != 1 {
		t.Errorf("last completion: %v", c)
	}

	keys := f.must(200, key, "GET", "/v1/api-keys", nil)
	for _, k := range keys["data"].([]any) {
		if _, shown := k.(map[string]any)["key"]; shown {
			t.Errorf("listed API key shows the key: %v", k)
		}
	}
	f.must(200, key, "DELETE", "/v1/api-keys/"+w.apiKey, nil)

	for _, rt := range newServer(Config{}).routes() {
		if !f.spec.answered(rt.method, rt.path) {
			t.Errorf("%s %s: no 2xx answer seen", rt.method, rt.path)
		}
	}
}

// answered reports whether a 2xx answer of the operation has been checked.
func (s *spec) answered(method, path string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for code := 200; code < 300; code++ {
		if s.seen[fmt.Sprintf("%s %s %d", method, path, code)] {
			return true
		}
	}
	return false
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	f := setup(t)
	k := f.must(201, f.a.key, "POST", "/v1/api-keys", map[string]any{"name": "ci"})
	plain := k["key"].(string)
	if !strings.HasPrefix(plain, "phk_") || !strings.Contains(k["hint"].(string), "…") {
		t.Fatalf("new key: %v", k)
	}
	// The new key works, and may revoke itself; then it is refused.
	f.must(200, plain, "GET", "/v1/pathways", nil)
	revoked := f.must(200, plain, "DELETE", "/v1/api-keys/"+k["id"].(string), nil)
	if revoked["revoked_at"] == nil {
		t.Errorf("revoked key: %v", revoked)
	}
	res := f.do(plain, "GET", "/v1/pathways", nil)
	if res.status != 401 || !strings.Contains(res.header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("revoked key: %d %v", res.status, res.header)
	}
	f.must(409, f.a.key, "DELETE", "/v1/api-keys/"+k["id"].(string), nil)
}

func TestPaging(t *testing.T) {
	t.Parallel()
	f := setup(t)
	var ids []string
	for i := range 5 {
		ids = append(ids, f.must(201, f.a.key, "POST", "/v1/pathways", map[string]any{"name": fmt.Sprint("p", i)})["id"].(string))
	}
	var got []string
	for cursor := ""; ; {
		l := f.must(200, f.a.key, "GET", "/v1/pathways?limit=2&cursor="+cursor, nil)
		for _, p := range l["data"].([]any) {
			got = append(got, p.(map[string]any)["id"].(string))
		}
		if l["next_cursor"] == nil {
			break
		}
		cursor = l["next_cursor"].(string)
	}
	if len(got) != 5 || got[0] != ids[4] || got[4] != ids[0] {
		t.Errorf("pages gave %v, want newest first of %v", got, ids)
	}

	// Whole lists that the API pages itself page the same way.
	pw := "/v1/pathways/" + ids[0]
	first := f.must(200, f.a.key, "GET", pw+"/webhooks?limit=2", nil)
	rest := f.must(200, f.a.key, "GET", pw+"/webhooks?limit=2&cursor="+first["next_cursor"].(string), nil)
	if len(first["data"].([]any)) != 2 || len(rest["data"].([]any)) != 1 || rest["next_cursor"] != nil {
		t.Errorf("webhook pages: %v then %v", first, rest)
	}
}
