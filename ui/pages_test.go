package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pathhook/pathhook"
)

// TestPagesScopedToOrg shows every page to its own org and answers 404 to
// another org, for reads and for changes.
func TestPagesScopedToOrg(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.mustWorld(t, e.orgA)
	a, b := e.signedIn(t, e.keyA), e.signedIn(t, e.keyB)
	pages := []string{
		"/pathways/" + w.pathway.ID,
		"/webhooks/" + w.hook.ID,
		"/webhooks/" + w.hook.ID + "/setup",
		"/deliveries/" + w.delivery,
	}
	res, body := a.get("/pathways")
	mustStatus(t, res, body, http.StatusOK)
	if !strings.Contains(body, "Secret Garden") {
		t.Error("pathways page lacks the pathway")
	}
	res, body = b.get("/pathways")
	mustStatus(t, res, body, http.StatusOK)
	if strings.Contains(body, "Secret Garden") {
		t.Error("another org's pathway is listed")
	}
	for _, p := range pages {
		res, body := a.get(p)
		mustStatus(t, res, body, http.StatusOK)
		res, body = b.get(p)
		mustStatus(t, res, body, http.StatusNotFound)
		if strings.Contains(body, "Secret Garden") {
			t.Errorf("%s: 404 page shows the pathway's name", p)
		}
	}
	posts := map[string]url.Values{
		"/pathways/" + w.pathway.ID + "/activities":  {"title": {"x"}, "kind": {"online"}},
		"/pathways/" + w.pathway.ID + "/rewards":     {"name": {"x"}, "kind": {"badge"}, "unlock_on": {"pathway_completed"}},
		"/pathways/" + w.pathway.ID + "/enrolments":  {"learner.id": {"l1"}},
		"/pathways/" + w.pathway.ID + "/completions": {"learner_id": {"l1"}, "activity_id": {"act_x"}},
		"/webhooks/" + w.hook.ID + "/setup":          {"url": {"http://127.0.0.1:1/x"}},
		"/webhooks/" + w.hook.ID + "/secret":         nil,
		"/webhooks/" + w.hook.ID + "/switch":         {"enabled": {"false"}},
		"/webhooks/" + w.hook.ID + "/test":           {"type": {"enrolment.created"}},
		"/deliveries/" + w.delivery + "/redeliver":   nil,
	}
	for p, form := range posts {
		res, body := b.submit(p, form)
		mustStatus(t, res, body, http.StatusNotFound)
	}
	wh, err := e.svc.Webhook(context.Background(), e.orgA, w.hook.ID)
	if err != nil || !wh.Enabled || *wh.URL != "http://127.0.0.1:9/hook" {
		t.Fatalf("another org changed the webhook: %+v %v", wh, err)
	}
	for _, p := range []string{"/pathways/pw_nope", "/webhooks/wh_nope", "/deliveries/dlv_nope", "/nowhere"} {
		res, body := a.get(p)
		mustStatus(t, res, body, http.StatusNotFound)
	}
}

