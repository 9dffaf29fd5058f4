package resolvers_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/resolvers"
)

// manifestOf returns an Apollo manifest of bodies (named Op0, Op1, …).
func manifestOf(bodies ...string) []byte {
	ops := []resolvers.ManifestOperation{}
	for i, b := range bodies {
		ops = append(ops, resolvers.ManifestOperation{ID: sha(b), Name: "Op" + string(rune('0'+i)), Type: "query", Body: b})
	}
	out, _ := json.Marshal(resolvers.Manifest{Format: "apollo-persisted-query-manifest", Version: 1, Operations: ops})
	return out
}

func TestTrustedDocuments(t *testing.T) {
	r := newReplica(t, dbtest.NewURL(t))
	f := newFixture(t, r.store, db.PropertyInput{})
	trusted := `query Access($p: ID!) { portalAccess(propertyId: $p) { portalAllowed } }`
	other := `query Other($p: ID!) { portalAccess(propertyId: $p) { loginText } }`
	vars := `"variables":{"p":"` + f.property.ID.String() + `"}`
	byID := `{"documentId":"sha256:` + sha(trusted) + `",` + vars + `}`
	byHash := `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + sha(trusted) + `"}},` + vars + `}`
	text := func(q string) string { return `{"query":` + mustJSON(q) + `,` + vars + `}` }
	handler := func(mode resolvers.TrustedMode) (h func(method, target, body string) (int, string)) {
		td, err := resolvers.NewTrustedDocuments(mode, manifestOf(trusted))
		if err != nil {
			t.Fatal(err)
		}
		e := endpoint(t, r.svc, resolvers.GraphQLOptions{ComplexityLimit: 50000, TrustedDocuments: td})
		return func(method, target, body string) (int, string) { return send(e, method, target, body) }
	}
	want := func(t *testing.T, status int, body string, wantStatus int, wantIn string) {
		t.Helper()
		if status != wantStatus || !strings.Contains(body, wantIn) {
			t.Fatalf("%d %s, want %d with %s", status, body, wantStatus, wantIn)
		}
	}
	get := "/graphql?documentId=sha256:" + sha(trusted) + "&variables=" + url.QueryEscape(`{"p":"`+f.property.ID.String()+`"}`)

	t.Run("allow", func(t *testing.T) {
		h := handler(resolvers.TrustedAllow)
		for _, body := range []string{byID, byHash, text(trusted), text(other)} {
			status, got := h("POST", "/graphql", body)
			want(t, status, got, 200, `"portalAccess":{`)
		}
		status, got := h("GET", get, "")
		want(t, status, got, 200, `"portalAllowed":true`)
		// An id the manifest does not hold is an unknown persisted query.
		status, got = h("POST", "/graphql", `{"documentId":"sha256:`+sha(other)+`"}`)
		want(t, status, got, 200, "PERSISTED_QUERY_NOT_FOUND")
		// A query sent with another document's id is refused.
		status, got = h("POST", "/graphql", `{"documentId":"sha256:`+sha(trusted)+`","query":`+mustJSON(other)+`,`+vars+`}`)
		want(t, status, got, 422, "GRAPHQL_VALIDATION_FAILED")
		for _, bad := range []string{`{"documentId":"md5:abc"}`, `{"documentId":"sha256:ABC"}`, `{"documentId":7}`,
			`{"documentId":"sha256:` + sha(trusted) + `","extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + sha(trusted) + `"}}}`} {
			status, got = h("POST", "/graphql", bad)
			want(t, status, got, 400, `"code":"BAD_REQUEST"`)
		}
		status, got = h("GET", "/graphql?documentId=nope", "")
		want(t, status, got, 400, `"code":"BAD_REQUEST"`)
	})
	t.Run("enforce", func(t *testing.T) {
		h := handler(resolvers.TrustedEnforce)
		for _, body := range []string{byID, byHash, text(trusted)} {
			status, got := h("POST", "/graphql", body)
			want(t, status, got, 200, `"portalAllowed":true`)
		}
		status, got := h("GET", get, "")
		want(t, status, got, 200, `"portalAllowed":true`)
		for _, body := range []string{text(other), `{"documentId":"sha256:` + sha(other) + `"}`,
			// Registering a new automatic persisted query is refused too.
			`{"query":` + mustJSON(other) + `,"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + sha(other) + `"}},` + vars + `}`} {
			status, got := h("POST", "/graphql", body)
			want(t, status, got, 422, `"code":"PERSISTED_QUERY_NOT_IN_LIST"`)
		}
		status, got = h("GET", "/graphql?query="+url.QueryEscape(`{ __typename }`), "")
		want(t, status, got, 422, `"code":"PERSISTED_QUERY_NOT_IN_LIST"`)
	})
	t.Run("off", func(t *testing.T) {
		h := handler(resolvers.TrustedOff)
		status, got := h("POST", "/graphql", byID)
		want(t, status, got, 200, "PERSISTED_QUERY_NOT_FOUND")
		status, got = h("POST", "/graphql", text(other))
		want(t, status, got, 200, `"loginText"`)
	})
}

func TestManifestChecked(t *testing.T) {
	good := manifestOf(`{ __typename }`)
	if _, err := resolvers.NewTrustedDocuments(resolvers.TrustedEnforce, good); err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]string{
		"format":  `{"format":"other","version":1,"operations":[]}`,
		"version": `{"format":"apollo-persisted-query-manifest","version":2,"operations":[]}`,
		"id":      `{"format":"apollo-persisted-query-manifest","version":1,"operations":[{"id":"` + sha("x") + `","name":"X","type":"query","body":"{ __typename }"}]}`,
		"json":    `{`,
	} {
		if _, err := resolvers.NewTrustedDocuments(resolvers.TrustedAllow, []byte(m)); err == nil {
			t.Errorf("%s: a bad manifest was accepted", name)
		}
	}
	if _, err := resolvers.NewTrustedDocuments("strict", good); err == nil {
		t.Error("an unknown mode was accepted")
	}
}
