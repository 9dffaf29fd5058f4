package resolvers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/gobwas/ws"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/loaders"
	"github.com/residentportal/bff/resolvers/service"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The WebSocket transport of /graphql: graphql-transport-ws (the protocol of
// the graphql-ws library, which the resident page bundles) and the older
// graphql-ws protocol of subscriptions-transport-ws, over gobwas/ws frames.
//
// One connection is one goroutine, its reader, and nothing else while it is
// idle: the reader waits for the socket to become readable without holding
// a buffer (see waitReadable), a subscription waits for events without a
// goroutine (subscribeUnit wakes it), and the connection's timers (the init
// timeout, then the liveness ping) are runtime timers, which hold no
// goroutine either. Every frame is written under a write deadline: a client
// that does not read loses its connection after wsWriteTimeout, and with it
// everything queued for it.
//
// Every operation is authorised against the credential's current state, as
// an HTTP request is (the same cache, revocation notices and rate charges),
// and the connection's Session checks the credential between operations: a
// credential revoked or expired closes the connection with 4403 within a
// notice's delivery, whatever it is doing.

// Bounds of a WebSocket connection (README "Hardening").
const (
	wsInitTimeout = 5 * time.Second
	// wsPingInterval: a ping to every connection, often enough that a
	// proxy's idle timeout (nginx: 60 s) never ends a quiet one; a client
	// not heard from for two intervals is cut off.
	wsPingInterval = 30 * time.Second
	wsMaxMessage   = 64 << 10
	// wsWriteTimeout bounds every frame's write: a client that has not
	// taken it by then is cut off.
	wsWriteTimeout = 10 * time.Second
	// wsFrameTimeout bounds the rest of a frame once its first byte came.
	wsFrameTimeout = 10 * time.Second
	// wsCloseTimeout bounds the closing handshake.
	wsCloseTimeout = time.Second
	// wsMessageRate and wsMessageBurst bound the messages a connection
	// sends (pings and pongs included), wsSubscribeRate and
	// wsSubscribeBurst its subscribe (start) messages; past either the
	// connection is closed with 1008 (policy violation) before it costs
	// anyone else anything. A subscribe spends the connection's budget, not
	// the property's (see OnLiveConnection).
	wsMessageRate, wsMessageBurst     = 20, 100
	wsSubscribeRate, wsSubscribeBurst = 2, 32
	// wsMaxRunning bounds the queries and mutations a connection runs at
	// once (subscriptions are bounded by MaxSubscriptionsPerConnection).
	wsMaxRunning = 4
)

// Close codes: RFC 6455's, and graphql-transport-ws's own (PROTOCOL.md of
// the graphql-ws library).
const (
	closeNormal          ws.StatusCode = 1000
	closeGoingAway       ws.StatusCode = 1001
	closeProtocolError   ws.StatusCode = 1002
	closePolicyViolation ws.StatusCode = 1008
	closeTooBig          ws.StatusCode = 1009
	closeTryAgainLater   ws.StatusCode = 1013
	closeBadRequest      ws.StatusCode = 4400 // invalid message
	closeUnauthorized    ws.StatusCode = 4401 // subscribe before connection_ack
	closeForbidden       ws.StatusCode = 4403 // credential invalid, revoked or expired
	closeBadProtocol     ws.StatusCode = 4406 // subprotocol not acceptable
	closeInitTimeout     ws.StatusCode = 4408 // no connection_init in time
	closeIDInUse         ws.StatusCode = 4409 // subscriber for the id already exists
	closeTooManyInits    ws.StatusCode = 4429 // a second connection_init
)

// wsProtocol names one subprotocol's messages.
type wsProtocol struct {
	name                               string
	subscribe, stop, next, ack, cancel string
	// legacy is the older graphql-ws protocol: errors in messages rather
	// than its successor's close codes, and server keep-alives.
	legacy bool
}

var (
	transportWS = &wsProtocol{name: "graphql-transport-ws", subscribe: "subscribe", stop: "complete", next: "next", ack: "connection_ack"}
	legacyWS    = &wsProtocol{name: "graphql-ws", subscribe: "start", stop: "stop", next: "data", ack: "connection_ack", legacy: true}
)

// OnLiveConnection reports whether ctx is an operation of a WebSocket
// connection, whose subscribe messages are paid for by the connection's own
// budget (the rate limiter charges them nothing more).
func OnLiveConnection(ctx context.Context) bool {
	_, ok := ctx.Value(wsConnKey{}).(*wsConn)
	return ok
}

type wsConnKey struct{}

// wsTransport serves WebSocket upgrades on /graphql.
type wsTransport struct {
	svc     *service.Service
	batches *loaders.Batches
	plans   *plans
	streams context.Context
	maxSubs int
	log     *slog.Logger
	// poll watches idle connections (Linux; elsewhere each keeps a reader
	// goroutine).
	poll *poller
}

func (wsTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("Upgrade") != ""
}

func (t wsTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	clearDeadlines(w)
	var proto *wsProtocol
	offered := false
	up := ws.HTTPUpgrader{Protocol: func(p string) bool {
		offered = true
		switch p {
		case transportWS.name:
			proto = transportWS
		case legacyWS.name:
			proto = legacyWS
		}
		return proto != nil
	}}
	conn, rw, _, err := up.Upgrade(r, w)
	if err != nil {
		if conn != nil { // the upgrader answered the handshake's error
			_ = conn.Close()
		}
		return
	}
	slot := slotFrom(r.Context())
	c := &wsConn{t: t, exec: exec, conn: conn, proto: proto}
	c.lastHeard.Store(time.Now().UnixNano())
	if slot != nil {
		slot.claimed = true
		c.release = slot.release
	}
	// A client may send frames right behind its upgrade request: what the
	// server's reader holds already is read first; its buffers are let go.
	if n := rw.Reader.Buffered(); n > 0 {
		c.early, _ = rw.Reader.Peek(n)
		c.early = bytes.Clone(c.early)
	}
	base := context.Background()
	if info := model.RequestInfoFrom(r.Context()); info != nil {
		base = model.WithRequestInfo(base, &model.RequestInfo{ID: info.ID, ClientIP: info.ClientIP})
	}
	// The connection's context carries values only: its operations are
	// ended one by one (cancelOps), so it keeps no set of children.
	c.ctx = context.WithValue(base, wsConnKey{}, c)
	c.msgs = budget{tokens: wsMessageBurst, at: time.Now()}
	c.subscribes = budget{tokens: wsSubscribeBurst, at: time.Now()}
	c.stopShutdown = context.AfterFunc(t.streams, func() { c.closeWith(closeGoingAway, "server shutting down") })
	c.timer = time.AfterFunc(wsInitTimeout, c.tick)
	switch {
	case proto == nil && offered:
		proto, c.proto = transportWS, transportWS
		c.closeWith(closeBadProtocol, "Subprotocol not acceptable")
	case proto == nil: // no subprotocol asked for: the older protocol, as before
		c.proto = legacyWS
	}
	if len(c.early) > 0 || !t.poll.add(t.streams, c) {
		go c.readLoop()
	}
}

// wsConn is one WebSocket connection.
type wsConn struct {
	t            wsTransport
	exec         graphql.GraphExecutor
	conn         net.Conn
	proto        *wsProtocol
	early        []byte // bytes read before the upgrade completed
	ctx          context.Context
	release      func() // gives the connection's stream slot back
	stopShutdown func() bool
	timer        *time.Timer // the init timeout, then the liveness ping

	// Where the poller watches the connection (see poller).
	pmu    sync.Mutex
	fd     int
	pid    uint64
	polled bool

	// lastHeard is when the client last sent a frame (unix ns).
	lastHeard atomic.Int64
	closing   atomic.Bool
	finished  sync.Once

	wmu    sync.Mutex // one writer at a time
	broken bool       // a write failed part-way: no close frame can follow

	mu         sync.Mutex
	acked      bool
	inited     bool
	raw        string
	session    *service.Session
	ops        []*wsOp
	subs       int // subscriptions among ops
	running    int // queries and mutations among ops
	msgs       budget
	subscribes budget
	fragments  []byte // a fragmented message so far
}

// budget is a token bucket: rate tokens a second, at most its burst.
type budget struct {
	tokens float64
	at     time.Time
}

func (b *budget) take(now time.Time, rate, burst float64) bool {
	b.tokens = min(burst, b.tokens+now.Sub(b.at).Seconds()*rate)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// readers lend buffers to connections while they read a message; an idle
// connection holds none. They are small (a ping's or a subscribe's frame):
// a larger payload is read past them straight into its own slice, and the
// pool, emptied at every collection, makes little garbage refilling.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 512) }}

var errClosing = errors.New("the connection is closing")

// readLoop reads the client's frames until the connection ends, then
// releases everything it holds: the reader of a connection the poller does
// not watch (off Linux, or with bytes read before the upgrade completed).
func (c *wsConn) readLoop() {
	defer c.finish()
	src := &drainReader{conn: c.conn}
	var in io.Reader = src
	if len(c.early) > 0 {
		in = io.MultiReader(bytes.NewReader(c.early), src)
	}
	for {
		if len(c.early) == 0 && !waitReadable(c.conn, src.drained) {
			return
		}
		c.early = nil
		br := readers.Get().(*bufio.Reader)
		br.Reset(in)
		for {
			_ = c.conn.SetReadDeadline(time.Now().Add(wsFrameTimeout))
			if !c.readFrame(br) {
				br.Reset(nil)
				readers.Put(br)
				return
			}
			if br.Buffered() == 0 {
				break
			}
		}
		if !c.closing.Load() {
			_ = c.conn.SetReadDeadline(time.Time{})
		}
		br.Reset(nil)
		readers.Put(br)
		in = src
	}
}

// serveReadable reads what came on a connection the poller watches, then
// has it watched again; it runs only while there is something to read.
func (c *wsConn) serveReadable() {
	br := readers.Get().(*bufio.Reader)
	br.Reset(c.conn)
	defer func() {
		br.Reset(nil)
		readers.Put(br)
	}()
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(wsFrameTimeout))
		if !c.readFrame(br) {
			c.finish()
			return
		}
		if br.Buffered() == 0 {
			break
		}
	}
	if !c.t.poll.rearm(c) {
		c.finish()
	}
}

