package httpapi

import (
	_ "embed"
	"net/http"

	"github.com/pathhook/pathhook"
)

// openAPISpec is the OpenAPI 3.1 document of this API. openapi_test.go keeps
// it true: every route is in it and every answer the tests see matches it.
//
//go:embed openapi.json
var openAPISpec []byte

// openAPI serves the embedded OpenAPI document.
func (s *server) openAPI(w http.ResponseWriter, r *http.Request, _ *pathhook.APIKey) error {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPISpec)
	return nil
}
