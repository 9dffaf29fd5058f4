// Command openapijson converts the REST layer's OpenAPI document from YAML
// (rest/openapi.yaml, the one people edit) to the JSON portald serves at
// /v3/api-docs (rest/openapi.json), checking it is valid OpenAPI 3 on the
// way. It runs under go generate, so the server carries neither a YAML
// parser nor an OpenAPI library.
//
// Usage: openapijson openapi.yaml openapi.json
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/getkin/kin-openapi/openapi3"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: openapijson openapi.yaml openapi.json")
		os.Exit(2)
	}
	if err := convert(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "openapijson:", err)
		os.Exit(1)
	}
}

func convert(in, out string) error {
	doc, err := openapi3.NewLoader().LoadFromFile(in)
	if err != nil {
		return err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return fmt.Errorf("%s is not valid OpenAPI 3: %w", in, err)
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(body, '\n'), 0o644)
}