func TestPathwayForms(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.signedIn(t, e.keyA)

	res, body := b.submit("/pathways", url.Values{"name": {"  "}, "description": {"d"}})
	mustStatus(t, res, body, http.StatusUnprocessableEntity)
	mustFieldError(t, body, "pathway-name", "is required")
	if !strings.Contains(body, ">d</textarea>") {
		t.Error("the typed description is lost")
	}

	res, body = b.submit("/pathways", url.Values{"name": {"Safety first"}})
	mustStatus(t, res, body, http.StatusSeeOther)
	loc := res.Header.Get("Location")
	res, body = b.get(loc)
	mustStatus(t, res, body, http.StatusOK)
	for _, want := range []string{"Safety first", "Pathway created", "API &amp; Webhooks", "Enrolments", "Classroom &amp; event bookings", "Rewards", "Not set up"} {
		if !strings.Contains(body, want) {
			t.Errorf("pathway page lacks %q", want)
		}
	}

	res, body = b.submit(loc+"/activities", url.Values{"title": {"Workshop"}, "kind": {"lecture"}, "starts_at": {"2030-01-02T10:00"}})
	mustStatus(t, res, body, http.StatusUnprocessableEntity)
	mustFieldError(t, body, "activity-kind", "must be one of online, classroom, event")
	res, body = b.submit(loc+"/activities", url.Values{"title": {"Workshop"}, "kind": {"classroom"}, "starts_at": {"2030-01-02T10:00"}})
	mustStatus(t, res, body, http.StatusSeeOther)

	res, body = b.submit(loc+"/rewards", url.Values{"name": {"Gold"}, "kind": {"points"}, "unlock_on": {"pathway_completed"}})
	mustStatus(t, res, body, http.StatusUnprocessableEntity)
	mustFieldError(t, body, "reward-points", "is required for a points reward")

	res, body = b.submit(loc+"/enrolments", url.Values{"learner.id": {"ada"}, "learner.email": {"not an email"}})
	mustStatus(t, res, body, http.StatusUnprocessableEntity)
	mustFieldError(t, body, "enrol-learner.email", "must be a plain email address")
	res, body = b.submit(loc+"/enrolments", url.Values{"learner.id": {"ada"}, "learner.name": {"Ada"}})
	mustStatus(t, res, body, http.StatusSeeOther)
	res, body = b.submit(loc+"/enrolments", url.Values{"learner.id": {"ada"}})
	mustStatus(t, res, body, http.StatusConflict)
	if !strings.Contains(body, `class="form-alert"`) {
		t.Error("a conflict is not shown above the enrol form")
	}

	res, body = b.submit(loc+"/completions", url.Values{"learner_id": {"grace"}, "activity_id": {"act_x"}})
	mustStatus(t, res, body, http.StatusNotFound)
	if !strings.Contains(body, `class="form-alert"`) {
		t.Error("a completion for a learner who is not enrolled shows no alert")
	}
}

