package httpapi

import (
	"testing"
)

// TestControlCharactersAndBadUTF8 sends NUL and other control characters,
// and bytes that are not UTF-8, in every place where text or an id enters
// the API, on both stores: PostgreSQL refuses U+0000 and invalid UTF-8 in
// text (SQLSTATE 22021), so none of it may reach the database. Each is a
// 422 naming the field, or a 404 for an id in the path, and changes
// nothing.
func TestControlCharactersAndBadUTF8(t *testing.T) {
	t.Parallel()
	for _, store := range stores {
		t.Run(store.name, func(t *testing.T) {
			t.Parallel()
			f := setupOn(t, store.open(t))
			w := f.world(f.a.key)
			pw := "/v1/pathways/" + w.pathway
			hook := "/v1/webhooks/" + w.webhooks[0]
			before := f.snapshot(f.a.key, w)
			cases := []badRequest{
				{"NUL in a pathway's name", "POST", "/v1/pathways", `{"name":"a\u0000b"}`, 422, "name"},
				{"escape in a pathway's name", "POST", "/v1/pathways", `{"name":"a\u001b[31mb"}`, 422, "name"},
				{"line break in a pathway's name", "POST", "/v1/pathways", `{"name":"a\nb"}`, 422, "name"},
				{"C1 control in a pathway's name", "POST", "/v1/pathways", `{"name":"a\u0085b"}`, 422, "name"},
				{"NUL in a description", "POST", "/v1/pathways", `{"name":"ok","description":"a\u0000b"}`, 422, "description"},
				{"DEL in a description", "POST", "/v1/pathways", `{"name":"ok","description":"a\u007fb"}`, 422, "description"},
				{"NUL in an activity's title", "POST", pw + "/activities", `{"title":"a\u0000","kind":"online"}`, 422, "title"},
				{"NUL in an activity's location", "POST", pw + "/activities", `{"title":"t","kind":"event","location":"\u0000"}`, 422, "location"},
				{"NUL in a reward's name", "POST", pw + "/rewards", `{"name":"\u0000","kind":"badge","unlock_on":"pathway_completed"}`, 422, "name"},
				{"NUL in a reward's activity", "POST", pw + "/rewards", `{"name":"r","kind":"badge","unlock_on":"activity_completed","activity_id":"act_\u0000"}`, 422, "activity_id"},
				{"NUL in a learner's name", "POST", pw + "/enrolments", `{"learner":{"id":"l2","name":"\u0000"}}`, 422, "learner.name"},
				{"override in a learner's email", "POST", pw + "/enrolments", `{"learner":{"id":"l2","email":"a\u202e@example.com"}}`, 422, "learner.email"},
				{"override in a webhook URL", "PUT", hook, `{"url":"https://example.com/\u202egpj.exe"}`, 422, "url"},
				{"override in a learner's name", "POST", pw + "/enrolments", `{"learner":{"id":"l2","name":"\u202eexe.txt"}}`, 422, "learner.name"},
				{"isolate in a pathway's name", "POST", "/v1/pathways", `{"name":"a\u2066b"}`, 422, "name"},
				{"embedding in a description", "POST", "/v1/pathways", `{"name":"ok","description":"a\u202ab"}`, 422, "description"},
				{"NUL in a learner's id", "POST", pw + "/enrolments", `{"learner":{"id":"l\u0000"}}`, 422, "learner.id"},
				{"NUL in a learner's email", "POST", pw + "/enrolments", `{"learner":{"id":"l2","email":"a\u0000@example.com"}}`, 422, "learner.email"},
				{"NUL in a completion's activity", "POST", pw + "/enrolments/" + w.learner + "/completions", `{"activity_id":"act_\u0000"}`, 422, "activity_id"},
				{"NUL in an attendance's learner", "POST", "/v1/activities/" + w.classroom + "/attendance", `{"learner_id":"\u0000","status":"registered"}`, 422, "learner_id"},
				{"NUL in an award's learner", "POST", pw + "/rewards/" + w.reward + "/awards", `{"learner_id":"\u0000"}`, 422, "learner_id"},
				{"NUL in an API key's name", "POST", "/v1/api-keys", `{"name":"\u0000"}`, 422, "name"},
				{"NUL in a webhook URL", "PUT", hook, `{"url":"https://example.com/\u0000"}`, 422, "url"},
				{"NUL in a test's type", "POST", hook + "/test", `{"type":"\u0000"}`, 422, "type"},

				{"NUL in a pathway id", "GET", "/v1/pathways/pw_%00", nil, 404, ""},
				{"not UTF-8 in a pathway id", "GET", "/v1/pathways/pw_%ff", nil, 404, ""},
				{"NUL in a pathway id, activities", "GET", "/v1/pathways/%00/activities", nil, 404, ""},
				{"NUL in a pathway id, new activity", "POST", "/v1/pathways/%00/activities", `{"title":"t","kind":"online"}`, 404, ""},
				{"NUL in a pathway id, enrolments", "GET", "/v1/pathways/%00/enrolments", nil, 404, ""},
				{"NUL in a learner id", "GET", pw + "/enrolments/%00", nil, 404, ""},
				{"not UTF-8 in a learner id, completion", "POST", pw + "/enrolments/%ff/completions", map[string]any{"activity_id": w.online}, 404, ""},
				{"NUL in a reward id", "POST", pw + "/rewards/%00/awards", map[string]any{"learner_id": w.learner}, 404, ""},
				{"NUL in an activity id", "POST", "/v1/activities/%00/attendance", map[string]any{"learner_id": w.learner, "status": "registered"}, 404, ""},
				{"NUL in a webhook id", "GET", "/v1/webhooks/wh_%00", nil, 404, ""},
				{"NUL in a webhook id, setup", "PUT", "/v1/webhooks/wh_%00", map[string]any{"url": "https://example.com/hook"}, 404, ""},
				{"NUL in a webhook id, deliveries", "GET", "/v1/webhooks/%00/deliveries", nil, 404, ""},
				{"NUL in a webhook id, pathway's webhooks", "GET", "/v1/pathways/%00/webhooks", nil, 404, ""},
				{"not UTF-8 in a delivery id", "GET", "/v1/deliveries/%ff", nil, 404, ""},
				{"NUL in a delivery id, redeliver", "POST", "/v1/deliveries/%00/redeliver", nil, 404, ""},
				{"NUL in an API key id", "DELETE", "/v1/api-keys/%00", nil, 404, ""},

				{"not UTF-8 in the pathways' cursor", "GET", "/v1/pathways?cursor=%ff", nil, 422, "cursor"},
				{"NUL in the pathways' cursor", "GET", "/v1/pathways?cursor=pw_%00", nil, 422, "cursor"},
				{"NUL in the enrolments' cursor", "GET", pw + "/enrolments?cursor=%00", nil, 422, "cursor"},
				{"not UTF-8 in the deliveries' cursor", "GET", hook + "/deliveries?cursor=%ff", nil, 422, "cursor"},
				{"NUL in the activities' cursor", "GET", pw + "/activities?cursor=%00", nil, 422, "cursor"},
				{"NUL in the deliveries' status", "GET", hook + "/deliveries?status=%00", nil, 422, "status"},
			}
			f.checkBadRequests(t, cases)
			if after := f.snapshot(f.a.key, w); after != before {
				t.Errorf("bad requests changed the state:\nbefore %s\nafter  %s", before, after)
			}
			// A description is text of several lines: tabs and line
			// breaks stay, as a form's textarea sends them.
			p := f.must(201, f.a.key, "POST", "/v1/pathways", map[string]any{"name": "Lines", "description": "One\r\nTwo\n\tThree"})
			if p["description"] != "One\r\nTwo\n\tThree" {
				t.Errorf("description %q, want its lines kept", p["description"])
			}
			// Whole characters escaped as surrogate pairs, and the marks
			// that mixed text needs, are text like any other.
			p = f.must(201, f.a.key, "POST", "/v1/pathways", `{"name":"\ud83d\ude00 \u05e9\u200f!"}`)
			if p["name"] != "\U0001F600 \u05e9\u200f!" {
				t.Errorf("name %q, want the emoji and the mark kept", p["name"])
			}
		})
	}
}
