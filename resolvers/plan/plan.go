// Package plan keeps what a GraphQL operation's document alone decides —
// the fields each selection set collects on a type, the arguments of a
// field that names no variable, its complexity — once per operation
// instead of once per request.
//
// gqlgen's parsed-query cache hands every request that sends a document the
// same *ast.OperationDefinition, so a plan is kept per operation. An
// operation whose collection depends on its variables (a directive such as
// @skip(if: $v)) has no plan: its fields are collected per request. Plans
// are bounded by the weight of the documents they keep alive, as the
// parsed-query cache is.
package plan

import (
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/maypok86/otter/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// Plan is what is derived from one operation. Its maps are filled by the
// requests that run it, concurrently, and only read after: a slice or map
// stored here is never modified.
type Plan struct {
	fields sync.Map // fieldsKey → []graphql.CollectedField
	args   sync.Map // *ast.Field → map[string]any, for fields whose arguments name no variable

	weighOnce sync.Once
	weight    int
	weighed   bool
}

type fieldsKey struct {
	first  *ast.Selection
	n      int
	onType string
}

// Cache holds a plan per operation; an operation without one maps to
// noPlan.
type Cache struct {
	c *otter.Cache[*ast.OperationDefinition, *Plan]
}

var noPlan = &Plan{}

// NewCache returns plans bounded to about maxBytes, a document's parse
// held to parsedPerByte times its text.
func NewCache(maxBytes, parsedPerByte int) *Cache {
	return &Cache{otter.Must(&otter.Options[*ast.OperationDefinition, *Plan]{
		MaximumWeight: uint64(maxBytes),
		Weigher: func(op *ast.OperationDefinition, _ *Plan) uint32 {
			// The document below the operation, and the plan's own
			// entries, about as many.
			n := 512
			if op.Position != nil && op.Position.Src != nil {
				n += 2 * parsedPerByte * len(op.Position.Src.Input)
			}
			return uint32(min(n, 1<<31))
		},
	})}
}

// Of returns the plan of the operation oc runs, or nil when it has none.
func (c *Cache) Of(oc *graphql.OperationContext) *Plan {
	if c == nil || oc == nil || oc.Operation == nil {
		return nil
	}
	op := oc.Operation
	if pl, ok := c.c.GetIfPresent(op); ok {
		if pl == noPlan {
			return nil
		}
		return pl
	}
	pl := noPlan
	if !variesWith(oc.Doc, op.SelectionSet, map[string]bool{}) {
		pl = &Plan{}
	}
	// Two requests may make the same operation's plan at once: whichever
	// is kept, both are correct.
	c.c.Set(op, pl)
	if pl == noPlan {
		return nil
	}
	return pl
}

// Collect is graphql.CollectFields of sel on onType, kept in the plan (a
// nil plan collects every time). deferred reports a @defer among them: the
// plan does not keep those fields.
func (p *Plan) Collect(oc *graphql.OperationContext, sel ast.SelectionSet, onType string) (f []graphql.CollectedField, deferred bool) {
	keep := p != nil && len(sel) > 0
	var k fieldsKey
	if keep {
		k = fieldsKey{&sel[0], len(sel), onType}
		if f, ok := p.fields.Load(k); ok {
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
		p.fields.Store(k, f)
	}
	return f, false
}

// Args returns f's arguments kept in the plan (shared: never modify
// them), or false when the plan cannot keep them: there is no plan, or
// they name a variable.
func (p *Plan) Args(f graphql.CollectedField, vars map[string]any) (map[string]any, bool) {
	if p == nil || ArgsVary(f.Field) {
		return nil, false
	}
	if m, ok := p.args.Load(f.Field); ok {
		return m.(map[string]any), true
	}
	m := f.ArgumentMap(vars)
	p.args.Store(f.Field, m)
	return m, true
}

// Weight returns the operation's complexity, computed once by weigh, which
// reports false when variables can change it (then it is not kept).
func (p *Plan) Weight(weigh func() (int, bool)) (int, bool) {
	p.weighOnce.Do(func() { p.weight, p.weighed = weigh() })
	return p.weight, p.weighed
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

// ArgsVary reports whether a field's arguments name a variable.
func ArgsVary(f *ast.Field) bool {
	for _, a := range f.Arguments {
		if hasVariable(a.Value) {
			return true
		}
	}
	return false
}
