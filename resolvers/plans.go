package resolvers

import (
	"context"
	"sync"

	gqlcomplexity "github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/maypok86/otter/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Plans. What the direct executor derives from a document alone — the
// fields each selection set collects on a type, and the arguments of a
// field that names no variable — is the same on every request that sends
// the document. gqlgen's parsed-query cache hands those requests the same
// *ast.OperationDefinition, so the executor keeps them per operation, in
// a plan, instead of collecting fields and building argument maps on
// every request. An operation whose collection depends on its variables
// (a directive such as @skip(if: $v)) has no plan: its fields are
// collected per request, as before. Plans are bounded by the weight of the
// documents they keep alive, as the parsed-query cache is.

// plan is what the direct executor derives from one operation. Its maps
// are filled by the requests that run it, concurrently, and only read
// after: a slice or map stored here is never modified.
type plan struct {
	fields sync.Map // fieldsKey → []graphql.CollectedField
	args   sync.Map // *ast.Field → map[string]any, for fields whose arguments name no variable

	// weight is the operation's complexity, when weighed (no variable
	// changes it).
	weighOnce sync.Once
	weight    int
	weighed   bool
}

// plans caches a plan per operation; an operation without one maps to
// noPlan.
type plans struct {
	c *otter.Cache[*ast.OperationDefinition, *plan]
}

var noPlan = &plan{}

func newPlans(maxBytes int) *plans {
	return &plans{otter.Must(&otter.Options[*ast.OperationDefinition, *plan]{
		MaximumWeight: uint64(maxBytes),
		Weigher:       func(op *ast.OperationDefinition, _ *plan) uint32 { return planWeight(op) },
	})}
}

// planWeight approximates the bytes a plan keeps alive: the document below
// the operation (its parse is held to about parsedBytesPerByte times its
// text, see bounds.go), and the plan's own entries, about as many.
func planWeight(op *ast.OperationDefinition) uint32 {
	n := 512
	if op.Position != nil && op.Position.Src != nil {
		n += 2 * parsedBytesPerByte * len(op.Position.Src.Input)
	}
	return uint32(min(n, 1<<31))
}

// of returns the plan of the operation oc runs, or nil when it has none.
func (p *plans) of(oc *graphql.OperationContext) *plan {
	if p == nil || oc == nil || oc.Operation == nil {
		return nil
	}
	op := oc.Operation
	if pl, ok := p.c.GetIfPresent(op); ok {
		if pl == noPlan {
			return nil
		}
		return pl
	}
	pl := noPlan
	if !variesWith(oc.Doc, op.SelectionSet, map[string]bool{}) {
		pl = &plan{}
	}
	// Two requests may make the same operation's plan at once: whichever
	// is kept, both are correct.
	p.c.Set(op, pl)
	if pl == noPlan {
		return nil
	}
	return pl
}

// ofRequest is of, looked up once per operation in a request that carries
// one (see httpState).
func (p *plans) ofRequest(ctx context.Context, oc *graphql.OperationContext) *plan {
	st := stateOf(ctx)
	if st.single && oc != nil && oc.Operation != nil && st.planOf == oc.Operation {
		return st.plan
	}
	pl := p.of(oc)
	if st.single && oc != nil && oc.Operation != nil {
		st.planOf, st.plan = oc.Operation, pl
	}
	return pl
}

// RootFields are the fields of the operation oc runs collected on its root
// type root, as graphql.CollectFields collects them: from the operation's
// plan when it has one, shared with the direct executor (never modify
// them).
func RootFields(ctx context.Context, oc *graphql.OperationContext, root string) []graphql.CollectedField {
	f, _ := stateOf(ctx).plans.ofRequest(ctx, oc).collect(oc, oc.Operation.SelectionSet, root)
	return f
}

// collect is graphql.CollectFields of sel on onType, kept in the plan (a
// nil plan collects every time). deferred reports a @defer among them: the
// direct executor leaves those operations to gqlgen, and the plan does not
// keep their fields.
func (pl *plan) collect(oc *graphql.OperationContext, sel ast.SelectionSet, onType string) (f []graphql.CollectedField, deferred bool) {
	keep := pl != nil && len(sel) > 0
	var k fieldsKey
	if keep {
		k = fieldsKey{&sel[0], len(sel), onType}
		if f, ok := pl.fields.Load(k); ok {
			return f.([]graphql.CollectedField), false
		}
	}
	f = graphql.CollectFields(oc, sel, []string{onType})
	for _, c := range f {
		if len(c.Deferrables) > 0 {
			return f, true
		}
	}
	if keep {
		pl.fields.Store(k, f)
	}
	return f, false
}

// variesWith reports whether collecting sel's fields (fragments included)
// can depend on variables: whether a directive in it takes a variable.
func variesWith(doc *ast.QueryDocument, sel ast.SelectionSet, seen map[string]bool) bool {
	for _, s := range sel {
		var dirs ast.DirectiveList
		var below ast.SelectionSet
		switch s := s.(type) {
		case *ast.Field:
			dirs, below = s.Directives, s.SelectionSet
		case *ast.InlineFragment:
			dirs, below = s.Directives, s.SelectionSet
		case *ast.FragmentSpread:
			dirs = s.Directives
			if !seen[s.Name] {
				seen[s.Name] = true
				def := doc.Fragments.ForName(s.Name)
				if def == nil {
					return true // validation rejects it; no plan either way
				}
				if namesVariable(def.Directives) || variesWith(doc, def.SelectionSet, seen) {
					return true
				}
			}
		}
		if namesVariable(dirs) || variesWith(doc, below, seen) {
			return true
		}
	}
	return false
}

func namesVariable(dirs ast.DirectiveList) bool {
	for _, d := range dirs {
		for _, a := range d.Arguments {
			if hasVariable(a.Value) {
				return true
			}
		}
	}
	return false
}

// hasVariable reports whether v is or holds a variable.
func hasVariable(v *ast.Value) bool {
	if v == nil {
		return false
	}
	if v.Kind == ast.Variable {
		return true
	}
	for _, c := range v.Children {
		if hasVariable(c.Value) {
			return true
		}
	}
	return false
}

// argsVary reports whether a field's arguments name a variable.
func argsVary(f *ast.Field) bool {
	for _, a := range f.Arguments {
		if hasVariable(a.Value) {
			return true
		}
	}
	return false
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
			if s.ObjectDefinition == nil || weighedFields[s.ObjectDefinition.Name+"."+s.Name] && argsVary(s) {
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
	plans *plans
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
	pl := c.plans.ofRequest(ctx, oc)
	if pl != nil && op == oc.Operation {
		pl.weighOnce.Do(func() {
			if !weightVaries(oc.Doc, op.SelectionSet, map[string]bool{}) {
				pl.weight = gqlcomplexity.Calculate(ctx, c.es, op, nil, c.opts...)
				pl.weighed = true
			}
		})
		if pl.weighed {
			n = pl.weight
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
