package resolvers

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/residentportal/bff/db"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

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

// A stream's session ends it from its own goroutine (a revoked credential,
// a subscription the server ends) and may do so just as the handler
// returns: the last event is then dropped, not written to a ResponseWriter
// net/http has taken back (where a Flush panics).
func TestStreamEndAfterHandlerReturned(t *testing.T) {
	got := make(chan *lockedWriter, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lw := &lockedWriter{w: w, rc: http.NewResponseController(w)}
		defer lw.close()
		_, _ = lw.Write([]byte("event: next\ndata: {}\n\n"))
		got <- lw
	}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	lw := <-got
	lw.last([]byte("event: next\ndata: late\n\n")) // panicked in net/http before close
	if _, err := lw.Write([]byte("x")); err == nil {
		t.Error("a write after the handler returned succeeded")
	}
	if strings.Contains(string(body), "late") {
		t.Errorf("body %q holds the late event", body)
	}
}
