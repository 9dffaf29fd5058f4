package resolvers

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/service"
)

// The streaming transports of subscriptions, on /graphql beside POST and
// GET: WebSocket (graphql-transport-ws, and the older graphql-ws) and
// Server-Sent Events. Both outlive the server's request deadlines (HTTP_*
// timeouts, REQUEST_TIMEOUT): a stream is kept honest by its liveness
// (WebSocket pings; SSE keep-alives) and ends when its credential does.

// Stream bounds (README "Hardening"); the WebSocket's are in websocket.go.
const (
	sseKeepAlive     = 15 * time.Second
	unauthorizedText = "Forbidden"
)

// clearDeadlines lifts the server's read and write deadlines from a
// request's connection before it becomes a stream.
func clearDeadlines(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
}

// sseTransport is gqlgen's SSE transport on a stream that outlives the
// server's deadlines but not a client that stops reading (every write has
// wsWriteTimeout), held by a Session like a WebSocket connection: a
// credential that stops holding, or a subscription the server ends, gets
// an error event with its code (UNAUTHENTICATED, UNAVAILABLE), then the
// end of the stream, and nothing after.
type sseTransport struct {
	svc     *service.Service
	streams context.Context
}

func (sseTransport) Supports(r *http.Request) bool { return transport.SSE{}.Supports(r) }

func (t sseTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	clearDeadlines(w)
	lw := &lockedWriter{w: w, rc: http.NewResponseController(w)}
	defer lw.close() // runs last: a session ending the stream from its own goroutine writes nothing after this
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(t.streams, cancel)() // the server is shutting down
	end := func(code model.Code, reason string) {
		b, _ := json.Marshal(map[string]any{"errors": []map[string]any{{"message": reason, "extensions": map[string]any{"code": string(code)}}}})
		lw.last(append(append([]byte("event: next\ndata: "), b...), "\n\n"...))
		cancel()
	}
	ctx = service.WithEnd(ctx, end)
	if raw := r.Header.Get("Authorization"); raw != "" {
		// The stream's session; a credential that does not hold is
		// reported by the operation as on any request.
		if ss, err := t.svc.OpenSession(ctx, raw, end); err == nil {
			defer ss.Close()
			ctx = service.WithSession(ctx, ss)
		}
	}
	transport.SSE{KeepAlivePingInterval: sseKeepAlive}.Do(lw, r.WithContext(ctx), exec)
}

// lockedWriter serialises the writes of gqlgen's SSE stream and of an
// ending subscription, each within wsWriteTimeout; after the last one, or
// once the handler has returned (close), nothing more is written: the
// ResponseWriter is not ours to touch then, and net/http panics on a Flush
// after its handler finished.
type lockedWriter struct {
	mu     sync.Mutex // held across a write
	w      http.ResponseWriter
	rc     *http.ResponseController
	ended  atomic.Bool
	broken bool // under mu: a write failed, or the handler returned

	dl   sync.Mutex // orders last's deadline against close; never held across a write
	done bool       // under dl
}

// close is deferred by the handler: it waits for a write in flight and
// leaves the writer inert.
func (l *lockedWriter) close() {
	l.dl.Lock()
	l.done = true
	l.dl.Unlock()
	l.mu.Lock()
	l.broken = true
	l.mu.Unlock()
}

func (l *lockedWriter) Header() http.Header { return l.w.Header() }
func (l *lockedWriter) WriteHeader(code int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.broken {
		l.w.WriteHeader(code)
	}
}
func (l *lockedWriter) Write(b []byte) (int, error) {
	if l.ended.Load() {
		return 0, errClosing
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.writeLocked(b)
}

func (l *lockedWriter) writeLocked(b []byte) (int, error) {
	if l.broken {
		return 0, errClosing
	}
	_ = l.rc.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
	n, err := l.w.Write(b)
	if err == nil {
		err = l.rc.Flush()
	}
	if err != nil {
		l.broken = true
	}
	return n, err
}

func (l *lockedWriter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.broken {
		_ = l.rc.Flush()
	}
}

// last writes b and ends the stream: a write stalled on a client that
// does not read gives up at once, and nothing is written after b.
func (l *lockedWriter) last(b []byte) {
	if l.ended.Swap(true) {
		return
	}
	l.dl.Lock()
	if !l.done { // cut short a write stalled on a client that does not read
		_ = l.rc.SetWriteDeadline(time.Now())
	}
	l.dl.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.writeLocked(b)
}

// streamGate bounds the streams (WebSocket connections and SSE
// subscriptions) open per client address. Past the bound: 429. A WebSocket
// connection outlives its upgrade request, so its transport claims the
// request's slot and gives it back when the connection ends.
type streamGate struct {
	max  int
	mu   sync.Mutex
	open map[string]int
}

// streamSlot is one stream's place in the gate.
type streamSlot struct {
	release func()
	claimed bool
}

type streamSlotKey struct{}

func slotFrom(ctx context.Context) *streamSlot {
	s, _ := ctx.Value(streamSlotKey{}).(*streamSlot)
	return s
}

func (g *streamGate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info := model.RequestInfoFrom(r.Context()); info == nil || !info.Stream { // the edge says
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
		var once sync.Once
		slot := &streamSlot{release: func() {
			once.Do(func() {
				g.mu.Lock()
				if g.open[client]--; g.open[client] <= 0 {
					delete(g.open, client)
				}
				g.mu.Unlock()
			})
		}}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), streamSlotKey{}, slot)))
		if !slot.claimed {
			slot.release()
		}
	})
}
