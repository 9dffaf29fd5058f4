package resolvers

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/maypok86/otter/v2"
	"github.com/residentportal/bff/graph/model"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// Bounds are the limits an operation's text is held to before gqlgen
// validates it. gqlparser's validation is quadratic in the fields of a
// selection set and, like gqlgen's complexity walk, expands every fragment
// spread again wherever it is used (exponential in nested spreads); these
// bounds are checked in one pass that visits each fragment once, so an
// operation that would be expensive to validate is refused for the price of
// parsing it. Depth, Fields, Aliases and RootFields count with fragments
// expanded.
type Bounds struct {
	// Tokens caps the lexical tokens of a document (gqlparser stops there).
	Tokens int
	// Depth caps the nesting of selection sets.
	Depth int
	// Fields caps the field selections (__typename included).
	Fields int
	// Aliases caps the fields selected under another name.
	Aliases int
	// RootFields caps the fields of an operation's root selection.
	RootFields int
}

// DefaultBounds admit the contract's manager query and GraphiQL's
// introspection query (depth 13, 208 fields) with room to spare; 500
// fields in one selection set, the worst an operation can be made to
// validate, cost about 12 ms of CPU uncached (BENCHMARKS.md, "Hostile
// input").
var DefaultBounds = Bounds{Tokens: 5000, Depth: 15, Fields: 500, Aliases: 30, RootFields: 20}

// operationBounds is the first operation-parameter mutator: it checks a
// query text that is not in the parsed-query cache against the bounds
// before the persisted-query cache stores it and before gqlgen validates it
// (a cached document passed them already: the hot path pays one cache
// lookup). It wraps automatic persisted queries so that their errors carry a
// code, and so that a query is bounded before it is remembered by hash.
type operationBounds struct {
	bounds Bounds
	parsed graphql.Cache[*ast.QueryDocument]
	apq    extension.AutomaticPersistedQuery
	// admit, when set, is asked before a document is parsed and
	// validated (the client's rate-limit bucket pays for it).
	admit func(context.Context) error
	// trusted resolves document ids to manifest documents, and in
	// enforce mode refuses everything else (nil: off).
	trusted *TrustedDocuments
}

func (operationBounds) ExtensionName() string                   { return "OperationBounds" }
func (operationBounds) Validate(graphql.ExecutableSchema) error { return nil }

func (o operationBounds) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if err := o.trusted.resolve(p); err != nil {
		return err
	}
	if p.Query != "" {
		if err := o.check(ctx, p.Query); err != nil {
			return err
		}
	}
	sent := p.Query != ""
	if err := o.apq.MutateOperationParameters(ctx, p); err != nil {
		if err.Extensions["code"] == nil {
			errcode.Set(err, errcode.ValidationFailed) // a malformed extension or a hash that does not match
		}
		return err
	}
	if !sent && p.Query != "" {
		return o.check(ctx, p.Query) // stored by hash: bounded then, but maybe no longer parsed
	}
	return nil
}

// check parses query (gqlparser's token limit) and measures it, unless the
// parsed-query cache holds it. A document that does not parse is left to
// gqlgen, which parses it again under the same token limit and reports the
// error its way.
func (o operationBounds) check(ctx context.Context, query string) *gqlerror.Error {
	if _, ok := o.parsed.Get(ctx, query); ok {
		return nil
	}
	if o.admit != nil {
		if err := o.admit(ctx); err != nil {
			hint(ctx, model.ErrorCode(err))
			gerr := gqlerror.Errorf("%s", model.ErrorMessage(err))
			errcode.Set(gerr, string(model.ErrorCode(err)))
			return gerr
		}
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, o.bounds.Tokens)
	if err != nil {
		return nil
	}
	return o.bounds.measure(doc)
}

// boundsError is the 422 an operation over a bound gets.
func boundsError(format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	errcode.Set(err, "COMPLEXITY_LIMIT_EXCEEDED")
	return err
}

// size is what a selection set amounts to with its fragments expanded; the
// counts saturate at bigCount, so no document overflows them.
type size struct{ fields, aliases, depth, top int }

const bigCount = 1 << 40