// drainReader remembers whether its last read took less than it asked
// for: the socket was empty then, so any byte that comes later wakes the
// poller, and waitReadable need not look first.
type drainReader struct {
	conn    net.Conn
	drained bool
}

func (d *drainReader) Read(p []byte) (int, error) {
	n, err := d.conn.Read(p)
	d.drained = n < len(p)
	return n, err
}

// readFrame reads and handles one frame; false ends the connection.
func (c *wsConn) readFrame(br *bufio.Reader) bool {
	h, err := ws.ReadHeader(br)
	if err != nil {
		return false
	}
	c.lastHeard.Store(time.Now().UnixNano())
	switch {
	case !h.Masked || h.Rsv != 0 || h.OpCode.IsReserved() || (h.OpCode.IsControl() && (!h.Fin || h.Length > 125)):
		c.closeWith(closeProtocolError, "invalid frame")
		return false
	case h.Length > wsMaxMessage || (h.OpCode == ws.OpContinuation && int64(len(c.fragments))+h.Length > wsMaxMessage):
		c.closeWith(closeTooBig, "message too big")
		return false
	}
	payload := make([]byte, h.Length)
	if _, err := io.ReadFull(br, payload); err != nil {
		return false
	}
	ws.Cipher(payload, h.Mask, 0)
	if c.closing.Load() { // waiting for the client's close: everything else is dropped
		return h.OpCode != ws.OpClose
	}
	c.mu.Lock()
	ok := c.msgs.take(time.Now(), wsMessageRate, wsMessageBurst)
	c.mu.Unlock()
	if !ok {
		c.closeWith(closePolicyViolation, "too many messages")
		return true
	}
	switch h.OpCode {
	case ws.OpClose: // answered, and the socket closed
		c.closeWith(closeNormal, "")
		return false
	case ws.OpPing:
		_ = c.write(ws.OpPong, payload)
		return true
	case ws.OpPong:
		return true
	case ws.OpContinuation:
		if c.fragments == nil {
			c.closeWith(closeProtocolError, "continuation without a message")
			return false
		}
		c.fragments = append(c.fragments, payload...)
		if !h.Fin {
			return true
		}
		payload, c.fragments = c.fragments, nil
	default: // text or binary
		if c.fragments != nil {
			c.closeWith(closeProtocolError, "a new message inside a fragmented one")
			return false
		}
		if !h.Fin {
			c.fragments = payload
			return true
		}
	}
	c.handle(payload)
	return true
}