func TestWebhookSetupSwitchAndTest(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.signedIn(t, e.keyA)
	p, err := e.svc.CreatePathway(context.Background(), e.orgA, pathhook.PathwayInput{Name: "P"})
	if err != nil {
		t.Fatal(err)
	}
	hook := "/webhooks/" + p.Webhooks[0].ID

	res, body := b.submit(hook+"/switch", url.Values{"enabled": {"true"}, "back": {"/pathways/" + p.ID}})
	mustStatus(t, res, body, http.StatusSeeOther)
	_, body = b.get(res.Header.Get("Location"))
	if !strings.Contains(body, "is not set up: give it a URL and a secret first") {
		t.Error("enabling a webhook that is not set up does not say why")
	}

	res, body = b.submit(hook+"/setup", url.Values{"url": {"ftp://example.com"}, "secret": {"short"}})
	mustStatus(t, res, body, http.StatusUnprocessableEntity)
	mustFieldError(t, body, "setup-url", "must use http or https, not ftp")
	if strings.Contains(body, `value="short"`) {
		t.Error("the typed secret is written back into the page")
	}
	res, body = b.submit(hook+"/setup", url.Values{"url": {"http://127.0.0.1:9/x"}})
	mustStatus(t, res, body, http.StatusUnprocessableEntity)
	mustFieldError(t, body, "setup-secret", "is required the first time")
	res, body = b.submit(hook+"/setup", url.Values{"url": {"http://127.0.0.1:9/x"}, "secret": {"short"}})
	mustStatus(t, res, body, http.StatusUnprocessableEntity)
	mustFieldError(t, body, "setup-secret", "must be 24 to 512 characters long")

	res, body = b.submit(hook+"/secret", nil)
	mustStatus(t, res, body, http.StatusSeeOther)
	_, body = b.get(hook + "/setup")
	if !strings.Contains(body, "whsec_") || !strings.Contains(body, "not shown again") {
		t.Fatal("a generated secret is not shown with its whsec_ form")
	}
	_, body = b.get(hook + "/setup")
	if strings.Contains(body, "whsec_") && strings.Contains(body, `id="new-secret"`) {
		t.Fatal("a generated secret is shown twice")
	}
	res, body = b.submit(hook+"/setup", url.Values{"url": {"http://127.0.0.1:9/x"}})
	mustStatus(t, res, body, http.StatusSeeOther)

	res, body = b.submit(hook+"/switch", url.Values{"enabled": {"true"}})
	mustStatus(t, res, body, http.StatusSeeOther)
	_, body = b.get(hook)
	if !strings.Contains(body, `aria-checked="true"`) {
		t.Error("the switch is not on after enabling")
	}
	res, body = b.submit(hook+"/test", url.Values{"type": {"reward.unlocked"}})
	mustStatus(t, res, body, http.StatusSeeOther)
	_, body = b.get(hook)
	if !strings.Contains(body, "must be one of enrolment.created") {
		t.Error("a test of another category's type does not say why")
	}
	res, body = b.submit(hook+"/test", url.Values{"type": {"enrolment.completed"}})
	mustStatus(t, res, body, http.StatusSeeOther)
	_, body = b.get(hook)
	if !strings.Contains(body, "Test delivery of enrolment.completed sent") || !strings.Contains(body, "/deliveries/dlv_") {
		t.Error("the log does not show the test delivery")
	}
	_, body = b.get(hook + "?status=succeeded")
	if strings.Contains(body, "/deliveries/dlv_") {
		t.Error("the succeeded filter shows a pending delivery")
	}
	_, body = b.get(hook + "?status=bogus")
	if !strings.Contains(body, "must be one of pending, succeeded, failed") {
		t.Error("a bad filter does not say why")
	}
	// A switch that is neither true nor false changes nothing (it is on).
	res, body = b.submit(hook+"/switch", url.Values{"enabled": {"maybe"}})
	mustStatus(t, res, body, http.StatusSeeOther)
	if _, body = b.get(res.Header.Get("Location")); !strings.Contains(body, "enabled: must be true or false") {
		t.Error("a switch of maybe does not say what is wrong")
	}
	if w, err := e.svc.Webhook(context.Background(), e.orgA, p.Webhooks[0].ID); err != nil || !w.Enabled {
		t.Fatalf("after a switch of maybe: %+v, %v; want it still on", w, err)
	}
}

func mustFieldError(t *testing.T, body, id, msg string) {
	t.Helper()
	i := strings.Index(body, `id="`+id+`-err">`)
	if i < 0 {
		t.Fatalf("no error beside %s\n%s", id, short(body))
	}
	if got := body[i : i+strings.Index(body[i:], "</p>")]; !strings.Contains(got, msg) {
		t.Fatalf("error beside %s is %q, want %q", id, got, msg)
	}
}

// TestPagesRefuseIDsThatCannotBe: an id in the path that is not UTF-8 or
// holds a control character is a 404 page, and a form's text with a
// control character is refused beside its field.
func TestPagesRefuseIDsThatCannotBe(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.signedIn(t, e.keyA)
	for _, p := range []string{"/pathways/pw_%00", "/pathways/%ff", "/webhooks/wh_%00", "/webhooks/%ff/setup", "/deliveries/%00"} {
		res, body := b.get(p)
		mustStatus(t, res, body, http.StatusNotFound)
	}
	res, body := b.submit("/pathways", url.Values{"name": {"a\x00b"}})
	mustStatus(t, res, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, "control characters") {
		t.Errorf("the form does not say what is wrong:\n%s", short(body))
	}
	res, body = b.get("/pathways?cursor=%ff")
	mustStatus(t, res, body, http.StatusUnprocessableEntity)
}
