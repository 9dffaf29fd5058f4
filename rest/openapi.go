package rest

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
)

// OpenAPIYAML is the OpenAPI 3 description of the 16 operations, kept beside
// the route table that a test holds it to.
//
//go:embed openapi.yaml
var OpenAPIYAML []byte

// OpenAPI parses the embedded document.
func OpenAPI() (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPIYAML)
	if err != nil {
		return nil, fmt.Errorf("rest: openapi.yaml: %w", err)
	}
	return doc, nil
}

// apiDocs serves the document as JSON at /v3/api-docs (converted once).
func apiDocs() http.HandlerFunc {
	doc, err := OpenAPI()
	if err != nil {
		panic(err) // the document is embedded at build time and tested
	}
	body, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(body)
	}
}