// wsMessage is a client's message, either protocol.
type wsMessage struct {
	Type    string          `json:"type"`
	ID      *string         `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// handle acts on one message.
func (c *wsConn) handle(b []byte) {
	var m wsMessage
	if json.Unmarshal(b, &m) != nil {
		c.invalid("the message is not a JSON object with a type")
		return
	}
	switch m.Type {
	case "connection_init":
		c.init(m.Payload)
	case "ping":
		if !c.proto.legacy {
			_ = c.send(wsOut{Type: "pong"})
			return
		}
		c.invalid("unknown message type ping")
	case "pong":
		if c.proto.legacy {
			c.invalid("unknown message type pong")
		}
	case c.proto.subscribe:
		c.subscribe(m)
	case c.proto.stop:
		if m.ID == nil {
			c.invalid(m.Type + " needs an id")
			return
		}
		c.stop(*m.ID)
	case "connection_terminate":
		if c.proto.legacy {
			c.closeWith(closeNormal, "")
			return
		}
		c.invalid("unknown message type " + m.Type)
	default:
		c.invalid("unknown message type " + m.Type)
	}
}

// invalid ends the connection for a message the protocol does not allow:
// 4400 on graphql-transport-ws, 1002 on the older protocol.
func (c *wsConn) invalid(reason string) {
	if c.proto.legacy {
		c.closeWith(closeProtocolError, reason)
		return
	}
	c.closeWith(closeBadRequest, reason)
}

// init takes connection_init: the credential in its payload's
// Authorization opens the connection's session, or the connection closes
// with 4403.
func (c *wsConn) init(payload json.RawMessage) {
	c.mu.Lock()
	second := c.inited
	c.inited = true
	c.mu.Unlock()
	if second {
		if c.proto.legacy {
			c.closeWith(closeProtocolError, "Too many initialisation requests")
			return
		}
		c.closeWith(closeTooManyInits, "Too many initialisation requests")
		return
	}
	var fields map[string]json.RawMessage
	if p := bytes.TrimSpace(payload); len(p) > 0 && !bytes.Equal(p, []byte("null")) {
		if json.Unmarshal(p, &fields) != nil || fields == nil {
			c.invalid("the connection_init payload must be an object")
			return
		}
	}
	var raw string
	if v, ok := fields["Authorization"]; ok && json.Unmarshal(v, &raw) != nil {
		c.invalid("Authorization must be a string")
		return
	}
	if c.proto.legacy {
		// The older protocol's clients send start right behind
		// connection_init, without waiting for the ack: it is taken first.
		c.open(raw)
		return
	}
	go c.open(raw) // a database read, off the reader's stack
}

// open authenticates the connection's credential and acknowledges it.
func (c *wsConn) open(raw string) {
	ctx, cancel := context.WithTimeout(c.ctx, service.SessionCheckTimeout)
	defer cancel()
	ss, err := c.t.svc.OpenSession(ctx, raw, c.end)
	if err != nil {
		if c.proto.legacy {
			_ = c.send(wsOut{Type: "connection_error", Payload: errorPayload(err)})
		}
		if model.ErrorCode(err) == model.CodeUnauthenticated {
			c.closeWith(closeForbidden, "Forbidden")
		} else {
			c.closeWith(closeTryAgainLater, "the credential cannot be checked right now")
		}
		return
	}
	c.mu.Lock()
	if c.closing.Load() {
		c.mu.Unlock()
		ss.Close()
		return
	}
	c.raw, c.session, c.acked = raw, ss, true
	c.ctx = service.WithSession(service.WithEnd(c.ctx, c.end), ss)
	c.mu.Unlock()
	_ = c.send(wsOut{Type: c.proto.ack})
	c.timer.Reset(wsPingInterval)
}

// end is how the session and the subscriptions end the connection: 4403
// for a credential that no longer holds, 1013 (try again later) otherwise.
func (c *wsConn) end(code model.Code, reason string) {
	if code == model.CodeUnauthenticated {
		c.closeWith(closeForbidden, reason)
		return
	}
	c.closeWith(closeTryAgainLater, reason)
}

// tick is the connection's one timer: before the ack it is the init
// timeout (4408); after, every wsPingInterval it pings, and a client not
// heard from since the last ping is cut off.
func (c *wsConn) tick() {
	if c.closing.Load() {
		return
	}
	c.mu.Lock()
	acked := c.acked
	c.mu.Unlock()
	if !acked {
		if c.proto.legacy {
			c.closeWith(closeProtocolError, "Connection initialisation timeout")
			return
		}
		c.closeWith(closeInitTimeout, "Connection initialisation timeout")
		return
	}
	if time.Since(time.Unix(0, c.lastHeard.Load())) > 2*wsPingInterval {
		c.abort() // a dead peer: no close handshake to wait for
		return
	}
	_ = c.write(ws.OpPing, nil)
	if c.proto.legacy {
		_ = c.send(wsOut{Type: "ka"})
	}
	c.timer.Reset(wsPingInterval)
}

// wsOp is one operation running on a connection.
type wsOp struct {
	c      *wsConn
	id     string
	ctx    context.Context
	cancel context.CancelFunc
	base   context.Context // ctx with the operation as the service's Live
	sub    bool

	mu    sync.Mutex
	ready chan struct{} // closed once rc and stream are set
	// A subscription keeps its operation and its stream, and nothing of
	// gqlgen's execution: each event is resolved by dispatching the
	// operation again over the same stream (see liveStream), so an idle
	// subscription holds no resolver state, field contexts or caches.
	rc     *graphql.OperationContext
	stream any  // the subscription resolver's channel
	live   bool // the subscription started (see Started)
	done   bool
	// counted is where admit counted the operation: &c.subs, &c.running
	// (nil: not counted).
	counted *int
}

// subscribe takes a subscribe (start) message: its id is taken at once
// (4409 if in use), then the operation is parsed and run off the reader.
func (c *wsConn) subscribe(m wsMessage) {
	c.mu.Lock()
	acked := c.acked
	allowed := c.subscribes.take(time.Now(), wsSubscribeRate, wsSubscribeBurst)
	c.mu.Unlock()
	switch {
	case !acked && !c.proto.legacy:
		c.closeWith(closeUnauthorized, "Unauthorized")
		return
	case !acked:
		c.closeWith(closeProtocolError, "start before connection_init")
		return
	case m.ID == nil || *m.ID == "" || len(*m.ID) > 128:
		c.invalid("a subscribe message needs an id (a string of at most 128 bytes)")
		return
	case !allowed:
		c.closeWith(closePolicyViolation, "too many subscribe messages")
		return
	}
	body := bytes.TrimSpace(m.Payload)
	var env envelope
	if len(body) == 0 || body[0] != '{' || !parseEnvelope(body, &env) {
		c.invalid("the subscribe payload must be an object with a query string and optional variables and extensions objects")
		return
	}
	if env.DocumentID != nil {
		if err := env.useDocumentID(); err != nil {
			c.invalid(err.Error())
			return
		}
	}
	id := *m.ID
	c.mu.Lock()
	if c.op(id) != nil {
		c.mu.Unlock()
		if c.proto.legacy {
			c.closeWith(closeProtocolError, "Subscriber for "+id+" already exists")
			return
		}
		c.closeWith(closeIDInUse, "Subscriber for "+id+" already exists")
		return
	}
	if c.closing.Load() { // cancelOps has run, or will not see this one
		c.mu.Unlock()
		return
	}
	op := &wsOp{c: c, id: id, ready: make(chan struct{})}
	// Each operation reads its credential afresh and has loaders of its
	// own, as an HTTP request does.
	st := &httpState{loaders: loaders.New(c.t.batches), plans: c.t.plans}
	c.t.svc.Authenticator().Attach(&st.cred, c.raw)
	op.ctx, op.cancel = context.WithCancel(withState(c.ctx, st))
	c.ops = append(c.ops, op)
	c.mu.Unlock()
	go op.run(env)
}

// stop takes a complete (stop) message: the operation ends, without a
// complete in answer.
func (c *wsConn) stop(id string) {
	c.mu.Lock()
	op := c.op(id)
	c.mu.Unlock()
	if op != nil {
		op.finish(false)
	}
}

// run parses, authorises and runs one operation.
func (op *wsOp) run(env envelope) {
	c := op.c
	defer func() {
		if v := recover(); v != nil {
			c.t.log.ErrorContext(op.ctx, "panic in a WebSocket operation", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			op.fail(gqlerror.List{{Message: "internal error", Extensions: map[string]any{"code": string(model.CodeInternal)}}})
		}
	}()
	params := &graphql.RawParams{}
	env.params(params)
	start := graphql.Now()
	params.ReadTime = graphql.TraceTiming{Start: start, End: start}
	ctx := graphql.StartOperationTrace(op.ctx)
	rc, errs := c.exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := c.exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		if errcode.GetErrorKind(errs) == errcode.KindProtocol && !c.proto.legacy {
			op.fail(resp.Errors)
			return
		}
		op.result(resp)
		return
	}
	op.sub = rc.Operation != nil && rc.Operation.Operation == ast.Subscription
	if msg := op.admit(); msg != "" {
		op.result(&graphql.Response{Errors: gqlerror.List{{Message: msg, Extensions: map[string]any{"code": string(model.CodeRateLimited)}}}})
		return
	}
	// SECURITY: every operation is authorised against the credential's
	// current state; one that no longer holds closes the connection (4403)
	// instead of answering.
	if _, err := c.t.svc.Principal(op.ctx); err != nil {
		if model.ErrorCode(err) == model.CodeUnauthenticated {
			c.end(model.CodeUnauthenticated, service.ErrRevoked.Message)
			return
		}
		op.result(&graphql.Response{Errors: gqlerror.List{{Message: model.ErrorMessage(err), Extensions: map[string]any{"code": string(model.ErrorCode(err))}}}})
		return
	}
	if !op.sub {
		responses, rctx := c.exec.DispatchOperation(ctx, rc)
		op.result(responses(rctx))
		return
	}
	// The service's subscription runs in the operation's own context,
	// not in the chain of contexts gqlgen builds to resolve the field:
	// that chain is let go once subscribed.
	op.base = service.WithLive(op.ctx, op)
	responses, rctx := c.exec.DispatchOperation(context.WithValue(ctx, wsStreamKey{}, op), rc)
	stateOf(op.ctx).loaders = nil // each event has loaders of its own
	op.mu.Lock()
	op.rc = bareOperation(rc)
	live := op.live
	close(op.ready)
	if !live { // refused before it started: its errors, then complete
		if resp := responses(rctx); resp != nil {
			_ = c.send(wsOut{ID: op.id, Type: c.proto.next, Payload: mustJSON(resp)})
		}
		op.doneLocked(true)
	}
	op.mu.Unlock()
}

// wsStreamKey carries, to a subscription resolver, the WebSocket operation
// it resolves for (see liveStream).
type wsStreamKey struct{}

// liveStream is how a subscription resolver starts its stream. On a
// WebSocket connection the first call (the subscribe) starts it in the
// operation's own context and keeps it on the operation; each later call
// (one per event, see wsOp.render) returns that same stream, from which
// gqlgen reads the one event the service has just put on it. Elsewhere
// (SSE) it starts the stream in ctx.
func liveStream[T any](ctx context.Context, start func(context.Context) (<-chan T, error)) (<-chan T, error) {
	op, _ := ctx.Value(wsStreamKey{}).(*wsOp)
	if op == nil {
		return start(ctx)
	}
	if op.stream != nil {
		s, _ := op.stream.(<-chan T)
		return s, nil
	}
	s, err := start(op.base)
	if err == nil {
		op.stream = s
	}
	return s, err
}

// renderingEvent reports whether ctx resolves an event of a subscription
// already running (not an operation of its own).
func renderingEvent(ctx context.Context) bool {
	op, _ := ctx.Value(wsStreamKey{}).(*wsOp)
	return op != nil && op.stream != nil
}

// render resolves the subscription's next event (or its end: nil) by
// dispatching its operation again; loaders of the event's own are let go
// when it is written.
func (op *wsOp) render() *graphql.Response {
	st := stateOf(op.ctx)
	st.loaders = loaders.New(op.c.t.batches)
	defer func() { st.loaders = nil }()
	ctx := context.WithValue(graphql.StartOperationTrace(op.ctx), wsStreamKey{}, op)
	responses, rctx := op.c.exec.DispatchOperation(ctx, bareOperation(op.rc))
	return responses(rctx)
}

// bareOperation is rc without what its execution gathered (statistics,
// gqlgen's cache of collected fields): what a subscription keeps, and a
// fresh copy of it for each event.
func bareOperation(rc *graphql.OperationContext) *graphql.OperationContext {
	return &graphql.OperationContext{RawQuery: rc.RawQuery, Variables: rc.Variables, OperationName: rc.OperationName,
		Doc: rc.Doc, Extensions: rc.Extensions, Headers: rc.Headers, Operation: rc.Operation,
		DisableIntrospection: rc.DisableIntrospection, RecoverFunc: rc.RecoverFunc,
		ResolverMiddleware: rc.ResolverMiddleware, RootResolverMiddleware: rc.RootResolverMiddleware}
}

// admit counts the operation among the connection's running ones, or
// returns why it cannot run.
func (op *wsOp) admit() string {
	c := op.c
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case op.sub && c.subs >= c.t.maxSubs:
		return fmt.Sprintf("at most %d subscriptions per connection", c.t.maxSubs)
	case !op.sub && c.running >= wsMaxRunning:
		return fmt.Sprintf("at most %d queries and mutations at once per connection", wsMaxRunning)
	case op.sub:
		op.counted = &c.subs
	default:
		op.counted = &c.running
	}
	*op.counted++
	return ""
}

// Started tells the operation that its subscription is in place: its
// events come through Pull (service.Live).
func (op *wsOp) Started() {
	op.mu.Lock()
	op.live = true
	op.mu.Unlock()
}

// Pull takes the subscription's next response and sends it, before it
// returns (service.Live: no goroutine waits on the subscription's
// channel); the end of the stream completes the operation.
func (op *wsOp) Pull() {
	select {
	case <-op.ready:
	case <-op.ctx.Done():
		return
	}
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.done {
		return
	}
	resp := op.render()
	if resp == nil {
		op.doneLocked(true)
		return
	}
	_ = op.c.send(wsOut{ID: op.id, Type: op.c.proto.next, Payload: mustJSON(resp)})
}

// result sends a query's or mutation's response, then complete.
func (op *wsOp) result(resp *graphql.Response) {
	if resp != nil {
		_ = op.c.send(wsOut{ID: op.id, Type: op.c.proto.next, Payload: mustJSON(resp)})
	}
	op.finish(true)
}

// fail sends an operation's protocol errors (an error message), which end
// it.
func (op *wsOp) fail(errs gqlerror.List) {
	_ = op.c.send(wsOut{ID: op.id, Type: "error", Payload: mustJSON(errs)})
	op.finish(false)
}

// finish ends the operation, with a complete message if told.
func (op *wsOp) finish(complete bool) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.doneLocked(complete)
}

func (op *wsOp) doneLocked(complete bool) {
	if op.done {
		return
	}
	op.done = true
	op.cancel()
	c := op.c
	c.mu.Lock()
	if i := slices.Index(c.ops, op); i >= 0 {
		c.ops = slices.Delete(c.ops, i, i+1)
	}
	if op.counted != nil {
		*op.counted--
		op.counted = nil
	}
	c.mu.Unlock()
	if complete {
		_ = c.send(wsOut{ID: op.id, Type: "complete"})
	}
}

// wsOut is a server's message.
type wsOut struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`)
	}
	return b
}

