package resolvers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"mime"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	gqlcomplexity "github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/google/uuid"
	"github.com/residentportal/bff/graph"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/fastpath"
	"github.com/residentportal/bff/resolvers/loaders"
	"github.com/residentportal/bff/resolvers/plan"
	"github.com/residentportal/bff/resolvers/service"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// GraphQLOptions configure the GraphQL endpoint.
type GraphQLOptions struct {
	Log *slog.Logger
	// Introspection turns schema introspection on.
	Introspection bool
	// ComplexityLimit caps an operation's weighted complexity.
	ComplexityLimit int
	// Bounds hold an operation's text before it is validated (zero:
	// DefaultBounds).
	Bounds Bounds
	// RateLimiter, when set, charges every operation once it is parsed and
	// validated, and the client for every document not in the
	// parsed-query cache before it is parsed (one address cannot make the
	// server parse and validate new documents faster than its budget).
	RateLimiter RateLimiter
	// Streams, when it ends, ends every subscription stream (WebSocket and
	// SSE): the server is shutting down (nil: never).
	Streams context.Context
	// MaxStreamsPerClient bounds the WebSocket connections and SSE streams
	// open per client address (zero: DefaultMaxStreamsPerClient), and
	// MaxSubscriptionsPerConnection the subscriptions one WebSocket
	// connection runs (zero: DefaultMaxSubscriptionsPerConnection).
	MaxStreamsPerClient, MaxSubscriptionsPerConnection int
	// MaxObjects bounds the objects an operation may materialise on the
	// direct executor (zero: DefaultMaxObjects).
	MaxObjects int
	// MaxExecutions bounds the reads the direct executor runs at once;
	// the others wait for a slot (until their deadline) before they fetch
	// anything (zero: no bound). See directSchema.run.
	MaxExecutions int
	// QueryCacheBytes bounds the parsed-query cache, and the persisted-query
	// cache a quarter of it (zero: DefaultQueryCacheBytes).
	QueryCacheBytes int
	// MaxBodyBytes caps a request body (413 past it).
	MaxBodyBytes int64
	// RequestID returns the id of the request ctx belongs to (for logs).
	RequestID func(context.Context) string
	// Interceptors run around every operation after it is parsed and
	// validated (the rate limiter charges there).
	Interceptors []graphql.HandlerExtension
	// TrustedDocuments are the documents run by id (SPEC §8.3) and the
	// mode: in enforce mode nothing else runs (nil: off).
	TrustedDocuments *TrustedDocuments
	// Traced adds the operation's spans (parse, validate, execute) to the
	// request's trace; off, the GraphQL layer does no tracing work.
	Traced bool
	// GqlgenOnly runs every operation on gqlgen's executor, none on the
	// direct one (see direct.go); tests compare the two with it.
	GqlgenOnly bool
	// Executed, when set, is told which executor ran each operation:
	// "direct" or "gqlgen" (portald counts them in a metric).
	Executed func(executor string)
	// FellBack, when set, is told the field ("Type.field") for which the
	// direct executor handed a query to gqlgen's (portald counts them by
	// field: a bounded set, the schema's).
	FellBack func(field string)
}

// Assumed sizes of lists without a page size, for complexity.
const assumedDevicesPerList = 10

// Default stream bounds: a resident's page holds one connection with a few
// subscriptions; a building behind one address has a few dozen residents.
const (
	DefaultMaxStreamsPerClient           = 64
	DefaultMaxSubscriptionsPerConnection = 16
)

// DefaultQueryCacheBytes bounds the parsed-query cache by default.
const DefaultQueryCacheBytes = 32 << 20

