package resolvers

import (
	"context"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/loaders"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// TracerName names the spans of the GraphQL layer.
const TracerName = loaders.TracerName

// maxSpanOperationName bounds the operation name a span carries (names are
// ASCII identifiers, so cutting by bytes keeps valid text).
const maxSpanOperationName = 100

// operationTracing names the request's span after the GraphQL operation
// ("query MyUnit"), adds the parse and validate steps (timed by gqlgen) and
// an execute span that the loader batches and SQL statements of the
// operation sit below. Only inside a recorded trace; the document and the
// variables are never recorded (they can hold passphrases).
type operationTracing struct{}

func (operationTracing) ExtensionName() string                   { return "OperationTracing" }
func (operationTracing) Validate(graphql.ExecutableSchema) error { return nil }

func (operationTracing) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	parent := trace.SpanFromContext(ctx)
	oc := graphql.GetOperationContext(ctx)
	if !parent.IsRecording() || oc == nil || oc.Operation == nil {
		return next(ctx)
	}
	typ, name := string(oc.Operation.Operation), oc.Operation.Name
	if len(name) > maxSpanOperationName { // the client names it: a span name stays short
		name = name[:maxSpanOperationName] + "…"
	}
	title := strings.TrimSpace(typ + " " + name)
	parent.SetName(title) // the edge would name it after the route
	if info := model.RequestInfoFrom(ctx); info != nil {
		info.SpanNamed = true
	}
	attrs := trace.WithAttributes(attribute.String("graphql.operation.type", typ), attribute.String("graphql.operation.name", name))
	// Parsing and validation are attributes of the execution, not spans
	// of their own: near zero for a cached document, two spans a request.
	var times []attribute.KeyValue
	for _, step := range []struct {
		key    string
		timing graphql.TraceTiming
	}{{"graphql.parse.duration_us", oc.Stats.Parsing}, {"graphql.validate.duration_us", oc.Stats.Validation}} {
		if !step.timing.Start.IsZero() && !step.timing.End.IsZero() {
			times = append(times, attribute.Int64(step.key, step.timing.End.Sub(step.timing.Start).Microseconds()))
		}
	}
	tracer := parent.TracerProvider().Tracer(TracerName)
	if oc.Operation.Operation == ast.Subscription {
		return next(ctx) // a stream: its events are not one operation's work
	}
	ctx, span := tracer.Start(ctx, "graphql.execute "+title, attrs, trace.WithAttributes(times...))
	h := next(ctx)
	var end sync.Once
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		end.Do(func() {
			if resp != nil && len(resp.Errors) > 0 {
				span.SetStatus(codes.Error, "the operation answered errors")
			}
			span.End()
		})
		return resp
	}
}
