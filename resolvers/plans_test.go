package resolvers

import (
	"context"
	"reflect"
	"strings"
	"testing"

	gqlcomplexity "github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/residentportal/bff/graph"
	"github.com/vektah/gqlparser/v2"
)

// TestWeighedFields: weighedFields names exactly the fields complexity()
// gives a function.
func TestWeighedFields(t *testing.T) {
	root := reflect.ValueOf(complexity())
	got := map[string]bool{}
	for i := range root.NumField() {
		typ := root.Type().Field(i).Name
		obj := root.Field(i)
		for j := range obj.NumField() {
			if !obj.Field(j).IsNil() {
				f := obj.Type().Field(j).Name
				got[typ+"."+strings.ToLower(f[:1])+f[1:]] = true
			}
		}
	}
	if !reflect.DeepEqual(got, weighedFields) {
		t.Fatalf("complexity() weighs %v; weighedFields lists %v", got, weighedFields)
	}
}

// TestPlannedComplexity: the limit extension reports what gqlgen's own
// computation gives, for every document and variables, whether the
// operation's weight is cached or not — a second request with other
// variables included.
func TestPlannedComplexity(t *testing.T) {
	es := graph.NewExecutableSchema(graph.Config{Resolvers: &Resolver{}, Complexity: complexity()})
	opts := []gqlcomplexity.Option{gqlcomplexity.WithFixedScalarValue(0)}
	p := newPlans(1 << 20)
	ctx := withState(context.Background(), &httpState{plans: p})
	ext := &complexityLimit{limit: 1_000_000, opts: opts}
	if err := ext.Validate(es); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		doc    string
		vars   []map[string]any
		cached bool
	}{
		{`query($p: ID!) { unit(propertyId: $p) { users(first: 100) { edges { node { id devices { macAddress } } } } } }`,
			[]map[string]any{{"p": "a"}, {"p": "b"}}, true},
		{`query($p: ID!, $n: Int) { property(propertyId: $p) { units(first: $n) { edges { node { users(first: 3) { totalCount } } } } } }`,
			[]map[string]any{{"p": "a", "n": 5}, {"p": "a", "n": 50}, {"p": "a"}}, false},
		{`query($s: Boolean!) { unit(propertyId: "p") { users(first: 10) @skip(if: $s) { totalCount } devices { macAddress } } }`,
			[]map[string]any{{"s": true}, {"s": false}}, false},
		{`query($n: Int) { unit(propertyId: "p") { ...U } } fragment U on Unit { users(first: $n) { totalCount } }`,
			[]map[string]any{{"n": 2}, {"n": 40}}, false},
		{`query { unit(propertyId: "p") { ...U } } fragment U on Unit { users(first: 7) { edges { node { devices { osType } } } } }`,
			[]map[string]any{nil, {}}, true},
	}
	for _, c := range cases {
		doc, errs := gqlparser.LoadQuery(es.Schema(), c.doc)
		if errs != nil {
			t.Fatalf("%s: %v", c.doc, errs)
		}
		op := doc.Operations[0]
		for _, vars := range c.vars {
			oc := &graphql.OperationContext{Doc: doc, Operation: op, Variables: vars}
			if err := ext.MutateOperationContext(ctx, oc); err != nil {
				t.Fatal(err)
			}
			got := oc.Stats.GetExtension("ComplexityLimit").(*extension.ComplexityStats).Complexity
			want := gqlcomplexity.Calculate(context.Background(), es, op, vars, opts...)
			if got != want {
				t.Errorf("%s with %v: complexity %d, gqlgen computes %d", c.doc, vars, got, want)
			}
		}
		cached := false
		if pl := p.Of(&graphql.OperationContext{Doc: doc, Operation: op}); pl != nil {
			_, cached = pl.Weight(func() (int, bool) { return 0, false }) // weighed already, or never
		}
		if cached != c.cached {
			t.Errorf("%s: weight cached %v, want %v", c.doc, cached, c.cached)
		}
	}
}

// TestPlanNeedsStaticDirectives: an operation whose fields a variable can
// skip has no plan; one without such a directive has.
func TestPlanNeedsStaticDirectives(t *testing.T) {
	es := graph.NewExecutableSchema(graph.Config{Resolvers: &Resolver{}, Complexity: complexity()})
	p := newPlans(1 << 20)
	for doc, want := range map[string]bool{
		`query { unit(propertyId: "p") { id @include(if: true) } }`:                                           true,
		`query($i: Boolean!) { unit(propertyId: "p") { id @include(if: $i) } }`:                               false,
		`query($i: Boolean!) { unit(propertyId: "p") { ... @skip(if: $i) { id } } }`:                          false,
		`query($i: Boolean!) { unit(propertyId: "p") { ...F } } fragment F on Unit { number @skip(if: $i) }`:  false,
		`query($i: Boolean!) { unit(propertyId: "p") { ...F @skip(if: $i) } } fragment F on Unit { number }`:  false,
		`query($p: ID!) { unit(propertyId: $p) { ...F } } fragment F on Unit { number users { totalCount } }`: true,
	} {
		d, errs := gqlparser.LoadQuery(es.Schema(), doc)
		if errs != nil {
			t.Fatalf("%s: %v", doc, errs)
		}
		if got := p.Of(&graphql.OperationContext{Doc: d, Operation: d.Operations[0]}) != nil; got != want {
			t.Errorf("%s: plan %v, want %v", doc, got, want)
		}
	}
}

// RootFields collects as gqlgen does, once per planned operation; a request
// carrying one operation looks its plan up once, a WebSocket connection's
// state (several operations at once) never keeps one.
func TestRootFieldsAndRequestPlans(t *testing.T) {
	es := graph.NewExecutableSchema(graph.Config{Resolvers: &Resolver{}, Complexity: complexity()})
	p := newPlans(1 << 20)
	d, errs := gqlparser.LoadQuery(es.Schema(), `query A { a: unit(propertyId: "p") { id } ...F } query B($s: Boolean!) { unit(propertyId: "q") @skip(if: $s) { id } }
		fragment F on Query { b: portalAccess(propertyId: "p") { portalAllowed } }`)
	if errs != nil {
		t.Fatal(errs)
	}
	a := &graphql.OperationContext{Doc: d, Operation: d.Operations.ForName("A"), Variables: map[string]any{}}
	b := &graphql.OperationContext{Doc: d, Operation: d.Operations.ForName("B"), Variables: map[string]any{"s": true}}
	st := &httpState{plans: p, single: true}
	ctx := withState(context.Background(), st)

	first := RootFields(ctx, a, "Query")
	if want := graphql.CollectFields(a, a.Operation.SelectionSet, []string{"Query"}); !reflect.DeepEqual(first, want) || len(first) != 2 {
		t.Fatalf("%v, want %v", first, want)
	}
	if again := RootFields(ctx, a, "Query"); &again[0] != &first[0] {
		t.Fatal("collected twice")
	}
	if st.planOf != a.Operation || st.plan == nil || planOf(ctx, a) != st.plan {
		t.Fatal("the request does not keep its operation's plan")
	}
	// B has no plan (its directive takes a variable): collected per call,
	// with the variables of the call.
	if got := RootFields(ctx, b, "Query"); len(got) != 0 || st.planOf != b.Operation || st.plan != nil {
		t.Fatalf("B: %d fields, plan %v", len(got), st.plan)
	}
	ws := &httpState{plans: p}
	if RootFields(withState(context.Background(), ws), a, "Query"); ws.planOf != nil {
		t.Fatal("a WebSocket connection's state kept a plan")
	}
}
