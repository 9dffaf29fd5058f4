package resolvers

import (
	"context"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/residentportal/bff/graph/model"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// RateLimiter charges GraphQL operations to the per-property limiter that
// REST shares (rest/ratelimit.Guard is the one): the GraphQL endpoint
// tells it what an operation calls, and it knows nothing of GraphQL.
type RateLimiter interface {
	// ChargeGraphQL charges an operation's calls, writing the rate-limit
	// headers into header, and returns why it refused ("" when it did
	// not).
	ChargeGraphQL(ctx context.Context, header http.Header, calls []model.Call) string
	// AdmitParse charges the client for a document the server has not
	// parsed before (see operationBounds). RATE_LIMITED.
	AdmitParse(ctx context.Context, header http.Header) error
}

// rateCharge is the operation interceptor that charges an operation, once
// it is parsed and validated: one call per root field it selects (aliases
// and fragments expanded) to the property each acts on. A WebSocket
// connection's subscribe messages spend the connection's own budget (see
// OnLiveConnection), not the property's.
type rateCharge struct{ limiter RateLimiter }

func (rateCharge) ExtensionName() string                   { return "PropertyRateLimit" }
func (rateCharge) Validate(graphql.ExecutableSchema) error { return nil }

func (q rateCharge) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil {
		return next(ctx)
	}
	root := "Query"
	switch oc.Operation.Operation {
	case ast.Mutation:
		root = "Mutation"
	case ast.Subscription:
		if OnLiveConnection(ctx) {
			return next(ctx)
		}
		root = "Subscription" // subscribing costs one call per root field; events cost nothing
	}
	fields := RootFields(ctx, oc, root)
	calls := make([]model.Call, len(fields))
	for i, f := range fields {
		property, _ := argument(f, "propertyId", oc.Variables).(string)
		calls[i] = model.Call{Property: property, Public: publicFields[f.Name], Login: f.Name == "login"}
	}
	header := ResponseHeader(ctx)
	if header == nil {
		header = http.Header{}
	}
	if msg := q.limiter.ChargeGraphQL(ctx, header, calls); msg != "" {
		hint(ctx, model.CodeRateLimited)
		err := &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": string(model.CodeRateLimited)}}
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{err}})
	}
	return next(ctx)
}

// publicFields are the root fields that need no credential; they are
// charged as calls without a recognised credential, like public routes.
var publicFields = map[string]bool{"portalAccess": true, "uiConfiguration": true, "login": true}

// argument is f's argument name as f.ArgumentMap(vars)[name] has it —
// its value, else its default; nil for an argument f's field does not
// define — without building the map.
func argument(f graphql.CollectedField, name string, vars map[string]any) any {
	if f.Definition == nil {
		return nil
	}
	def := f.Definition.Arguments.ForName(name)
	if def == nil {
		return nil
	}
	if a := f.Arguments.ForName(name); a != nil {
		if a.Value.Kind != ast.Variable {
			v, _ := a.Value.Value(vars)
			return v
		}
		if v, ok := vars[a.Value.Raw]; ok {
			return v
		}
	}
	if def.DefaultValue != nil {
		v, _ := def.DefaultValue.Value(vars)
		return v
	}
	return nil
}
