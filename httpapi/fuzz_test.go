package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/sqlite"
)

// FuzzDecode sends any body to any route that takes one, on a real store
// with real resources behind the ids, and requires a 2xx or a 4xx problem:
// never a panic, never a 5xx. The seed corpus is in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "fuzz.db"), nil)
	if err != nil {
		f.Fatalf("sqlite.Open: %v", err)
	}
	f.Cleanup(func() { _ = db.Close() })
	svc := pathhook.NewService(pathhook.Config{Store: db})
	h := NewServer(Config{Service: svc, RateLimit: RateLimit{PerSecond: -1}})
	key, targets := fuzzWorld(f, svc)
	checkTargets(f, targets)

	for i, body := range []string{
		`{"name":"x"}`, `{"learner":{"id":"l9","email":"a@example.com"}}`, `{"url":"https://example.com","secret":"0123456789abcdefghijklmn"}`,
		`{"enabled":true}`, `{"type":"enrolment.created"}`, `{"grace_period_seconds":0}`, `{"points":1e400}`, `{"starts_at":"2026-13-01T00:00:00Z"}`,
		`{"learner":null}`, `{"a":` + strings.Repeat("[", 10000), `"\ud800"`, "{\"name\":\"\xff\"}", ``, `null`, `{}{}`,
	} {
		f.Add(uint8(i), []byte(body))
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		target := targets[int(route)%len(targets)]
		method, path, _ := strings.Cut(target, " ")
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch {
		case rec.Code >= 500:
			t.Fatalf("%s with %q: status %d: %s", target, body, rec.Code, rec.Body)
		case rec.Code >= 400:
			var p problem
			if rec.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Status != rec.Code {
				t.Fatalf("%s with %q: %d is not a problem: %s", target, body, rec.Code, rec.Body)
			}
		case rec.Code < 200 || rec.Code >= 300:
			t.Fatalf("%s with %q: status %d", target, body, rec.Code)
		case !json.Valid(rec.Body.Bytes()):
			t.Fatalf("%s with %q: answer is not JSON: %s", target, body, rec.Body)
		}
	})
}

// fuzzWorld makes one org's resources through the Service and returns its
// key and every route that takes a body, with real ids filled in.
func fuzzWorld(f *testing.F, svc *pathhook.Service) (string, []string) {
	ctx := context.Background()
	must := func(err error) {
		if err != nil {
			f.Fatal(err)
		}
	}
	org, err := svc.EnsureOrg(ctx, "fuzz")
	must(err)
	key, _, err := svc.CreateAPIKey(ctx, org.ID, "fuzz")
	must(err)
	p, err := svc.CreatePathway(ctx, org.ID, pathhook.PathwayInput{Name: "Fuzz"})
	must(err)
	act, err := svc.CreateActivity(ctx, org.ID, p.ID, pathhook.ActivityInput{Title: "Session", Kind: pathhook.ActivityEvent})
	must(err)
	rw, err := svc.CreateReward(ctx, org.ID, p.ID, pathhook.RewardInput{Name: "Badge", Kind: pathhook.RewardBadge, UnlockOn: pathhook.UnlockPathwayCompleted})
	must(err)
	_, err = svc.Enrol(ctx, org.ID, p.ID, pathhook.EnrolmentInput{Learner: &pathhook.Learner{ID: "l1"}})
	must(err)
	hook := p.Webhooks[0].ID
	secret := strings.Repeat("k", 32)
	_, err = svc.SetupWebhook(ctx, org.ID, hook, pathhook.WebhookSetup{URL: "https://example.com/in", Secret: &secret})
	must(err)
	on := true
	_, err = svc.SwitchWebhook(ctx, org.ID, hook, pathhook.WebhookSwitch{Enabled: &on})
	must(err)
	dlv, err := svc.TestWebhook(ctx, org.ID, hook, pathhook.TestInput{})
	must(err)
	pw := "/v1/pathways/" + p.ID
	return key, []string{
		"POST /v1/pathways",
		"POST " + pw + "/activities",
		"POST " + pw + "/rewards",
		"POST " + pw + "/rewards/" + rw.ID + "/awards",
		"POST " + pw + "/enrolments",
		"POST " + pw + "/enrolments/l1/completions",
		"POST /v1/activities/" + act.ID + "/attendance",
		"PUT /v1/webhooks/" + hook,
		"PATCH /v1/webhooks/" + hook,
		"POST /v1/webhooks/" + hook + "/secret",
		"POST /v1/webhooks/" + hook + "/test",
		"POST /v1/deliveries/" + dlv + "/redeliver",
		"POST /v1/api-keys",
	}
}

// checkTargets requires that targets hold every route that takes a body, so
// that a new route is fuzzed too.
func checkTargets(f *testing.F, targets []string) {
	s := loadSpec(f)
	covered := map[string]bool{}
	for _, target := range targets {
		method, path, _ := strings.Cut(target, " ")
		tmpl, _ := s.match(path)
		covered[method+" "+tmpl] = true
	}
	for _, rt := range newServer(Config{}).routes() {
		if op := rt.method + " " + rt.path; rt.method != "GET" && rt.method != "DELETE" && !covered[op] {
			f.Errorf("%s is not fuzzed: add it to fuzzWorld", op)
		}
	}
}
