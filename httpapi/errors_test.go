package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestErrors sends one request of every class of bad input and requires
// the right status, a problem+json answer, the field named for a 422, and
// that nothing changed.
func TestErrors(t *testing.T) {
	t.Parallel()
	f := setup(t)
	w := f.world(f.a.key)
	pw := "/v1/pathways/" + w.pathway
	hook, idle := "/v1/webhooks/"+w.webhooks[0], "/v1/webhooks/"+w.webhooks[1]
	pending := f.must(202, f.a.key, "POST", hook+"/test", nil)["delivery_id"].(string)
	before := f.snapshot(f.a.key, w)

	secret := func(s string) map[string]any { return map[string]any{"url": "https://example.com/hook", "secret": s} }
	cases := []badRequest{
		{"truncated JSON", "POST", "/v1/pathways", `{"name":`, 400, ""},
		{"not JSON", "POST", "/v1/pathways", `name=x`, 400, ""},
		{"empty body", "POST", "/v1/pathways", ``, 400, ""},
		{"whitespace body", "POST", "/v1/pathways", " \n", 400, ""},
		{"trailing garbage", "POST", "/v1/pathways", `{"name":"x"} x`, 400, ""},
		{"two values", "POST", "/v1/pathways", `{"name":"x"}{"name":"y"}`, 400, ""},
		{"a learner id of ..", "POST", pw + "/enrolments", `{"learner":{"id":".."}}`, 422, "learner.id"},
		{"nested too deep", "POST", "/v1/pathways", strings.Repeat("[", 30000) + strings.Repeat("]", 30000), 400, ""},
		{"nested too deep in a field", "POST", pw + "/enrolments", `{"learner":` + strings.Repeat(`{"a":`, 20) + `1` + strings.Repeat(`}`, 21), 400, ""},
		{"not UTF-8", "POST", "/v1/pathways", "{\"name\":\"a\xff\xfeb\"}", 400, ""},
		{"not UTF-8 in a URL", "PUT", hook, "{\"url\":\"https://example.com/\xff\"}", 400, ""},
		{"half a surrogate pair", "POST", "/v1/pathways", `{"name":"x\ud800y"}`, 400, ""},
		{"the other half alone", "POST", "/v1/pathways", `{"name":"x\udc00"}`, 400, ""},
		{"two high halves", "POST", "/v1/pathways", `{"name":"\ud83d\ud83d"}`, 400, ""},
		{"port out of range", "PUT", hook, map[string]any{"url": "https://example.com:99999/hook"}, 422, "url"},
		{"port 0", "PUT", hook, map[string]any{"url": "https://example.com:0/hook"}, 422, "url"},
		{"colon and no port", "PUT", hook, map[string]any{"url": "https://example.com:/hook"}, 422, "url"},
		{"unknown field", "POST", "/v1/pathways", `{"name":"x","colour":"red"}`, 422, "colour"},
		{"unknown nested field", "POST", pw + "/enrolments", `{"learner":{"id":"l2","age":3}}`, 422, "learner.age"},
		{"field in another case", "POST", "/v1/pathways", `{"Name":"x"}`, 422, "Name"},
		{"wrong type", "POST", "/v1/pathways", `{"name":5}`, 422, "name"},
		{"wrong nested type", "POST", pw + "/enrolments", `{"learner":{"id":7}}`, 422, "learner.id"},
		{"number as string", "POST", pw + "/rewards", `{"name":"r","kind":"points","points":"10","unlock_on":"pathway_completed"}`, 422, "points"},
		{"fractional number", "POST", pw + "/rewards", `{"name":"r","kind":"points","points":1.5,"unlock_on":"pathway_completed"}`, 422, "points"},
		{"bad time", "POST", pw + "/activities", `{"title":"t","kind":"event","starts_at":"tomorrow"}`, 422, "starts_at"},
		{"time in year 0", "POST", pw + "/activities", `{"title":"t","kind":"event","starts_at":"0000-01-02T10:00:00Z"}`, 422, "starts_at"},
		{"time in year 1899", "POST", pw + "/activities", `{"title":"t","kind":"event","starts_at":"1899-12-31T23:59:59Z"}`, 422, "starts_at"},
		{"time in year 10000 in UTC", "POST", pw + "/activities", `{"title":"t","kind":"event","starts_at":"9999-12-31T23:30:00-01:00"}`, 422, "starts_at"},
		{"array for object", "POST", "/v1/pathways", `[]`, 422, "body"},
		{"missing field", "POST", "/v1/pathways", `{}`, 422, "name"},
		{"missing nested object", "POST", pw + "/enrolments", `{}`, 422, "learner"},
		{"bad activity kind", "POST", pw + "/activities", `{"title":"t","kind":"lecture"}`, 422, "kind"},
		{"bad reward kind", "POST", pw + "/rewards", `{"name":"r","kind":"medal","unlock_on":"pathway_completed"}`, 422, "kind"},
		{"bad attendance status", "POST", "/v1/activities/" + w.classroom + "/attendance", map[string]any{"learner_id": w.learner, "status": "maybe"}, 422, "status"},
		{"bad email", "POST", pw + "/enrolments", `{"learner":{"id":"l2","email":"not an email"}}`, 422, "learner.email"},
		{"ftp URL", "PUT", hook, map[string]any{"url": "ftp://example.com/hook"}, 422, "url"},
		{"http URL", "PUT", hook, map[string]any{"url": "http://example.com/hook"}, 422, "url"},
		{"URL with credentials", "PUT", hook, map[string]any{"url": "https://user:pw@example.com/hook"}, 422, "url"},
		{"relative URL", "PUT", hook, map[string]any{"url": "/hook"}, 422, "url"},
		{"weak secret", "PUT", hook, secret("hunter2"), 422, "secret"},
		{"short secret", "PUT", hook, secret(strings.Repeat("a", 23)), 422, "secret"},
		{"oversized secret", "PUT", hook, secret(strings.Repeat("a", 513)), 422, "secret"},
		{"non-ASCII secret", "PUT", hook, secret(strings.Repeat("é", 24)), 422, "secret"},
		{"secret with a space", "PUT", hook, secret(strings.Repeat("a", 20) + " bcd"), 422, "secret"},
		{"first setup without secret", "PUT", idle, map[string]any{"url": "https://example.com/hook"}, 422, "secret"},
		{"bad grace period", "POST", hook + "/secret", map[string]any{"grace_period_seconds": -1}, 422, "grace_period_seconds"},
		// 36028797018963969 s is 1 s more than 2^64 ns: as a Duration it
		// wraps round to 1 s.
		{"grace period that wraps", "PUT", hook, `{"url":"https://example.com/hook","secret":"` + strings.Repeat("n3w-secret", 3) + `","grace_period_seconds":36028797018963969}`, 422, "grace_period_seconds"},
		{"grace period beyond int64", "PUT", hook, `{"url":"https://example.com/hook","secret":"` + strings.Repeat("n3w-secret", 3) + `","grace_period_seconds":9223372036854775808}`, 422, "grace_period_seconds"},
		{"negative grace period on setup", "PUT", hook, `{"url":"https://example.com/hook","secret":"` + strings.Repeat("n3w-secret", 3) + `","grace_period_seconds":-9223372036854775808}`, 422, "grace_period_seconds"},
		{"grace period a week and a second", "PUT", hook, `{"url":"https://example.com/hook","secret":"` + strings.Repeat("n3w-secret", 3) + `","grace_period_seconds":604801}`, 422, "grace_period_seconds"},
		{"switch without enabled", "PATCH", hook, `{}`, 422, "enabled"},
		{"enable not set up", "PATCH", idle, map[string]any{"enabled": true}, 409, ""},
		{"test disabled", "POST", idle + "/test", nil, 409, ""},
		{"test type outside category", "POST", hook + "/test", map[string]any{"type": "booking.registered"}, 422, "type"},
		{"test unknown type", "POST", hook + "/test", map[string]any{"type": "webhook.test"}, 422, "type"},
		{"redeliver pending", "POST", "/v1/deliveries/" + pending + "/redeliver", nil, 409, ""},
		{"enrol twice", "POST", pw + "/enrolments", map[string]any{"learner": map[string]any{"id": w.learner}}, 409, ""},
		{"completion not enrolled", "POST", pw + "/enrolments/nobody/completions", map[string]any{"activity_id": w.online}, 404, ""},
		{"completion of another pathway's activity", "POST", pw + "/enrolments/" + w.learner + "/completions", map[string]any{"activity_id": "act_nope"}, 422, "activity_id"},
		{"attendance not enrolled", "POST", "/v1/activities/" + w.classroom + "/attendance", map[string]any{"learner_id": "nobody", "status": "registered"}, 404, ""},
		{"attendance on online activity", "POST", "/v1/activities/" + w.online + "/attendance", map[string]any{"learner_id": w.learner, "status": "registered"}, 422, "activity"},
		{"award to a learner not enrolled", "POST", pw + "/rewards/" + w.reward + "/awards", map[string]any{"learner_id": "nobody"}, 404, ""},
		{"unknown pathway", "GET", "/v1/pathways/pw_nope", nil, 404, ""},
		{"unknown delivery", "GET", "/v1/deliveries/dlv_nope", nil, 404, ""},
		{"limit zero", "GET", "/v1/pathways?limit=0", nil, 422, "limit"},
		{"limit too big", "GET", "/v1/pathways?limit=101", nil, 422, "limit"},
		{"limit not a number", "GET", pw + "/activities?limit=ten", nil, 422, "limit"},
		{"unknown cursor of a whole list", "GET", pw + "/activities?cursor=act_nope", nil, 422, "cursor"},
		{"garbage cursor of pathways", "GET", "/v1/pathways?cursor=garbage", nil, 422, "cursor"},
		{"short pathway id as cursor", "GET", "/v1/pathways?cursor=pw_zzzz", nil, 422, "cursor"},
		{"webhook id as pathways' cursor", "GET", "/v1/pathways?cursor=" + w.webhooks[0], nil, 422, "cursor"},
		{"pathway id as enrolments' cursor", "GET", pw + "/enrolments?cursor=" + w.pathway, nil, 422, "cursor"},
		{"learner not enrolled as cursor", "GET", pw + "/enrolments?cursor=nobody", nil, 422, "cursor"},
		{"garbage cursor of deliveries", "GET", hook + "/deliveries?cursor=garbage", nil, 422, "cursor"},
		{"event id as deliveries' cursor", "GET", hook + "/deliveries?cursor=evt_01m8kaqb3y5h0xmfzdce8c1wya", nil, 422, "cursor"},
		{"delivery id with a letter out of its alphabet", "GET", hook + "/deliveries?cursor=dlv_01m8kaqb3yynfkc4kvamwdr7ku", nil, 422, "cursor"},
		{"bad status filter", "GET", hook + "/deliveries?status=lost", nil, 422, "status"},
		{"no such route", "GET", "/v1/nothing", nil, 404, ""},
		{"no such method", "DELETE", pw, nil, 405, ""},
	}
	f.checkBadRequests(t, cases)
	if res := f.do(f.a.key, "DELETE", pw, nil); res.header.Get("Allow") == "" {
		t.Errorf("405 without Allow")
	}
	if after := f.snapshot(f.a.key, w); after != before {
		t.Errorf("bad requests changed the state:\nbefore %s\nafter  %s", before, after)
	}
}