// Complexity weighs list fields by their page size, so that a nested query
// costs what it may return. The weights saturate (gqlgen adds them with a
// saturating sum), so no nesting can wrap a product past the limit.
func complexity() graph.ComplexityRoot {
	var c graph.ComplexityRoot
	page := func(first *int) int {
		if first == nil || *first < 1 {
			return service.DefaultPageSize
		}
		return min(*first, service.MaxPageSize)
	}
	c.Property.Units = func(child int, first *int, _ *string) int { return weigh(page(first), child) }
	c.Unit.Users = func(child int, first *int, _ *string) int { return weigh(page(first), child) }
	c.Query.UnitUsers = func(child int, _ uuid.UUID, _ *uuid.UUID, first *int, _ *string, _ *model.UnitUserOrder, _ *model.UnitUserFilter) int {
		return weigh(page(first), child)
	}
	c.Unit.Devices = func(child int, _ *model.UnitUserType) int { return weigh(assumedDevicesPerList, child) }
	c.UnitUser.Devices = func(child int) int { return weigh(assumedDevicesPerList, child) }
	c.Query.UnitDevices = func(child int, _ uuid.UUID, _ model.UnitUserType, _ *uuid.UUID) int {
		return weigh(assumedDevicesPerList, child)
	}
	return c
}

// weigh is the weight of a list of n elements whose fields weigh child:
// each element counts one (an object returned) plus its fields, the list
// itself one; saturating at math.MaxInt (n and child are never negative).
// Scalar fields weigh nothing (WithFixedScalarValue(0)), so the weight
// counts the objects an operation may return, whatever fields it selects.
func weigh(n, child int) int {
	per := child + 1
	if child >= math.MaxInt-1 || n > (math.MaxInt-1)/per {
		return math.MaxInt
	}
	return 1 + n*per
}

var registerCodes sync.Once

