package httpapi

import (
	"encoding/json"
	"fmt"
	"mime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// spec is the embedded OpenAPI document, parsed, with a checker for the
// subset of JSON Schema that it uses: $ref, type (one or a list), enum,
// properties, required, additionalProperties: false, items, and the
// date-time format. Anything else in a schema fails the check, so that the
// document cannot use a keyword that the tests silently ignore.
type spec struct {
	doc map[string]any

	mu   sync.Mutex
	seen map[string]bool // "METHOD /path/{template} STATUS" of checked answers
}

func loadSpec(t testing.TB) *spec {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(openAPISpec, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return &spec{doc: doc, seen: map[string]bool{}}
}

// operations lists "METHOD /path" of every operation in the document.
func (s *spec) operations() []string {
	var ops []string
	for path, item := range s.doc["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			ops = append(ops, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(ops)
	return ops
}

// match finds the path template of the document that urlPath fits,
// preferring the one with the most literal segments.
func (s *spec) match(urlPath string) (string, bool) {
	segs := strings.Split(urlPath, "/")
	best, bestLiterals := "", -1
	for tmpl := range s.doc["paths"].(map[string]any) {
		ts := strings.Split(tmpl, "/")
		if len(ts) != len(segs) {
			continue
		}
		literals, ok := 0, true
		for i, seg := range ts {
			switch {
			case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") && segs[i] != "":
			case seg == segs[i]:
				literals++
			default:
				ok = false
			}
		}
		if ok && literals > bestLiterals {
			best, bestLiterals = tmpl, literals
		}
	}
	return best, bestLiterals >= 0
}

// check returns what is wrong with an answer according to the document:
// an undocumented status or content type, or a body that does not fit the
// schema. It records the answer as seen.
func (s *spec) check(method, urlPath string, status int, contentType string, body []byte) []string {
	tmpl, ok := s.match(urlPath)
	var op map[string]any
	if ok {
		op, ok = s.doc["paths"].(map[string]any)[tmpl].(map[string]any)[strings.ToLower(method)].(map[string]any)
	}
	if !ok {
		// A request outside the API gets a 404 or 405 problem.
		where := fmt.Sprintf("%s %s %d (no such operation)", method, urlPath, status)
		if status != 404 && status != 405 {
			return []string{where + ": want 404 or 405"}
		}
		var errs []string
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return []string{fmt.Sprintf("%s: body is not JSON: %v", where, err)}
		}
		s.validate(map[string]any{"$ref": "#/components/schemas/Problem"}, v, "$", &errs)
		return errs
	}
	where := fmt.Sprintf("%s %s %d", method, tmpl, status)
	s.mu.Lock()
	s.seen[where] = true
	s.mu.Unlock()
	resp, ok := op["responses"].(map[string]any)[strconv.Itoa(status)]
	if !ok {
		return []string{where + ": status not documented"}
	}
	content, _ := s.resolve(resp)["content"].(map[string]any)
	mt, _, _ := mime.ParseMediaType(contentType)
	media, ok := content[mt].(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: content type %q not documented", where, contentType)}
	}
	if !strings.HasSuffix(mt, "json") {
		return nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return []string{fmt.Sprintf("%s: body is not JSON: %v", where, err)}
	}
	var errs []string
	s.validate(media["schema"], v, "$", &errs)
	for i := range errs {
		errs[i] = where + ": " + errs[i]
	}
	return errs
}

// resolve follows a local $ref ("#/components/schemas/Name").
func (s *spec) resolve(node any) map[string]any {
	m, _ := node.(map[string]any)
	for m != nil && m["$ref"] != nil {
		var cur any = s.doc
		for _, part := range strings.Split(strings.TrimPrefix(m["$ref"].(string), "#/"), "/") {
			cur = cur.(map[string]any)[part]
		}
		m, _ = cur.(map[string]any)
	}
	return m
}

// schemaKeywords are the keywords that validate checks or that only
// document (description, format other than date-time, bounds of inputs).
var schemaKeywords = map[string]bool{"type": true, "enum": true, "properties": true, "required": true,
	"additionalProperties": true, "items": true, "format": true, "description": true, "$ref": true}

func (s *spec) validate(node, v any, path string, errs *[]string) {
	sc := s.resolve(node)
	bad := func(format string, args ...any) { *errs = append(*errs, path+": "+fmt.Sprintf(format, args...)) }
	for k := range sc {
		if !schemaKeywords[k] {
			bad("schema keyword %q is not checked by the tests", k)
		}
	}
	if t, ok := sc["type"]; ok && !typeMatches(t, v) {
		bad("%s is not of type %v", short(v), t)
		return
	}
	if enum, ok := sc["enum"].([]any); ok && !slices.Contains(enum, v) {
		bad("%s is not one of %v", short(v), enum)
	}
	if str, ok := v.(string); ok && sc["format"] == "date-time" {
		if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
			bad("%q is not a date-time", str)
		}
	}
	switch v := v.(type) {
	case map[string]any:
		props, _ := sc["properties"].(map[string]any)
		required, _ := sc["required"].([]any)
		for _, req := range required {
			if _, ok := v[req.(string)]; !ok {
				bad("required property %q is missing", req)
			}
		}
		for k, pv := range v {
			if ps, ok := props[k]; ok {
				s.validate(ps, pv, path+"."+k, errs)
			} else if sc["additionalProperties"] == false {
				bad("property %q is not in the schema", k)
			}
		}
	case []any:
		for i, e := range v {
			s.validate(sc["items"], e, fmt.Sprintf("%s[%d]", path, i), errs)
		}
	}
}

func typeMatches(t, v any) bool {
	if ts, ok := t.([]any); ok {
		return slices.ContainsFunc(ts, func(t any) bool { return typeMatches(t, v) })
	}
	switch v := v.(type) {
	case nil:
		return t == "null"
	case bool:
		return t == "boolean"
	case string:
		return t == "string"
	case float64:
		return t == "number" || t == "integer" && v == float64(int64(v))
	case []any:
		return t == "array"
	case map[string]any:
		return t == "object"
	}
	return false
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		b = append(b[:77], "..."...)
	}
	return string(b)
}
