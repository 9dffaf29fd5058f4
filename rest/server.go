package rest

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers"
	"github.com/residentportal/bff/resolvers/service"
	"github.com/residentportal/bff/rest/edge"
	"github.com/residentportal/bff/rest/ratelimit"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Deps is what the public HTTP surface is built from.
type Deps struct {
	Service        *service.Service
	Log            *slog.Logger
	Metrics        *edge.Metrics
	PublicBaseURL  string
	CORSOrigins    []string
	RequestTimeout time.Duration
	// GraphQL and Playground are mounted at /graphql and /graphiql when set.
	GraphQL    http.Handler
	Playground http.Handler
	// Portal, when set, is the residents' page, served at PortalPath (a
	// path ending in "/"; without the slash it redirects there).
	Portal     http.Handler
	PortalPath string
	// Guard, when set, rate-limits every REST operation (GraphQL is
	// charged by its interceptor, see ratelimit.Guard.GraphQL).
	Guard *ratelimit.Guard
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// Extra, when set, mounts more routes (tests use it).
	Extra func(chi.Router)
	// Draining, when set and true, marks a server that is shutting down:
	// /readyz answers 503 and every response closes its connection.
	Draining *atomic.Bool
	// Tracing, when set, makes a span of every request (edge.Trace), with
	// Propagator reading the client's traceparent.
	Tracing    trace.TracerProvider
	Propagator propagation.TextMapPropagator
	// StaleKey, when set and true, marks a server whose SECRET_KEY is no
	// longer the one the database's secrets are under (a rekey ran): every
	// request but /healthz answers 503 until it is restarted with the key.
	StaleKey *atomic.Bool
}

// NewHandler returns the public HTTP handler: edge middleware around the
// probes, the REST operations and the GraphQL endpoint.
func NewHandler(d Deps) http.Handler {
	r := chi.NewRouter()
	r.Use(edge.Start(d.RequestTimeout), edge.Trace(d.Tracing, d.Propagator), edge.Observe(d.Log, d.Metrics), edge.Recover(d.Log),
		edge.SecurityHeaders(strings.HasPrefix(d.PublicBaseURL, "https://")),
		edge.CORS(d.CORSOrigins),
		edge.LimitBody(edge.MaxBodyBytes, http.HandlerFunc(tooLarge)), edge.WithClientIP(d.TrustedProxies), closeWhile(d.Draining), refuseWhile(d.StaleKey),
		// HEAD is answered as GET without its body (RFC 9110), as the
		// vendor's stack does.
		middleware.GetHead)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		edge.WriteError(w, http.StatusNotFound, "no such route: "+r.Method+" "+r.URL.Path, "", nil)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Allow", strings.Join(allowedMethods(r, req.URL.Path), ", "))
		edge.WriteError(w, http.StatusMethodNotAllowed, "method "+req.Method+" is not allowed here", "", nil)
	})
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, "application/json", map[string]string{"status": "ok"})
	})
	r.Get("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if d.Draining != nil && d.Draining.Load() {
			edge.WriteError(w, http.StatusServiceUnavailable, "shutting down", "", nil)
			return
		}
		if err := d.Service.Ready(ctx); err != nil {
			edge.WriteError(w, http.StatusServiceUnavailable, "database unavailable", "", nil)
			return
		}
		writeJSON(w, http.StatusOK, "application/json", map[string]string{"status": "ready"})
	})
	r.Get("/v3/api-docs", apiDocs())
	// The root points at what a person or a client looks for: the page,
	// the playground, the API's documents.
	index := map[string]string{"graphql": "/graphql", "openapi": "/v3/api-docs", "health": "/healthz"}
	if d.Portal != nil {
		index["portal"] = d.PortalPath // portalctl prints each unit's link to it
	}
	if d.Playground != nil {
		index["playground"] = "/graphiql"
	}
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, "application/json", map[string]any{"service": "resident portal", "links": index})
	})
	auth := d.Service.Authenticator()
	if d.GraphQL != nil {
		// GraphQL over HTTP is GET and POST (WebSocket upgrades are GETs);
		// other methods get 405 with Allow.
		// (The endpoint attaches the request's credential itself.)
		r.Get("/graphql", d.GraphQL.ServeHTTP)
		r.Post("/graphql", d.GraphQL.ServeHTTP)
	}
	if d.Playground != nil {
		pg := edge.DocumentHeaders(d.Playground)
		r.Handle("/graphiql", pg)
		r.Handle("/graphiql/*", pg)
	}
	if d.Portal != nil {
		portal := edge.DocumentHeaders(d.Portal)
		if p := strings.TrimSuffix(d.PortalPath, "/"); p != "" {
			r.Handle(p, portal)
		}
		r.Handle(d.PortalPath+"*", portal)
	}
	rest := &api{svc: d.Service, base: strings.TrimRight(d.PublicBaseURL, "/"), log: d.Log}
	rest.mount(r, func(rt Route) []func(http.Handler) http.Handler {
		// SECURITY: REST is resident-only; a manager key is refused there.
		// The credential is attached first (unchecked) so that the limiter
		// can tell a recognised one from the rest.
		mws := []func(http.Handler) http.Handler{withCredential(auth)}
		if d.Guard != nil {
			mws = append(mws, d.Guard.REST(!rt.Token, rt.OperationID == "residentLogin"))
		}
		return mws
	})
	if d.Extra != nil {
		d.Extra(r)
	}
	return r
}