func errorPayload(err error) json.RawMessage {
	return mustJSON(map[string]string{"message": model.ErrorMessage(err)})
}

// send writes one message as a text frame.
func (c *wsConn) send(m wsOut) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return c.write(ws.OpText, b)
}

var frames = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// write sends one frame within wsWriteTimeout; a client that does not take
// it in time is cut off. Nothing is written once the connection is
// closing.
func (c *wsConn) write(op ws.OpCode, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closing.Load() || c.broken {
		return errClosing
	}
	return c.writeLocked(op, payload, wsWriteTimeout)
}

func (c *wsConn) writeLocked(op ws.OpCode, payload []byte, timeout time.Duration) error {
	buf := frames.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 64<<10 {
			buf.Reset()
			frames.Put(buf)
		}
	}()
	buf.Reset()
	_ = ws.WriteHeader(buf, ws.Header{Fin: true, OpCode: op, Length: int64(len(payload))})
	buf.Write(payload)
	_ = c.conn.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := c.conn.Write(buf.Bytes()); err != nil {
		c.broken = true
		go c.finish() // not under wmu: the connection ends
		return err
	}
	return nil
}

// closeWith starts the closing handshake: nothing more is sent but the
// close frame (a write stalled on a client that does not read gives up at
// once), and the reader waits at most wsCloseTimeout for the client's
// close before the socket is closed.
func (c *wsConn) closeWith(code ws.StatusCode, reason string) {
	if !c.closing.CompareAndSwap(false, true) {
		return
	}
	c.cancelOps() // the operations end; nothing they produce is sent
	_ = c.conn.SetWriteDeadline(time.Now())
	c.wmu.Lock()
	if !c.broken {
		if len(reason) > 123 {
			reason = reason[:123]
		}
		_ = c.writeLocked(ws.OpClose, ws.NewCloseFrameBody(code, reason), wsCloseTimeout)
	}
	c.wmu.Unlock()
	_ = c.conn.SetReadDeadline(time.Now().Add(wsCloseTimeout))
	time.AfterFunc(wsCloseTimeout, c.finish) // the client's close is awaited no longer
}

// op is the operation with id (nil if none). A connection runs at most
// MaxSubscriptionsPerConnection subscriptions and wsMaxRunning other
// operations: a slice searched in order costs less than a map.
func (c *wsConn) op(id string) *wsOp {
	for _, op := range c.ops {
		if op.id == id {
			return op
		}
	}
	return nil
}

// cancelOps ends every operation of the connection (one that comes after
// closing is set is not started, see subscribe).
func (c *wsConn) cancelOps() {
	c.mu.Lock()
	ops := slices.Clone(c.ops)
	c.mu.Unlock()
	for _, op := range ops {
		op.cancel()
	}
}

// abort closes the socket without a closing handshake.
func (c *wsConn) abort() { c.finish() }

// finish releases what the connection holds, once, when its reader ends.
func (c *wsConn) finish() {
	c.finished.Do(func() {
		c.closing.Store(true)
		c.cancelOps()
		c.t.poll.remove(c) // before the socket closes: its descriptor is free then
		_ = c.conn.Close()
		c.timer.Stop()
		c.stopShutdown()
		c.mu.Lock()
		ss := c.session
		c.mu.Unlock()
		if ss != nil {
			ss.Close()
		}
		if c.release != nil {
			c.release()
		}
	})
}
