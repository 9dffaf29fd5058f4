package resolvers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/rest/edge"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The streaming transports of subscriptions, on /graphql beside POST and
// GET: WebSocket (graphql-transport-ws, and the older graphql-ws) and
// Server-Sent Events. Both outlive the server's request deadlines (HTTP_*
// timeouts, REQUEST_TIMEOUT): a stream is kept honest by its liveness
// (WebSocket pings; SSE keep-alives) and ends when its credential does.

// Stream bounds (README "Hardening").
const (
	wsInitTimeout      = 5 * time.Second
	wsPingInterval     = 15 * time.Second
	wsMaxMessage       = 64 << 10
	sseKeepAlive       = 15 * time.Second
	closeForbidden     = 4403
	closeGoingAway     = 1001
	closeTryAgainLater = 1013
	unauthorizedText   = "Forbidden"
)

// clearDeadlines lifts the server's read and write deadlines from a
// request's connection before it becomes a stream.
func clearDeadlines(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
}

// websocketTransport is gqlgen's WebSocket transport with the credential
// taken from connection_init ({"Authorization": "<token or key>"}): a
// missing or invalid one closes the connection with 4403, and so does a
// credential revoked while subscribed (WithEnd).
func websocketTransport(svc *Service, streams context.Context) transport.Websocket {
	limit := int64(wsMaxMessage)
	return transport.Websocket{
		Implementation:   holdingWebsocket{},
		InitTimeout:      wsInitTimeout,
		PingPongInterval: wsPingInterval,
		// graphql-ws (the older protocol) keeps alive by server messages.
		KeepAlivePingInterval: wsPingInterval,
		PayloadReadLimit:      &limit,
		InitFunc: func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			// The upgrade's response is sent: the operations of the
			// connection, which run concurrently, have no headers or
			// status to set.
			st := stateOf(ctx)
			ctx = context.WithValue(ctx, httpStateKey{}, &httpState{loaders: st.loaders, plans: st.plans})
			ctx = svc.auth.WithCredential(ctx, payload.GetString("Authorization"), false)
			if _, err := principal(ctx); err != nil {
				ctx = transport.AppendCloseReason(ctx, unauthorizedText)
				return transport.WithWebsocketCloseCode(ctx, closeForbidden), nil, errors.New("invalid credential")
			}
			if h, ok := ctx.Value(wsHolderKey{}).(*wsHolder); ok && h.conn != nil {
				conn := h.conn
				ctx = WithEnd(ctx, func(code model.Code, reason string) {
					closeCode := closeTryAgainLater
					if code == model.CodeUnauthenticated {
						closeCode = closeForbidden
					}
					_ = conn.WriteClose(closeCode, reason)
					_ = conn.Close()
				})
				h.stop = context.AfterFunc(streams, func() { // the server is shutting down
					_ = conn.WriteClose(closeGoingAway, "server shutting down")
					_ = conn.Close()
				})
			}
			return ctx, nil, nil
		},
		CloseFunc: func(ctx context.Context, _ int) {
			if h, ok := ctx.Value(wsHolderKey{}).(*wsHolder); ok && h.stop != nil {
				h.stop()
			}
		},
	}
}

type wsHolderKey struct{}

// wsHolder lets the init function reach the connection the upgrade made.
type wsHolder struct {
	conn   transport.WebsocketConn
	stop   func() bool  // unregisters the shutdown hook
	active atomic.Int64 // subscriptions running on the connection
}

// holdingWebsocket is gqlgen's default WebSocket implementation that also
// records the connection in the request's wsHolder, and lifts the server's
// deadlines first (the hijacked connection would keep them).
type holdingWebsocket struct{}

func (holdingWebsocket) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	clearDeadlines(w)
	conn, err := transport.CoderWebsocketImplementation{}.Accept(w, r, opts)
	if h, ok := r.Context().Value(wsHolderKey{}).(*wsHolder); ok && err == nil {
		h.conn = conn
	}
	return conn, err
}

// sseTransport is gqlgen's SSE transport on a stream that outlives the
// server's deadlines; a subscription the server ends gets an error event
// with its code (UNAUTHENTICATED, UNAVAILABLE), then the end of the stream.
type sseTransport struct{ streams context.Context }

func (sseTransport) Supports(r *http.Request) bool { return transport.SSE{}.Supports(r) }

func (t sseTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	clearDeadlines(w)
	lw := &lockedWriter{w: w, rc: http.NewResponseController(w)}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(t.streams, cancel)() // the server is shutting down
	ctx = WithEnd(ctx, func(code model.Code, reason string) {
		b, _ := json.Marshal(map[string]any{"errors": []map[string]any{{"message": reason, "extensions": map[string]any{"code": string(code)}}}})
		_, _ = lw.Write(append(append([]byte("event: next\ndata: "), b...), "\n\n"...))
		lw.Flush()
		cancel()
	})
	transport.SSE{KeepAlivePingInterval: sseKeepAlive}.Do(lw, r.WithContext(ctx), exec)
}

// lockedWriter serialises the writes of gqlgen's SSE stream and of an
// ending subscription.
type lockedWriter struct {
	mu sync.Mutex
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (l *lockedWriter) Header() http.Header { return l.w.Header() }
func (l *lockedWriter) WriteHeader(code int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.WriteHeader(code)
}
func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
func (l *lockedWriter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.rc.Flush()
}

// streamGate bounds the streams (WebSocket connections and SSE
// subscriptions) open per client address, and gives an upgrade request a
// holder for its connection. Past the bound: 429.
type streamGate struct {
	max  int
	mu   sync.Mutex
	open map[string]int
}

func (g *streamGate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !edge.Streaming(r) {
			next.ServeHTTP(w, r)
			return
		}
		client := model.ClientIPFrom(r.Context())
		g.mu.Lock()
		if g.open[client] >= g.max {
			g.mu.Unlock()
			w.Header().Set("Retry-After", "1")
			WriteGraphQLError(w, http.StatusTooManyRequests, string(model.CodeRateLimited), "too many open streams from this client address")
			return
		}
		g.open[client]++
		g.mu.Unlock()
		defer func() {
			g.mu.Lock()
			if g.open[client]--; g.open[client] <= 0 {
				delete(g.open, client)
			}
			g.mu.Unlock()
		}()
		if r.Header.Get("Upgrade") != "" {
			r = r.WithContext(context.WithValue(r.Context(), wsHolderKey{}, &wsHolder{}))
		}
		next.ServeHTTP(w, r)
	})
}

// subscriptionsPerConnection bounds the subscriptions one WebSocket
// connection runs at once; past it a subscribe gets an error.
func subscriptionsPerConnection(max int) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		h, ok := ctx.Value(wsHolderKey{}).(*wsHolder)
		if !ok || oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
			return next(ctx)
		}
		if h.active.Add(1) > int64(max) {
			h.active.Add(-1)
			return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{Message: fmt.Sprintf("at most %d subscriptions per connection", max),
				Extensions: map[string]any{"code": string(model.CodeRateLimited)}}}})
		}
		responses := next(ctx)
		var once sync.Once
		return func(ctx context.Context) *graphql.Response {
			r := responses(ctx)
			if r == nil {
				once.Do(func() { h.active.Add(-1) })
			}
			return r
		}
	}
}
