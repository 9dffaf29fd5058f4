package loaders

import (
	"context"

	"github.com/graph-gophers/dataloader/v7"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// TracerName names the loaders' spans (the GraphQL layer's).
const TracerName = "github.com/residentportal/bff/resolvers"

// traced wraps a loader's batch function in a span (inside a recorded
// trace only): one batch, one span, its statements below it.
func traced[K comparable, V any](name string, fn dataloader.BatchFunc[K, V]) dataloader.BatchFunc[K, V] {
	return func(ctx context.Context, keys []K) []*dataloader.Result[V] {
		parent := trace.SpanFromContext(ctx)
		if !parent.IsRecording() {
			return fn(ctx, keys)
		}
		ctx, span := parent.TracerProvider().Tracer(TracerName).Start(ctx, "dataloader "+name,
			trace.WithAttributes(attribute.Int("dataloader.keys", len(keys))))
		defer span.End()
		return fn(ctx, keys)
	}
}
