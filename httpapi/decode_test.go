package httpapi

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/pathhook/pathhook"
)

// TestDecode checks the decoding helper on its own: which bodies it takes,
// and the code and fields of what it refuses.
func TestDecode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		body     string
		ct       string
		optional bool
		code     string
		fields   []string
	}{
		{name: "valid", body: `{"learner":{"id":"l1","email":"a@example.com"}}`},
		{name: "null learner", body: `{"learner":null}`},
		{name: "whitespace around", body: " \n{\"learner\":{\"id\":\"l1\"}}\n "},
		{name: "empty, required", body: ``, code: pathhook.EMALFORMED},
		{name: "empty, optional", body: ``, optional: true},
		{name: "syntax error", body: `{"learner":}`, code: pathhook.EMALFORMED},
		{name: "cut short", body: `{"learner":{"id":"l1"`, code: pathhook.EMALFORMED},
		{name: "trailing value", body: `{} {}`, code: pathhook.EMALFORMED},
		{name: "trailing garbage", body: `{}]`, code: pathhook.EMALFORMED},
		{name: "unknown fields, all named", body: `{"b":1,"learner":{"id":"l","x":2},"a":3}`, code: pathhook.EINVALID, fields: []string{"a", "b", "learner.x"}},
		{name: "wrong types, all named", body: `{"learner":{"id":1,"email":true,"name":[]}}`, code: pathhook.EINVALID, fields: []string{"learner.email", "learner.id", "learner.name"}},
		{name: "a key twice", body: `{"learner":{"id":"a","bogus":1},"learner":{"id":"b"}}`, code: pathhook.EINVALID, fields: []string{"learner"}},
		{name: "a nested key twice", body: `{"learner":{"id":"a","id":"b"}}`, code: pathhook.EINVALID, fields: []string{"learner.id"}},
		{name: "a key twice, hiding a wrong case", body: `{"learner":{"EMAIL":"x@y.z"},"learner":{"id":"b"}}`, code: pathhook.EINVALID, fields: []string{"learner"}},
		{name: "cut short in an array", body: `{"learner":[{"id":"l1"}`, code: pathhook.EMALFORMED},
		{name: "object expected", body: `"learner"`, code: pathhook.EINVALID, fields: []string{"body"}},
		{name: "nested object expected", body: `{"learner":"l1"}`, code: pathhook.EINVALID, fields: []string{"learner"}},
		{name: "text/plain", body: `{}`, ct: "text/plain", code: eUnsupportedMediaType},
		{name: "form", body: `learner=x`, ct: "application/x-www-form-urlencoded", code: eUnsupportedMediaType},
		{name: "a +json type is JSON", body: `{}`, ct: "application/merge-patch+json"},
		{name: "bad media type", body: `{}`, ct: "json;;", code: eUnsupportedMediaType},
		{name: "too large", body: `{"learner":{"name":"` + strings.Repeat("a", MaxBodySize) + `"}}`, code: pathhook.ETOOLARGE},
	}
	for _, c := range cases {
		req := httptest.NewRequest("POST", "/", strings.NewReader(c.body))
		if c.ct != "" {
			req.Header.Set("Content-Type", c.ct)
		}
		var in pathhook.EnrolmentInput
		err := decode(httptest.NewRecorder(), req, &in, c.optional)
		if got := pathhook.ErrorCode(err); got != c.code {
			t.Errorf("%s: code %q, want %q (%v)", c.name, got, c.code, err)
			continue
		}
		if c.fields != nil {
			var got []string
			for _, f := range err.(*pathhook.Error).Fields {
				got = append(got, f.Field)
			}
			if !slices.Equal(got, c.fields) {
				t.Errorf("%s: fields %v, want %v", c.name, got, c.fields)
			}
		}
	}
}

func TestDecodeTypes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		body  string
		field string
	}{
		{`{"points":"1"}`, "points"},
		{`{"points":1.5}`, "points"},
		{`{"points":1e3}`, "points"},
		{`{"points":99999999999999999999}`, "points"},
		{`{"activity_id":5}`, "activity_id"},
	} {
		req := httptest.NewRequest("POST", "/", strings.NewReader(c.body))
		var in pathhook.RewardInput
		err := decode(httptest.NewRecorder(), req, &in, false)
		if e, ok := err.(*pathhook.Error); !ok || e.Code != pathhook.EINVALID || e.Fields[0].Field != c.field {
			t.Errorf("%s: %v, want EINVALID naming %s", c.body, err, c.field)
		}
	}
	req := httptest.NewRequest("POST", "/", strings.NewReader(`{"starts_at":"2026-11-29T10:00:00+01:00","kind":"event"}`))
	var in pathhook.ActivityInput
	if err := decode(httptest.NewRecorder(), req, &in, false); err != nil || in.StartsAt == nil || in.Kind != "event" {
		t.Errorf("valid time: %v %+v", err, in)
	}
}

func TestBearer(t *testing.T) {
	t.Parallel()
	for header, want := range map[string]string{
		"Bearer abc": "abc", "bearer abc": "abc", "BEARER  abc ": "abc",
		"": "", "Bearer": "", "Bearer ": "", "Basic abc": "", "Bearerabc": "",
	} {
		if got, _ := bearer(header); got != want {
			t.Errorf("bearer(%q) = %q, want %q", header, got, want)
		}
	}
}
