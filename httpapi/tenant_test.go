package httpapi

import (
	"strings"
	"testing"
)

// TestTenantIsolation walks every route of the route table with org B's key
// and org A's ids: each must answer 404, as if the resource did not exist,
// and A's state must be exactly as it was. Routes without ids must not show
// B anything of A's.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	a := f.world(f.a.key)
	f.world(f.b.key) // B has resources of its own, so that nothing is empty by accident
	before := f.snapshot(f.a.key, a)

	bodies := map[string]any{
		"POST /v1/pathways":                                          map[string]any{"name": "B's own"},
		"POST /v1/pathways/{id}/activities":                          map[string]any{"title": "Intrusion", "kind": "online"},
		"POST /v1/pathways/{id}/rewards":                             map[string]any{"name": "Loot", "kind": "badge", "unlock_on": "pathway_completed"},
		"POST /v1/pathways/{id}/rewards/{reward_id}/awards":          map[string]any{"learner_id": a.learner},
		"POST /v1/pathways/{id}/enrolments":                          map[string]any{"learner": map[string]any{"id": "intruder"}},
		"POST /v1/pathways/{id}/enrolments/{learner_id}/completions": map[string]any{"activity_id": a.online},
		"POST /v1/activities/{id}/attendance":                        map[string]any{"learner_id": a.learner, "status": "checked_in"},
		"PUT /v1/webhooks/{id}":                                      map[string]any{"url": "https://evil.example.com/in", "secret": strings.Repeat("x", 32)},
		"PATCH /v1/webhooks/{id}":                                    map[string]any{"enabled": false},
		"POST /v1/api-keys":                                          map[string]any{"name": "B's"},
	}
	ids := map[string]string{
		"/v1/pathways/":   a.pathway,
		"/v1/activities/": a.classroom,
		"/v1/webhooks/":   a.webhooks[0],
		"/v1/deliveries/": a.delivery,
		"/v1/api-keys/":   a.apiKey,
	}
	aIDs := []string{a.pathway, a.online, a.classroom, a.reward, a.delivery, a.apiKey, a.webhooks[0], a.webhooks[1], a.webhooks[2]}

	for _, rt := range newServer(Config{}).routes() {
		if rt.public {
			continue
		}
		op := rt.method + " " + rt.path
		body, ok := bodies[op]
		if !ok && rt.method != "GET" && rt.method != "DELETE" && !strings.HasSuffix(rt.path, "/secret") &&
			!strings.HasSuffix(rt.path, "/test") && !strings.HasSuffix(rt.path, "/redeliver") {
			t.Errorf("%s: no body in this test; add one", op)
			continue
		}
		path := rt.path
		for prefix, id := range ids {
			if strings.HasPrefix(path, prefix+"{id}") {
				path = strings.Replace(path, "{id}", id, 1)
			}
		}
		path = strings.Replace(path, "{reward_id}", a.reward, 1)
		path = strings.Replace(path, "{learner_id}", a.learner, 1)

		res := f.do(f.b.key, rt.method, path, body)
		if !strings.Contains(rt.path, "{") {
			// No id: B acts on its own org. It must see none of A's ids.
			if res.status >= 300 {
				t.Errorf("%s: status %d: %s", op, res.status, res.body)
			}
			for _, id := range aIDs {
				if strings.Contains(string(res.body), id) {
					t.Errorf("%s: B sees A's %s", op, id)
				}
			}
			continue
		}
		checkProblem(t, op+" with another org's ids", res, 404)
	}

	// B's own pathway with A's reward: still 404.
	bPathway := f.must(201, f.b.key, "POST", "/v1/pathways", map[string]any{"name": "B"})["id"].(string)
	f.must(201, f.b.key, "POST", "/v1/pathways/"+bPathway+"/enrolments", map[string]any{"learner": map[string]any{"id": a.learner}})
	checkProblem(t, "award of A's reward on B's pathway",
		f.do(f.b.key, "POST", "/v1/pathways/"+bPathway+"/rewards/"+a.reward+"/awards", map[string]any{"learner_id": a.learner}), 404)

	if after := f.snapshot(f.a.key, a); after != before {
		t.Errorf("B's requests changed A's state:\nbefore %s\nafter  %s", before, after)
	}
}

// snapshot reads everything of w that org key can see, as one string.
func (f *fixture) snapshot(key string, w world) string {
	f.t.Helper()
	pw := "/v1/pathways/" + w.pathway
	paths := []string{"/v1/pathways", pw, pw + "/activities", pw + "/rewards", pw + "/enrolments", pw + "/enrolments/" + w.learner,
		pw + "/webhooks", "/v1/deliveries/" + w.delivery, "/v1/api-keys"}
	for _, wh := range w.webhooks {
		paths = append(paths, "/v1/webhooks/"+wh, "/v1/webhooks/"+wh+"/deliveries")
	}
	var sb strings.Builder
	for _, p := range paths {
		res := f.do(key, "GET", p, nil)
		if res.status != 200 {
			f.t.Fatalf("snapshot: GET %s: %d %s", p, res.status, res.body)
		}
		sb.WriteString(p + " " + string(res.body))
	}
	return sb.String()
}