// NewGraphQLHandler returns the GraphQL endpoint (POST and GET) over svc:
// a parsed-query cache, automatic persisted queries, the complexity limit,
// introspection as configured, per-request dataloaders, an error presenter
// that maps domain codes to extensions.code and hides internal errors, and
// panic recovery that logs with the request id.
func NewGraphQLHandler(svc *service.Service, opts GraphQLOptions) http.Handler {
	registerCodes.Do(func() {
		errcode.RegisterErrorType("COMPLEXITY_LIMIT_EXCEEDED", errcode.KindProtocol)
		errcode.RegisterErrorType(CodeNotInList, errcode.KindProtocol)
	})
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.RequestID == nil {
		opts.RequestID = func(context.Context) string { return "" }
	}
	if opts.Bounds == (Bounds{}) {
		opts.Bounds = DefaultBounds
	}
	if opts.MaxStreamsPerClient <= 0 {
		opts.MaxStreamsPerClient = DefaultMaxStreamsPerClient
	}
	if opts.MaxSubscriptionsPerConnection <= 0 {
		opts.MaxSubscriptionsPerConnection = DefaultMaxSubscriptionsPerConnection
	}
	if opts.QueryCacheBytes <= 0 {
		opts.QueryCacheBytes = DefaultQueryCacheBytes
	}
	cfg := graph.Config{Resolvers: NewResolver(svc), Complexity: complexity()}
	schema := graph.NewExecutableSchema(cfg)
	plans := newPlans(opts.QueryCacheBytes / 4)
	if !opts.GqlgenOnly {
		schema = fastpath.New(schema, svc, fastpath.Options{Log: opts.Log, RequestID: opts.RequestID,
			MaxObjects: opts.MaxObjects, MaxExecutions: opts.MaxExecutions, Executed: opts.Executed, FellBack: opts.FellBack,
			Loaders: func(ctx context.Context) *loaders.Set { return stateOf(ctx).loaders },
			Plan:    planOf,
			Wrote: func(ctx context.Context, data []byte) {
				if d := stateOf(ctx).direct; d != nil {
					d.data = data
				}
			},
			Hint:    hint,
			IsEvent: renderingEvent,
		})
	}
	srv := handler.New(schema)
	if opts.Streams == nil {
		opts.Streams = context.Background()
	}
	srv.AddTransport(sseTransport{svc: svc, streams: opts.Streams})
	srv.AddTransport(wsTransport{svc: svc, batches: loaders.NewBatches(svc.Store()), plans: plans, streams: opts.Streams,
		maxSubs: opts.MaxSubscriptionsPerConnection, log: opts.Log, poll: &poller{}})
	srv.AddTransport(getTransport{})
	srv.AddTransport(postTransport{})
	parsed := newByteCache(opts.QueryCacheBytes, weighParsed)
	srv.SetQueryCache(parsed)
	srv.SetParserTokenLimit(opts.Bounds.Tokens)
	var admit func(context.Context) error
	if rl := opts.RateLimiter; rl != nil {
		admit = func(ctx context.Context) error {
			header := ResponseHeader(ctx)
			if header == nil {
				header = http.Header{}
			}
			return rl.AdmitParse(ctx, header)
		}
	}
	srv.Use(operationBounds{bounds: opts.Bounds, parsed: parsed, admit: admit, trusted: opts.TrustedDocuments,
		apq: extension.AutomaticPersistedQuery{Cache: newByteCache(opts.QueryCacheBytes/4, weighText)}})
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(introspectionOff{})
		srv.SetDisableSuggestion(true) // "Did you mean …?" would describe the schema
	}
	srv.Use(&complexityLimit{limit: opts.ComplexityLimit, opts: []gqlcomplexity.Option{gqlcomplexity.WithFixedScalarValue(0)}})
	if opts.Traced {
		srv.Use(operationTracing{})
	}
	for _, ext := range opts.Interceptors {
		srv.Use(ext)
	}
	if opts.RateLimiter != nil {
		srv.Use(rateCharge{opts.RateLimiter})
	}
	// A subscription gets loaders of its own, made fresh before each event.
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if oc := graphql.GetOperationContext(ctx); oc.Operation != nil && oc.Operation.Operation == ast.Subscription {
			l := loadersFrom(ctx)
			ctx = context.WithValue(ctx, eventLoadersKey{}, &eventLoaders{batches: l.Batches(), current: l.Fresh()})
		}
		return next(ctx)
	})
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		if ev, ok := ctx.Value(eventLoadersKey{}).(*eventLoaders); ok {
			// Loaders of the event's own, let go once it is written: an
			// idle subscription holds none.
			ev.current = loaders.New(ev.batches)
			defer func() { ev.current = nil }()
		}
		return next(ctx)
	})
	srv.SetErrorPresenter(presenter(opts))
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		opts.Log.ErrorContext(ctx, "panic in a resolver", "request_id", opts.RequestID(ctx), "panic", fmt.Sprint(v),
			"stack", string(debug.Stack()))
		return &model.Error{Code: model.CodeInternal, Message: "internal error", Err: errRecovered}
	})
	gate := &streamGate{max: opts.MaxStreamsPerClient, open: map[string]int{}}
	return gate.wrap(perRequest(svc.Store(), svc.Authenticator(), plans, opts.MaxBodyBytes, srv))
}

// presenter maps every error to a client-safe message and extensions.code.
func presenter(opts GraphQLOptions) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		out := graphql.DefaultErrorPresenter(ctx, err)
		var de *model.Error
		var ge *gqlerror.Error
		switch {
		case errors.As(err, &de):
			out.Message = model.ErrorMessage(err)
			setCode(out, de.Code)
			if len(de.Fields) > 0 {
				out.Extensions["fields"] = de.Fields
			}
			if de.Code == model.CodeInternal {
				opts.Log.ErrorContext(ctx, "internal error", "request_id", opts.RequestID(ctx), "error", err.Error())
			}
			if h := ResponseHeader(ctx); h != nil && de.Code == model.CodeRateLimited && de.RetryAfter > 0 {
				h.Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(de.RetryAfter.Seconds())))))
			}
			hint(ctx, de.Code)
		case errors.As(err, &ge) && ge.Extensions["code"] != nil:
			// gqlgen's own: parse, validation, complexity, persisted query.
		default:
			opts.Log.ErrorContext(ctx, "internal error", "request_id", opts.RequestID(ctx), "error", err.Error())
			out.Message = "internal error"
			setCode(out, model.CodeInternal)
		}
		return out
	}
}

var errRecovered = errors.New("recovered from a panic (logged above)")

