package fastpath

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/residentportal/bff/graph"
	"github.com/residentportal/bff/resolvers/loaders"
	"github.com/residentportal/bff/resolvers/service"
	"github.com/vektah/gqlparser/v2"
)

// panickingRead is a read for the direct executor that panics as soon as it
// checks its credential (one without an authenticator), and the schema to
// run it on, whose log is logs.
func panickingRead(t *testing.T) (schema, *strings.Builder, *graphql.OperationContext, context.Context) {
	t.Helper()
	logs := &strings.Builder{}
	l := loaders.New(&loaders.Batches{})
	s := New(nil, &service.Service{}, Options{Log: slog.New(slog.NewJSONHandler(logs, nil)),
		RequestID: func(context.Context) string { return "req-1" },
		Loaders:   func(context.Context) *loaders.Set { return l }}).(schema)
	es := graph.NewExecutableSchema(graph.Config{}).Schema()
	doc, errs := gqlparser.LoadQuery(es, `{ unit(propertyId: "00000000-0000-0000-0000-000000000001") { id } }`)
	if errs != nil {
		t.Fatal(errs)
	}
	oc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0], Variables: map[string]any{}}
	ctx := graphql.WithOperationContext(context.Background(), oc)
	return s, logs, oc, (*service.Authenticator)(nil).WithCredential(ctx, "a token", false)
}

// A panic in the direct executor is logged with the request id and the
// operation handed to gqlgen (run reports it did not answer).
func TestDirectExecutorLogsItsPanics(t *testing.T) {
	s, logs, oc, ctx := panickingRead(t)
	if _, err := s.run(ctx, oc); err != errNotDirect {
		t.Fatal("the direct executor answered")
	}
	for _, want := range []string{`"msg":"panic in the direct executor; the operation runs on gqlgen's"`, `"request_id":"req-1"`, `"stack":"goroutine`} {
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("log lacks %s:\n%s", want, logs.String())
		}
	}
}

// With every slot taken, a read waits for one and, past its deadline,
// ends with the deadline's error without fetching anything; once a slot is
// free it runs.
func TestDirectExecutorWaitsForASlot(t *testing.T) {
	s, logs, oc, base := panickingRead(t)
	s.slots = make(chan struct{}, 1)

	s.slots <- struct{}{} // the one slot is taken
	ctx, cancel := context.WithTimeout(base, 50*time.Millisecond)
	defer cancel()
	if _, err := s.run(ctx, oc); err != errLate {
		t.Fatalf("with no slot free: %v, want the deadline's error", err)
	}
	if logs.Len() != 0 {
		t.Fatalf("the read went on without a slot:\n%s", logs.String())
	}
	<-s.slots // freed
	if _, err := s.run(base, oc); err != errNotDirect || !strings.Contains(logs.String(), "panic in the direct executor") {
		t.Fatalf("with a slot free the read did not run: %v\n%s", err, logs.String())
	}
	if len(s.slots) != 0 {
		t.Fatal("the read kept its slot")
	}
}
