package resolvers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"

	gqlcomplexity "github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/residentportal/bff/graph"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// TrustedMode says which documents the GraphQL server runs
// (GRAPHQL_TRUSTED_DOCUMENTS, SPEC §8.3).
type TrustedMode string

const (
	// TrustedOff ignores the manifests: document ids are only the
	// automatic persisted queries a client registered.
	TrustedOff TrustedMode = "off"
	// TrustedAllow runs manifest documents by id and free text too.
	TrustedAllow TrustedMode = "allow"
	// TrustedEnforce runs manifest documents only, for every caller.
	TrustedEnforce TrustedMode = "enforce"
)

// CodeNotInList is the code of an operation refused in enforce mode.
const CodeNotInList = "PERSISTED_QUERY_NOT_IN_LIST"

// ManifestOperation is one entry of an Apollo persisted-query manifest.
type ManifestOperation struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
	Body string `json:"body"`
}

// Manifest is an Apollo persisted-query manifest
// ({"format":"apollo-persisted-query-manifest","version":1,"operations":[…]}).
type Manifest struct {
	Format     string              `json:"format"`
	Version    int                 `json:"version"`
	Operations []ManifestOperation `json:"operations"`
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ParseManifest decodes a manifest and checks it: the format and version,
// and every id the SHA-256 hex of its body.
func ParseManifest(b []byte) (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("trusted documents: %w", err)
	}
	if m.Format != "apollo-persisted-query-manifest" || m.Version != 1 {
		return m, fmt.Errorf("trusted documents: format %q version %d, want apollo-persisted-query-manifest version 1", m.Format, m.Version)
	}
	for _, op := range m.Operations {
		if sum := sha256.Sum256([]byte(op.Body)); !sha256Hex.MatchString(op.ID) || hex.EncodeToString(sum[:]) != op.ID {
			return m, fmt.Errorf("trusted documents: operation %q: id %q is not the SHA-256 of its body", op.Name, op.ID)
		}
	}
	return m, nil
}

// TrustedDocuments is the set of documents the server runs by id, and the
// mode it runs in.
type TrustedDocuments struct {
	mode   TrustedMode
	bodies map[string]string // id (SHA-256 hex) → body
}

// NewTrustedDocuments returns the documents of manifests (each as
// ParseManifest checks it), run in mode.
func NewTrustedDocuments(mode TrustedMode, manifests ...[]byte) (*TrustedDocuments, error) {
	switch mode {
	case TrustedOff, TrustedAllow, TrustedEnforce:
	default:
		return nil, fmt.Errorf("trusted documents: mode %q is not off, allow or enforce", mode)
	}
	t := &TrustedDocuments{mode: mode, bodies: map[string]string{}}
	for _, b := range manifests {
		m, err := ParseManifest(b)
		if err != nil {
			return nil, err
		}
		for _, op := range m.Operations {
			t.bodies[op.ID] = op.Body
		}
	}
	return t, nil
}

// Mode returns the mode the documents are run in (TrustedOff for nil).
func (t *TrustedDocuments) Mode() TrustedMode {
	if t == nil {
		return TrustedOff
	}
	return t.mode
}

// resolve puts the body of a manifest document named by its hash (the APQ
// extension, which a documentId became at the transport) in p, and in
// enforce mode refuses any operation that is not a manifest document.
func (t *TrustedDocuments) resolve(p *graphql.RawParams) *gqlerror.Error {
	if t == nil || t.mode == TrustedOff {
		return nil
	}
	if hash := persistedHash(p.Extensions); hash != "" {
		if body, ok := t.bodies[hash]; ok {
			if p.Query != "" && p.Query != body {
				err := gqlerror.Errorf("the query is not the document its id names")
				errcode.Set(err, errcode.ValidationFailed)
				return err
			}
			p.Query = body
			// Not an automatic persisted query: nothing to register.
			p.Extensions = maps.Clone(p.Extensions)
			delete(p.Extensions, "persistedQuery")
			return nil
		}
	}
	if t.mode != TrustedEnforce {
		return nil
	}
	if p.Query != "" {
		if sum := sha256.Sum256([]byte(p.Query)); t.bodies[hex.EncodeToString(sum[:])] != "" {
			return nil // the text of a manifest document
		}
	}
	err := gqlerror.Errorf("this server runs trusted documents only, and this operation is not one of them")
	errcode.Set(err, CodeNotInList)
	return err
}

// persistedHash returns extensions.persistedQuery.sha256Hash ("" if absent
// or not a string).
func persistedHash(ext map[string]any) string {
	pq, _ := ext["persistedQuery"].(map[string]any)
	h, _ := pq["sha256Hash"].(string)
	return h
}

// CheckDocument parses and validates a document against the schema and
// returns the complexity of each of its operations, as the server would
// count it with variables unset (list fields at their default page size).
// CI runs every manifest document through it.
func CheckDocument(query string) (map[string]int, error) {
	es := graph.NewExecutableSchema(graph.Config{Resolvers: &Resolver{}, Complexity: complexity()})
	doc, errs := gqlparser.LoadQuery(es.Schema(), query)
	if len(errs) > 0 {
		return nil, errs
	}
	out := map[string]int{}
	for _, op := range doc.Operations {
		out[op.Name] = gqlcomplexity.Calculate(context.Background(), es, op, nil, gqlcomplexity.WithFixedScalarValue(0))
	}
	return out, nil
}