// introspectionOff refuses operations that select __schema or __type, as a
// validation failure (422), when introspection is switched off.
type introspectionOff struct{}

func (introspectionOff) ExtensionName() string                   { return "IntrospectionOff" }
func (introspectionOff) Validate(graphql.ExecutableSchema) error { return nil }

func (introspectionOff) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation != nil && introspects(oc.Operation.SelectionSet, oc.Doc.Fragments, map[string]bool{}) {
		err := gqlerror.Errorf("introspection is disabled on this server")
		errcode.Set(err, errcode.ValidationFailed)
		return err
	}
	return nil
}

func introspects(set ast.SelectionSet, fragments ast.FragmentDefinitionList, seen map[string]bool) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" || introspects(s.SelectionSet, fragments, seen) {
				return true
			}
		case *ast.InlineFragment:
			if introspects(s.SelectionSet, fragments, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if f := fragments.ForName(s.Name); f != nil && !seen[s.Name] {
				seen[s.Name] = true
				if introspects(f.SelectionSet, fragments, seen) {
					return true
				}
			}
		}
	}
	return false
}

func setCode(e *gqlerror.Error, code model.Code) {
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions["code"] = string(code)
}

// statusHint carries the HTTP status an operation's errors call for: 503
// when the database is unavailable, 429 when rate limited; 200 otherwise.
type statusHint struct {
	mu     sync.Mutex
	status int
	header http.Header
}

// ResponseHeader is the header of the HTTP response an operation will be
// written to (nil outside the GraphQL endpoint); operation interceptors set
// headers such as RateLimit through it.
func ResponseHeader(ctx context.Context) http.Header {
	if h := stateOf(ctx).hint; h != nil {
		return h.header
	}
	return nil
}

// Hint asks for the HTTP status that code calls for (429 for RATE_LIMITED,
// 503 for UNAVAILABLE) instead of 200.
func Hint(ctx context.Context, code model.Code) { hint(ctx, code) }

func hint(ctx context.Context, code model.Code) {
	h := stateOf(ctx).hint
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch code {
	case model.CodeUnavailable:
		h.status = http.StatusServiceUnavailable
	case model.CodeRateLimited:
		if h.status == 0 {
			h.status = http.StatusTooManyRequests
		}
	}
}

// hintedWriter turns the 200 gqlgen writes into the hinted status.
type hintedWriter struct {
	http.ResponseWriter
	hint    *statusHint
	written bool
}

func (w *hintedWriter) WriteHeader(code int) {
	if !w.written {
		w.written = true
		w.hint.mu.Lock()
		// A hint wins over 200 and over the 422 of an operation refused
		// before it ran (the client's parse budget).
		if (code == http.StatusOK || code == http.StatusUnprocessableEntity) && w.hint.status != 0 {
			code = w.hint.status
		}
		w.hint.mu.Unlock()
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController and WebSocket upgrades reach the
// connection (flushes for SSE, the hijack for WebSocket).
func (w *hintedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *hintedWriter) Write(b []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// WriteGraphQLError writes a GraphQL error response with a status and code.
func WriteGraphQLError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"message": message, "extensions": map[string]any{"code": code}}}})
}

// httpState is what the GraphQL endpoint keeps of one HTTP request, in one
// context value (one allocation, one request copy): its loaders, the status
// its operations' errors call for (nil for a WebSocket connection's
// operations: the upgrade's response is sent), and a POST's request object
// and response data.
type httpState struct {
	loaders *loaders.Set
	hint    *statusHint
	env     *envelope
	// direct is where the direct executor leaves the data it wrote for the
	// POST transport (nil elsewhere: there is one operation per POST).
	direct *directData
	// plans are the endpoint's; in a request that carries one operation
	// (single: a POST or GET, not a WebSocket connection), plan is the
	// plan of operation planOf, looked up once for the complexity limit,
	// the rate guard and the executor.
	plans  *plans
	single bool
	planOf *ast.OperationDefinition
	plan   *plan.Plan
	// cred is the request's Authorization header, for the service layer to
	// authenticate on demand (a WebSocket connection's operations carry
	// the one its connection_init sent instead, see websocketTransport).
	cred service.Credential
}

