package resolvers

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/residentportal/bff/graph"
	"github.com/vektah/gqlparser/v2"
)

// A panic in the direct executor is logged with the request id and the
// operation handed to gqlgen (run reports it did not answer).
func TestDirectExecutorLogsItsPanics(t *testing.T) {
	var logs strings.Builder
	s := directSchema{svc: &Service{},
		opts: GraphQLOptions{Log: slog.New(slog.NewJSONHandler(&logs, nil)), RequestID: func(context.Context) string { return "req-1" }}}
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &Resolver{}}).Schema()
	doc, errs := gqlparser.LoadQuery(schema, `{ unit(propertyId: "00000000-0000-0000-0000-000000000001") { id } }`)
	if errs != nil {
		t.Fatal(errs)
	}
	oc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0], Variables: map[string]any{}}
	ctx := graphql.WithOperationContext(context.WithValue(context.Background(), loadersKey{}, newLoaders(&batches{})), oc)
	// A credential without an authenticator: checking it panics.
	ctx = (*Authenticator)(nil).WithCredential(ctx, "a token", false)
	if _, err := s.run(ctx, oc); err != errNotDirect {
		t.Fatal("the direct executor answered")
	}
	for _, want := range []string{`"msg":"panic in the direct executor; the operation runs on gqlgen's"`, `"request_id":"req-1"`, `"stack":"goroutine`} {
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("log lacks %s:\n%s", want, logs.String())
		}
	}
}
