package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

// TestOpenAPIRoutes requires that the route table and openapi.json list the
// same operations. Together with the check of every answer in the other
// tests (fixture.send), this keeps the document true.
func TestOpenAPIRoutes(t *testing.T) {
	t.Parallel()
	s := loadSpec(t)
	var routes []string
	for _, rt := range newServer(Config{}).routes() {
		routes = append(routes, rt.method+" "+rt.path)
	}
	slices.Sort(routes)
	ops := s.operations()
	for _, r := range routes {
		if !slices.Contains(ops, r) {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for _, op := range ops {
		if !slices.Contains(routes, op) {
			t.Errorf("openapi.json has %s, which no route serves", op)
		}
	}
	if s.doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", s.doc["openapi"])
	}
}

// TestOpenAPIPublicRoutes requires that the document marks exactly the
// public routes as needing no key.
func TestOpenAPIPublicRoutes(t *testing.T) {
	t.Parallel()
	s := loadSpec(t)
	paths := s.doc["paths"].(map[string]any)
	for _, rt := range newServer(Config{}).routes() {
		op := paths[rt.path].(map[string]any)[lower(rt.method)].(map[string]any)
		sec, set := op["security"].([]any)
		if open := set && len(sec) == 0; open != rt.public {
			t.Errorf("%s %s: public %v in the route table, %v in openapi.json", rt.method, rt.path, rt.public, open)
		}
	}
}

func lower(method string) string { return string(bytes.ToLower([]byte(method))) }

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	NewServer(Config{}).ServeHTTP(rec, httptest.NewRequest("GET", "/openapi.json", nil))
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), openAPISpec) || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("GET /openapi.json: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}
