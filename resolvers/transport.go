package resolvers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/fastpath"
)

// postTransport is gqlgen's POST transport, except for one thing: a
// response the direct executor wrote, and that nothing after it touched, is
// sent as it is. gqlgen sends every response through json.Marshal, which
// scans the data again byte by byte to compact it and escape <, >, & and
// U+2028/9 for HTML; the direct executor writes it compact and escaped
// already, so the bytes are the same (TestDirectExecutorMatchesGqlgen) for
// a fraction of the work. Everything else — requests asking for another
// media type, bodies or operations that fail, responses with errors — is
// gqlgen's POST.Do from the start.
type postTransport struct{ transport.POST }

// The response around the direct executor's data (byte slices: the
// writers in between have no WriteString, and io.WriteString would copy).
var dataOpen, dataClose = []byte(`{"data":`), []byte("}")

var jsonContentType = []string{"application/json"}

// directData is where the direct executor leaves the data it wrote.
type directData struct{ data []byte }

func (t postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	switch r.Header.Get("Accept") {
	case "", "*/*", "application/json":
	default:
		t.POST.Do(&endedWriter{ResponseWriter: w, ctx: r.Context()}, r, exec)
		return
	}
	// perRequest decoded the envelope (and left the body for gqlgen's
	// transport, which takes over wherever this one gives up).
	st := stateOf(r.Context())
	env := st.env
	start := graphql.Now()
	params := &graphql.RawParams{}
	if env == nil {
		t.POST.Do(&endedWriter{ResponseWriter: w, ctx: r.Context()}, r, exec)
		return
	}
	env.params(params)
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	ctx := r.Context()
	oc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		// Answered as gqlgen's POST answers them (not by running it, which
		// would parse, validate and charge the operation a second time).
		w.Header().Set("Content-Type", "application/json")
		status := http.StatusOK
		if errcode.GetErrorKind(errs) == errcode.KindProtocol {
			status = http.StatusUnprocessableEntity
		}
		w.WriteHeader(status)
		b, err := json.Marshal(exec.DispatchError(graphql.WithOperationContext(ctx, oc), errs))
		if err != nil {
			panic(err)
		}
		_, _ = w.Write(b)
		return
	}
	direct := st.direct // perRequest's, for a POST
	if direct == nil {
		direct = &directData{}
		st.direct = direct
	}
	responses, ctx := exec.DispatchOperation(ctx, oc)
	resp := responses(ctx)
	if resp == nil {
		writeEnded(w, r.Context())
		return
	}
	w.Header()["Content-Type"] = jsonContentType // shared, never written in place
	if direct.data != nil && len(resp.Errors) == 0 && len(resp.Extensions) == 0 && resp.HasNext == nil &&
		len(resp.Data) == len(direct.data) && len(resp.Data) > 0 && &resp.Data[0] == &direct.data[0] {
		_, _ = w.Write(dataOpen)
		_, _ = w.Write(resp.Data)
		_, _ = w.Write(dataClose)
		fastpath.Recycle(direct.data)
		return
	}
	b, err := json.Marshal(resp)
	if err != nil {
		panic(err) // as gqlgen's transport does: a marshaler wrote invalid JSON
	}
	_, _ = w.Write(b)
}

// getTransport is gqlgen's GET transport whose one refusal of its own —
// a mutation over GET, 406 — carries a code like every other GraphQL
// error (gqlgen writes it without one). The answer is 405 with Allow: the
// operation needs POST.
type getTransport struct{ transport.GET }

func (t getTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	t.GET.Do(&notAcceptable{ResponseWriter: &endedWriter{ResponseWriter: w, ctx: r.Context()}}, r, exec)
}

// statusClientClosed is the status of a request whose client went away
// before its answer (nginx's 499).
const statusClientClosed = 499

// The executor answers nothing (a nil response) once the request's
// context has ended, and gqlgen's transports write that as the body null.
// writeEnded answers it instead: 499 to a client that went away, and
// to a request whose deadline passed or whose server is stopping, 503 with
// UNAVAILABLE, as the fast path answers a late request.
func writeEnded(w http.ResponseWriter, ctx context.Context) {
	if errors.Is(ctx.Err(), context.Canceled) && errors.Is(context.Cause(ctx), context.Canceled) {
		// The client went away: no one reads the answer, but the access
		// log and the metrics tell it from a server error (499, as proxies
		// log a closed request).
		WriteGraphQLError(w, statusClientClosed, string(model.CodeUnavailable), "the client closed the request")
		return
	}
	WriteGraphQLError(w, http.StatusServiceUnavailable, string(model.CodeUnavailable), fastpath.LateMessage)
}

// endedWriter is writeEnded for gqlgen's own transports: the body null
// (a nil response) becomes writeEnded's answer.
type endedWriter struct {
	http.ResponseWriter
	ctx context.Context
}

func (e *endedWriter) Write(b []byte) (int, error) {
	if e.ctx.Err() != nil && string(b) == "null" {
		writeEnded(e.ResponseWriter, e.ctx)
		return len(b), nil
	}
	return e.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (e *endedWriter) Unwrap() http.ResponseWriter { return e.ResponseWriter }

// notAcceptable turns gqlgen's 406 into a coded 405 and drops its body.
type notAcceptable struct {
	http.ResponseWriter
	replaced bool
}

func (n *notAcceptable) WriteHeader(code int) {
	if code != http.StatusNotAcceptable {
		n.ResponseWriter.WriteHeader(code)
		return
	}
	n.replaced = true
	n.Header().Set("Allow", "POST")
	WriteGraphQLError(n.ResponseWriter, http.StatusMethodNotAllowed, "BAD_REQUEST", "GET runs queries only: send mutations with POST")
}

func (n *notAcceptable) Write(b []byte) (int, error) {
	if n.replaced {
		return len(b), nil
	}
	return n.ResponseWriter.Write(b)
}
