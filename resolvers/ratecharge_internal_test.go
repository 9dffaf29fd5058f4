package resolvers

import (
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// argument reads one argument as ArgumentMap would: a literal, a variable,
// a default when the argument or its variable is missing.
func TestArgumentIsArgumentMaps(t *testing.T) {
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: `type Query { f(propertyId: ID = "dflt", n: Int): Int  g(propertyId: ID): Int }`})
	doc := gqlparser.MustLoadQuery(schema, `query($p: ID, $q: ID) { a: f(propertyId: "lit") b: f(propertyId: $p) c: f(propertyId: $q) d: f(n: 1) e: g g: g(propertyId: $p) }`)
	vars := map[string]any{"p": "from-var"}
	oc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0], Variables: vars}
	fields := graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Query"})
	if len(fields) != 6 {
		t.Fatalf("%d fields", len(fields))
	}
	for _, f := range fields {
		if got, want := argument(f, "propertyId", vars), f.ArgumentMap(vars)["propertyId"]; got != want {
			t.Errorf("%s: %v, want %v", f.Alias, got, want)
		}
		if got := argument(f, "undefined", vars); got != nil {
			t.Errorf("%s: undefined argument: %v", f.Alias, got)
		}
	}
}
