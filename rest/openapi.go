package rest

import (
	_ "embed"
	"net/http"
)

//go:generate go run ./internal/openapijson openapi.yaml openapi.json

// OpenAPIJSON is the OpenAPI 3 description of the 16 operations, generated
// from openapi.yaml (kept beside the route table, which a test holds it to).
//
//go:embed openapi.json
var OpenAPIJSON []byte

// apiDocs serves the document at /v3/api-docs.
func apiDocs() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(OpenAPIJSON)
	}
}
