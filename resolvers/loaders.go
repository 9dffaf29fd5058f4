package resolvers

import (
	"context"

	"github.com/residentportal/bff/resolvers/loaders"
)

// loadersFrom is the loaders of the operation ctx belongs to: the
// request's, or the subscription event's being rendered.
func loadersFrom(ctx context.Context) *loaders.Set {
	if ev, ok := ctx.Value(eventLoadersKey{}).(*eventLoaders); ok {
		return ev.current
	}
	l := stateOf(ctx).loaders
	if l == nil {
		panic("resolvers: no dataloaders in the request context")
	}
	return l
}

// eventLoaders is the loaders slot of one subscription: the response
// interceptor puts fresh loaders in it before each event is resolved
// (gqlgen resolves a subscription's events one after the other).
type eventLoaders struct {
	batches *loaders.Batches
	current *loaders.Set
}

type eventLoadersKey struct{}
