package resolvers

import (
	"encoding/json"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
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
		t.POST.Do(w, r, exec)
		return
	}
	// perRequest decoded the envelope (and left the body for gqlgen's
	// transport, which takes over wherever this one gives up).
	st := stateOf(r.Context())
	env := st.env
	start := graphql.Now()
	params := &graphql.RawParams{}
	if env == nil {
		t.POST.Do(w, r, exec)
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
	direct := &st.ownDirect
	st.direct = direct
	responses, ctx := exec.DispatchOperation(ctx, oc)
	resp := responses(ctx)
	w.Header()["Content-Type"] = jsonContentType // shared, never written in place
	if direct.data != nil && len(resp.Errors) == 0 && len(resp.Extensions) == 0 && resp.HasNext == nil &&
		len(resp.Data) == len(direct.data) && len(resp.Data) > 0 && &resp.Data[0] == &direct.data[0] {
		_, _ = w.Write(dataOpen)
		_, _ = w.Write(resp.Data)
		_, _ = w.Write(dataClose)
		recycle(direct.data)
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
	t.GET.Do(&notAcceptable{ResponseWriter: w}, r, exec)
}

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