// requestState is an HTTP request's state with what it owns, in one
// allocation; a WebSocket connection's operations have the bare state,
// which a subscription keeps for its life.
type requestState struct {
	httpState
	ownHint   statusHint
	writer    hintedWriter
	ownEnv    envelope
	ownDirect directData
}

// Credential is the request's credential, for the service layer (the
// state is the request's service.CredentialHolder: one context value).
func (st *httpState) Credential() *service.Credential { return &st.cred }

// withState returns ctx carrying st.
func withState(ctx context.Context, st *httpState) context.Context {
	return service.WithHolder(ctx, st)
}

var noState = &httpState{}

// stateOf is ctx's request state (empty outside the GraphQL endpoint).
func stateOf(ctx context.Context) *httpState {
	if st, ok := service.Holder(ctx).(*httpState); ok {
		return st
	}
	return noState
}

// envelope is a GraphQL-over-HTTP request object, decoded once: the POST
// transport takes it from the request context instead of parsing the body
// again.
type envelope struct {
	Query         *string        `json:"query"`
	OperationName *string        `json:"operationName"`
	Variables     map[string]any `json:"variables"`
	Extensions    map[string]any `json:"extensions"`
	// DocumentID names a persisted document (GraphQL over HTTP's
	// "sha256:<hex>"): useDocumentID turns it into the automatic-persisted-
	// query extension every transport understands.
	DocumentID *string `json:"documentId"`
}

// useDocumentID puts the document DocumentID names in the extensions, as
// the persistedQuery extension.
func (env *envelope) useDocumentID() error {
	hash, ok := strings.CutPrefix(*env.DocumentID, "sha256:")
	if !ok || !sha256Hex.MatchString(hash) {
		return errBadDocumentID
	}
	if _, both := env.Extensions["persistedQuery"]; both {
		return errors.New("send documentId or the persistedQuery extension, not both")
	}
	ext := make(map[string]any, len(env.Extensions)+1)
	maps.Copy(ext, env.Extensions)
	ext["persistedQuery"] = map[string]any{"version": json.Number("1"), "sha256Hash": hash}
	env.Extensions, env.DocumentID = ext, nil
	return nil
}

// parseEnvelope decodes b, in one pass, if it is a well-formed request
// object: query and operationName strings, variables and extensions
// objects (any may be absent or null), numbers kept as json.Number as
// gqlgen's own transport keeps them, and nothing after the object.
func parseEnvelope(b []byte, env *envelope) bool {
	if decodeEnvelope(b, env) {
		return true
	}
	*env = envelope{}
	return decodeEnvelopeJSON(b, env)
}

// decodeEnvelopeJSON is parseEnvelope by encoding/json, for every body the
// fast path leaves (see decodeEnvelope).
func decodeEnvelopeJSON(b []byte, env *envelope) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if dec.Decode(env) != nil {
		return false
	}
	_, err := dec.Token()
	return err == io.EOF
}

// params fills p as gqlgen's POST transport would from the same body.
func (env *envelope) params(p *graphql.RawParams) {
	if env.Query != nil {
		p.Query = *env.Query
	}
	if env.OperationName != nil {
		p.OperationName = *env.OperationName
	}
	p.Variables, p.Extensions = env.Variables, env.Extensions
}

// jsonBody reports whether r's body is declared as JSON.
func jsonBody(r *http.Request) bool {
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mediaType == "application/json"
}

// getTooLarge reports whether a GET request's parameters, decoded, hold
// more than maxBody bytes: a GET is held to the body limit of a POST.
func getTooLarge(r *http.Request, maxBody int64) bool {
	if int64(len(r.URL.RawQuery)) <= maxBody {
		return false // decoding only shortens it
	}
	n := 0
	for _, vs := range r.URL.Query() {
		for _, v := range vs {
			n += len(v)
		}
	}
	return int64(n) > maxBody
}