func checkProblem(t *testing.T, name string, res *response, status int) {
	t.Helper()
	if res.status != status {
		t.Errorf("%s: status %d, want %d: %s", name, res.status, status, res.body)
		return
	}
	if ct := res.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s: Content-Type %q", name, ct)
	}
	var p problem
	if err := json.Unmarshal(res.body, &p); err != nil || p.Status != status || p.Type != "about:blank" || p.Title == "" || p.Detail == "" {
		t.Errorf("%s: not a full problem: %s", name, res.body)
	}
	if status == 422 && len(p.Errors) == 0 {
		t.Errorf("%s: 422 without errors: %s", name, res.body)
	}
}

func TestBodyLimits(t *testing.T) {
	t.Parallel()
	f := setup(t)
	// Exactly 1 MiB is accepted; one byte more is 413.
	pad := func(n int) string {
		head, tail := `{"name":"big"`, `}`
		return head + strings.Repeat(" ", n-len(head)-len(tail)) + tail
	}
	f.must(201, f.a.key, "POST", "/v1/pathways", pad(MaxBodySize))
	checkProblem(t, "over 1 MiB", f.do(f.a.key, "POST", "/v1/pathways", pad(MaxBodySize+1)), 413)

	req := f.request(f.a.key, "POST", "/v1/pathways", `{"name":"x"}`)
	req.Header.Set("Content-Type", "text/plain")
	checkProblem(t, "text/plain", f.send(req), 415)
	req = f.request(f.a.key, "POST", "/v1/pathways", `{"name":"x"}`)
	req.Header.Set("Content-Type", "application/json; charset=latin1")
	checkProblem(t, "JSON in latin1", f.send(req), 415)
	req = f.request(f.a.key, "POST", "/v1/pathways", `{"name":"x"}`)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if res := f.send(req); res.status != 201 {
		t.Errorf("JSON with charset: %d %s", res.status, res.body)
	}
	req = f.request(f.a.key, "POST", "/v1/pathways", `{"name":"x"}`)
	req.Header.Del("Content-Type")
	if res := f.send(req); res.status != 201 {
		t.Errorf("JSON without Content-Type: %d %s", res.status, res.body)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for _, c := range []struct{ name, header, challenge string }{
		{"no key", "", `Bearer realm="Falkor"`},
		{"wrong key", "Bearer phk_nope", `Bearer realm="Falkor", error="invalid_token"`},
		{"another scheme", "Basic " + f.a.key, `Bearer realm="Falkor", error="invalid_token"`},
		{"empty bearer", "Bearer ", `Bearer realm="Falkor", error="invalid_token"`},
	} {
		req := f.request("", "GET", "/v1/pathways", nil)
		if c.header != "" {
			req.Header.Set("Authorization", c.header)
		}
		res := f.send(req)
		checkProblem(t, c.name, res, http.StatusUnauthorized)
		if got := res.header.Get("WWW-Authenticate"); got != c.challenge {
			t.Errorf("%s: WWW-Authenticate %q, want %q", c.name, got, c.challenge)
		}
	}
	// The scheme is case-insensitive.
	req := f.request("", "GET", "/v1/pathways", nil)
	req.Header.Set("Authorization", "bearer "+f.a.key)
	if res := f.send(req); res.status != 200 {
		t.Errorf("lower-case bearer: %d", res.status)
	}
	// Unknown routes under /v1 are 404 problems too.
	checkProblem(t, "unknown route", f.do("", "GET", "/v1/nothing", nil), 404)
}

// TestManyFieldErrors: a body of many unknown keys gets a 422 that names
// the first 50 and counts them all, not an answer larger than the body.
func TestManyFieldErrors(t *testing.T) {
	t.Parallel()
	f := setup(t)
	var b strings.Builder
	b.WriteString(`{"name":"x"`)
	for i := range 1000 {
		fmt.Fprintf(&b, `,"k%d":1`, i)
	}
	b.WriteString("}")
	res := f.do(f.a.key, "POST", "/v1/pathways", b.String())
	checkProblem(t, "many unknown keys", res, 422)
	if n := len(res.fieldsOf(t)); n != 50 {
		t.Errorf("the answer names %d fields, want 50", n)
	}
	if !strings.Contains(string(res.body), "and 999 more") {
		t.Errorf("the answer does not count the others: %.200s", res.body)
	}
}