// allowedMethods lists the methods the router serves at path (for Allow).
func allowedMethods(r chi.Routes, path string) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if r.Match(chi.NewRouteContext(), m, path) {
			out = append(out, m)
		}
	}
	return out
}

// closeWhile asks clients to close their connection after each response
// while draining is true.
func closeWhile(draining *atomic.Bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if draining == nil {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if draining.Load() {
				w.Header()["Connection"] = []string{"close"}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// tooLarge answers a body over the limit in the shape of its endpoint:
// GraphQL's errors on /graphql, the vendor error body elsewhere.
// refuseWhile answers 503 to every request but /healthz while stale is
// true.
func refuseWhile(stale *atomic.Bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if stale == nil {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if stale.Load() && r.URL.Path != "/healthz" {
				edge.WriteError(w, http.StatusServiceUnavailable,
					"the database was rekeyed to another SECRET_KEY; this server must be restarted with the new key", "", nil)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func tooLarge(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/graphql" {
		resolvers.WriteGraphQLError(w, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "request body exceeds 64 KiB")
		return
	}
	edge.WriteError(w, http.StatusRequestEntityTooLarge, "request body exceeds 64 KiB", "", nil)
}

// writeJSON encodes v with the given status and content type.
func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	switch contentType { // shared values for the usual two (never written in place)
	case mediaHAL:
		w.Header()["Content-Type"] = halContentType
	case mediaJSON:
		w.Header()["Content-Type"] = jsonContentType
	default:
		w.Header().Set("Content-Type", contentType)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var halContentType, jsonContentType = []string{mediaHAL}, []string{mediaJSON}

// ErrorStatus is the one table mapping domain codes to HTTP statuses.
var ErrorStatus = map[model.Code]int{
	model.CodeBadUserInput:    http.StatusBadRequest,
	model.CodeUnauthenticated: http.StatusUnauthorized,
	model.CodeForbidden:       http.StatusForbidden,
	model.CodeNotFound:        http.StatusNotFound,
	model.CodeConflict:        http.StatusConflict,
	model.CodeRateLimited:     http.StatusTooManyRequests,
	model.CodeUnavailable:     http.StatusServiceUnavailable,
	model.CodeInternal:        http.StatusInternalServerError,
}

// withCredential attaches the request's Authorization header to its
// context, resident-only, for the service layer to authenticate on demand.
func withCredential(auth *service.Authenticator) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(auth.WithCredential(r.Context(), r.Header.Get("Authorization"), true)))
		})
	}
}
