package resolvers

import (
	"context"

	gqlcomplexity "github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/residentportal/bff/resolvers/plan"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Plans (package plan) are what an operation's document alone decides,
// kept once per operation; this file is how the endpoint uses them: one
// lookup per request that carries one operation, the rate guard's root
// fields, and the complexity limit.

// plans is the endpoint's plan cache.
type plans = plan.Cache

func newPlans(maxBytes int) *plans { return plan.NewCache(maxBytes, parsedBytesPerByte) }

// planOf is the plan of the operation oc runs, looked up once per
// operation in a request that carries one (see httpState).
func planOf(ctx context.Context, oc *graphql.OperationContext) *plan.Plan {
	st := stateOf(ctx)
	if st.single && oc != nil && oc.Operation != nil && st.planOf == oc.Operation {
		return st.plan
	}
	pl := st.plans.Of(oc)
	if st.single && oc != nil && oc.Operation != nil {
		st.planOf, st.plan = oc.Operation, pl
	}
	return pl
}

// RootFields are the fields of the operation oc runs collected on its root
// type root, as graphql.CollectFields collects them: from the operation's
// plan when it has one, shared with the fast path (never modify them).
func RootFields(ctx context.Context, oc *graphql.OperationContext, root string) []graphql.CollectedField {
	f, _ := planOf(ctx, oc).Collect(oc, oc.Operation.SelectionSet, root)
	return f
}

// weighedFields are the fields complexity() gives a function of its own
// (TestWeighedFields checks the list). Only their arguments can change an
// operation's complexity; every other field weighs one plus its children.
var weighedFields = map[string]bool{
	"Property.units": true, "Unit.users": true, "Query.unitUsers": true,
	"Unit.devices": true, "UnitUser.devices": true, "Query.unitDevices": true,
}

// weightVaries reports whether sel's complexity can depend on variables:
// whether a weighed field in it (fragments included) takes a variable.
func weightVaries(doc *ast.QueryDocument, sel ast.SelectionSet, seen map[string]bool) bool {
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			if s.ObjectDefinition == nil || weighedFields[s.ObjectDefinition.Name+"."+s.Name] && plan.ArgsVary(s) {
				return true
			}
			if weightVaries(doc, s.SelectionSet, seen) {
				return true
			}
		case *ast.InlineFragment:
			if weightVaries(doc, s.SelectionSet, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if !seen[s.Name] {
				seen[s.Name] = true
				def := doc.Fragments.ForName(s.Name)
				if def == nil || weightVaries(doc, def.SelectionSet, seen) {
					return true
				}
			}
		}
	}
	return false
}

// complexityLimit is gqlgen's FixedComplexityLimit with the complexity of
// an operation that has a plan, and whose weight no variable changes,
// computed once: same extension name, statistics and error.
type complexityLimit struct {
	limit int
	opts  []gqlcomplexity.Option
	es    graphql.ExecutableSchema
}

func (c *complexityLimit) ExtensionName() string { return "ComplexityLimit" }

func (c *complexityLimit) Validate(es graphql.ExecutableSchema) error {
	c.es = es
	return nil
}

func (c *complexityLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	op := oc.Doc.Operations.ForName(oc.OperationName)
	n := -1
	if pl := planOf(ctx, oc); pl != nil && op == oc.Operation {
		if w, ok := pl.Weight(func() (int, bool) {
			if weightVaries(oc.Doc, op.SelectionSet, map[string]bool{}) {
				return 0, false
			}
			return gqlcomplexity.Calculate(ctx, c.es, op, nil, c.opts...), true
		}); ok {
			n = w
		}
	}
	if n < 0 {
		n = gqlcomplexity.Calculate(ctx, c.es, op, oc.Variables, c.opts...)
	}
	oc.Stats.SetExtension("ComplexityLimit", &extension.ComplexityStats{Complexity: n, ComplexityLimit: c.limit})
	if n > c.limit {
		err := gqlerror.Errorf("operation has complexity %d, which exceeds the limit of %d", n, c.limit)
		errcode.Set(err, "COMPLEXITY_LIMIT_EXCEEDED")
		return err
	}
	return nil
}
