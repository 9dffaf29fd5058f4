package resolvers

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/graph"
	"github.com/residentportal/bff/resolvers/service"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// panickingRead is a read for the direct executor that panics as soon as it
// checks its credential (one without an authenticator), and the schema to
// run it on, whose log is logs.
func panickingRead(t *testing.T) (directSchema, *strings.Builder, *graphql.OperationContext, context.Context) {
	t.Helper()
	logs := &strings.Builder{}
	s := directSchema{svc: &service.Service{},
		opts: GraphQLOptions{Log: slog.New(slog.NewJSONHandler(logs, nil)), RequestID: func(context.Context) string { return "req-1" }}}
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &Resolver{}}).Schema()
	doc, errs := gqlparser.LoadQuery(schema, `{ unit(propertyId: "00000000-0000-0000-0000-000000000001") { id } }`)
	if errs != nil {
		t.Fatal(errs)
	}
	oc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0], Variables: map[string]any{}}
	ctx := graphql.WithOperationContext(withState(context.Background(), &httpState{loaders: newLoaders(&batches{})}), oc)
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

// handOver is an executor whose every operation answers data; with own, it
// is the direct executor and leaves the bytes it wrote for the transport.
type handOver struct {
	data []byte
	own  bool
}

func (h handOver) CreateOperationContext(context.Context, *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	return &graphql.OperationContext{}, nil
}

func (h handOver) DispatchOperation(ctx context.Context, _ *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	if d := stateOf(ctx).direct; h.own && d != nil {
		d.data = h.data
	}
	return graphql.OneShot(&graphql.Response{Data: h.data}), ctx
}

func (h handOver) DispatchError(context.Context, gqlerror.List) *graphql.Response { return nil }

// The POST transport sends the direct executor's bytes as they are, and
// anything else through json.Marshal (which compacts).
func TestPostSendsDirectBytes(t *testing.T) {
	for _, tt := range []struct {
		own  bool
		want string
	}{{true, `{"data":{"a": 1}}`}, {false, `{"data":{"a":1}}`}} {
		h := perRequest((*db.DB)(nil), nil, nil, 1<<10, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			postTransport{}.Do(w, r, handOver{data: []byte(`{"a": 1}`), own: tt.own})
		}))
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ a }"}`))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
		if got := rec.Body.String(); rec.Code != http.StatusOK || got != tt.want {
			t.Errorf("direct=%v: %d %s, want %s", tt.own, rec.Code, got, tt.want)
		}
	}
}