// perRequest gives every request its own loaders (and so its own cache:
// nothing is shared between requests or principals) and its credential,
// reads a POST body within the limit (413 past it, 400 for JSON that does
// not parse — without echoing the body, which may hold a secret) and maps
// operation errors to HTTP statuses.
func perRequest(s service.Store, auth *service.Authenticator, pl *plans, maxBody int64, next http.Handler) http.Handler {
	b := loaders.NewBatches(s)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs := &requestState{httpState: httpState{loaders: loaders.New(b), plans: pl, single: r.Header.Get("Upgrade") == ""}}
		st := &rs.httpState
		auth.Attach(&st.cred, r.Header.Get("Authorization"))
		if r.Method == http.MethodPost && !jsonBody(r) {
			WriteGraphQLError(w, http.StatusUnsupportedMediaType, "BAD_REQUEST",
				"a GraphQL POST is sent as Content-Type: application/json")
			return
		}
		if r.Method == http.MethodPost {
			if maxBody > 0 && r.ContentLength > maxBody {
				WriteGraphQLError(w, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "request body too large")
				return
			}
			body := r.Body
			if maxBody > 0 {
				body = http.MaxBytesReader(w, r.Body, maxBody)
			}
			b, err := io.ReadAll(body)
			var mbe *http.MaxBytesError
			switch {
			case errors.As(err, &mbe):
				WriteGraphQLError(w, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "request body too large")
				return
			case err != nil:
				WriteGraphQLError(w, http.StatusBadRequest, "BAD_REQUEST", "could not read the request body")
				return
			}
			if !parseEnvelope(b, &rs.ownEnv) {
				WriteGraphQLError(w, http.StatusBadRequest, "BAD_REQUEST",
					"the request body must be a JSON object with a query string and optional variables and extensions objects")
				return
			}
			if rs.ownEnv.DocumentID != nil {
				if err := rs.ownEnv.useDocumentID(); err != nil {
					WriteGraphQLError(w, http.StatusBadRequest, "BAD_REQUEST", err.Error())
					return
				}
			}
			st.env = &rs.ownEnv
			st.direct = &rs.ownDirect
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		if r.Method == http.MethodGet && maxBody > 0 && getTooLarge(r, maxBody) {
			WriteGraphQLError(w, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "request too large")
			return
		}
		if r.Method == http.MethodGet && r.URL.Query().Has("documentId") {
			q := r.URL.Query()
			ext, err := documentIDExtensions(q.Get("documentId"), json.RawMessage(q.Get("extensions")))
			if err != nil {
				WriteGraphQLError(w, http.StatusBadRequest, "BAD_REQUEST", err.Error())
				return
			}
			q.Del("documentId")
			q.Set("extensions", string(ext))
			r = r.Clone(r.Context())
			r.URL.RawQuery = q.Encode()
		}
		rs.ownHint.header = w.Header()
		st.hint = &rs.ownHint
		rs.writer = hintedWriter{ResponseWriter: w, hint: st.hint}
		next.ServeHTTP(&rs.writer, r.WithContext(withState(r.Context(), st)))
	})
}

var errBadDocumentID = errors.New("documentId must be sha256:<the document's SHA-256 in 64 lowercase hex digits>")

// documentIDExtensions returns extensions (a JSON object or empty) with
// the persistedQuery of document id.
func documentIDExtensions(id string, extensions json.RawMessage) (json.RawMessage, error) {
	hash, ok := strings.CutPrefix(id, "sha256:")
	if !ok || !sha256Hex.MatchString(hash) {
		return nil, errBadDocumentID
	}
	ext := map[string]json.RawMessage{}
	if t := bytes.TrimSpace(extensions); len(t) > 0 && !bytes.Equal(t, []byte("null")) {
		if json.Unmarshal(t, &ext) != nil {
			return nil, errors.New("extensions must be a JSON object")
		}
	}
	if _, both := ext["persistedQuery"]; both {
		return nil, errors.New("send documentId or the persistedQuery extension, not both")
	}
	ext["persistedQuery"] = json.RawMessage(`{"version":1,"sha256Hash":"` + hash + `"}`)
	return json.Marshal(ext)
}