// add adds what o holds below it; top, the fields of the level itself, is
// counted by the caller.
func (s *size) add(o size) {
	s.fields = min(s.fields+o.fields, bigCount)
	s.aliases = min(s.aliases+o.aliases, bigCount)
	s.depth = max(s.depth, o.depth)
}

// measure checks every operation of doc. Each fragment is measured once
// (memoised), so the walk is linear in the document however its spreads
// nest; a fragment that spreads itself is refused here (validation would
// report it, but only after expanding it).
func (b Bounds) measure(doc *ast.QueryDocument) *gqlerror.Error {
	m := measurer{doc: doc, memo: map[string]size{}, active: map[string]bool{}}
	for _, op := range doc.Operations {
		s := m.set(op.SelectionSet)
		if m.err != nil {
			return m.err
		}
		switch {
		case s.depth > b.Depth:
			return boundsError("the operation nests %d levels deep; at most %d are allowed", s.depth, b.Depth)
		case s.fields > b.Fields:
			return boundsError("the operation selects %s fields with its fragments expanded; at most %d are allowed", count(s.fields), b.Fields)
		case s.aliases > b.Aliases:
			return boundsError("the operation uses %s aliases with its fragments expanded; at most %d are allowed", count(s.aliases), b.Aliases)
		case s.top > b.RootFields:
			return boundsError("the operation selects %s root fields; at most %d are allowed", count(s.top), b.RootFields)
		}
	}
	return nil
}

func count(n int) string {
	if n >= bigCount {
		return "more than 10^12"
	}
	return fmt.Sprint(n)
}

type measurer struct {
	doc    *ast.QueryDocument
	memo   map[string]size
	active map[string]bool
	err    *gqlerror.Error
}

// set measures a selection set: its fields, their aliases, its depth (a
// field with a selection set adds one level) and the fields of its own
// level.
func (m *measurer) set(sel ast.SelectionSet) size {
	var s size
	for _, x := range sel {
		var part size
		switch x := x.(type) {
		case *ast.Field:
			part = size{fields: 1, top: 1}
			if x.Alias != "" && x.Alias != x.Name {
				part.aliases = 1
			}
			if len(x.SelectionSet) > 0 {
				below := m.set(x.SelectionSet)
				below.depth++
				part.add(below)
			}
		case *ast.InlineFragment:
			part = m.set(x.SelectionSet)
		case *ast.FragmentSpread:
			part = m.fragment(x.Name)
		}
		s.add(part)
		s.top = min(s.top+part.top, bigCount)
	}
	return s
}

func (m *measurer) fragment(name string) size {
	if s, ok := m.memo[name]; ok {
		return s
	}
	def := m.doc.Fragments.ForName(name)
	if def == nil {
		return size{} // unknown: validation reports it
	}
	if m.active[name] {
		if m.err == nil {
			m.err = gqlerror.Errorf("cannot spread fragment %q within itself", name)
			errcode.Set(m.err, errcode.ValidationFailed)
		}
		return size{}
	}
	m.active[name] = true
	s := m.set(def.SelectionSet)
	m.active[name] = false
	m.memo[name] = s
	return s
}

// Parsed-query and persisted-query caches are bounded by the bytes they
// hold, not by entries: a document's parse is held to cost about
// parsedBytesPerByte times its text (measured: ≈ 16 for a document of
// repeated fields, the worst case).
const parsedBytesPerByte = 24

// byteCache is a gqlgen cache bounded by the approximate bytes it holds.
type byteCache[V any] struct{ c *otter.Cache[string, V] }

func newByteCache[V any](maxBytes int, weigh func(key string, v V) uint32) byteCache[V] {
	return byteCache[V]{otter.Must(&otter.Options[string, V]{MaximumWeight: uint64(maxBytes), Weigher: weigh})}
}

func (c byteCache[V]) Get(_ context.Context, key string) (V, bool) { return c.c.GetIfPresent(key) }
func (c byteCache[V]) Add(_ context.Context, key string, v V)      { c.c.Set(key, v) }

func weighParsed(query string, _ *ast.QueryDocument) uint32 {
	return uint32(min(len(query)*parsedBytesPerByte+512, 1<<31))
}

func weighText(hash, query string) uint32 { return uint32(min(len(hash)+len(query)+64, 1<<31)) }
