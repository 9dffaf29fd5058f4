package resolvers_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers"
	"github.com/residentportal/bff/resolvers/service"
	"github.com/residentportal/bff/rest"
	"github.com/residentportal/bff/rest/edge"
)

// live is a replica serving subscriptions over a real socket.
type live struct {
	store *db.DB
	svc   *service.Service
	srv   *httptest.Server
}

func newLive(tb testing.TB, url string) *live { return newLiveVia(tb, url, url) }

// newLiveVia is newLive with its revocation notices read with its queries
// from url, and its event notices from listenURL (a proxy that can fail
// them).
func newLiveVia(tb testing.TB, url, listenURL string) *live {
	return newLiveRouted(tb, url, url, listenURL)
}

// newLiveRouted is newLive with its queries, revocation notices and event
// notices each made to a URL of their own.
func newLiveRouted(tb testing.TB, url, revocationsURL, listenURL string) *live {
	tb.Helper()
	return newLiveCustom(tb, url, revocationsURL, listenURL, nil)
}

// newLiveCustom is newLiveRouted with the GraphQL options and the test
// server changed by tweak before it starts (nil: as they are).
func newLiveCustom(tb testing.TB, url, revocationsURL, listenURL string, tweak func(*resolvers.GraphQLOptions, *httptest.Server)) *live {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	store := dbtest.Must[*db.DB](tb)(db.Open(ctx, url, dbtest.Keys(tb), db.Options{}))
	revocations := dbtest.Must[*db.DB](tb)(db.Open(ctx, revocationsURL, dbtest.Keys(tb), db.Options{}))
	listener := dbtest.Must[*db.DB](tb)(db.Open(ctx, listenURL, dbtest.Keys(tb), db.Options{}))
	events := service.NewEvents()
	svc := service.New(store, dbtest.Keys(tb), service.Options{TokenTTL: time.Hour, Events: events})
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	done := make(chan struct{}, 3)
	go func() { revocations.ListenAuthChanges(ctx, svc.Authenticator(), quiet); done <- struct{}{} }()
	go func() { svc.Authenticator().WatchEpoch(ctx); done <- struct{}{} }()
	go func() {
		listener.Listen(ctx, db.EventsChannel, events.Notice, events.ListenerUp, quiet)
		done <- struct{}{}
	}()
	opts := resolvers.GraphQLOptions{ComplexityLimit: 50000, MaxBodyBytes: edge.MaxBodyBytes, Streams: ctx}
	srv := httptest.NewUnstartedServer(nil)
	if tweak != nil {
		tweak(&opts, srv)
	}
	gql := resolvers.NewGraphQLHandler(svc, opts)
	srv.Config.Handler = rest.NewHandler(rest.Deps{Service: svc, Log: quiet, Metrics: edge.NewMetrics(),
		RequestTimeout: 2 * time.Second, PublicBaseURL: "http://localhost", GraphQL: gql})
	srv.Start()
	tb.Cleanup(func() {
		cancel()
		srv.Close()
		<-done
		<-done
		<-done
		store.Close()
		revocations.Close()
		listener.Close()
	})
	eventually(tb, "revocation listener up", svc.Authenticator().Caching)
	eventually(tb, "event listener up", events.Up)
	return &live{store: store, svc: svc, srv: srv}
}

type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// dial opens a graphql-transport-ws connection and sends connection_init.
func (l *live) dial(tb testing.TB, credential string) *websocket.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(l.srv.URL, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.CloseNow() })
	payload, _ := json.Marshal(map[string]string{"Authorization": credential})
	if err := wsjson.Write(ctx, c, wsMessage{Type: "connection_init", Payload: payload}); err != nil {
		tb.Fatal(err)
	}
	return c
}

// next reads messages until one of type want (skipping pings), or fails.
func next(tb testing.TB, c *websocket.Conn, want string) wsMessage {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		var m wsMessage
		if err := wsjson.Read(ctx, c, &m); err != nil {
			tb.Fatalf("waiting for %s: %v", want, err)
		}
		if m.Type == "ping" || m.Type == "pong" {
			continue
		}
		if m.Type != want {
			tb.Fatalf("got %s %s, want %s", m.Type, m.Payload, want)
		}
		return m
	}
}

// closedWith waits for the server to close c and returns the close code.
func closedWith(tb testing.TB, c *websocket.Conn) (websocket.StatusCode, time.Duration) {
	tb.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		var m wsMessage
		if err := wsjson.Read(ctx, c, &m); err != nil {
			return websocket.CloseStatus(err), time.Since(start)
		}
	}
}

const unitSub = `subscription($p: ID!) { unitUpdated(propertyId: $p) { id description users { totalCount edges { node { userName } } } } }`

func subscribe(tb testing.TB, c *websocket.Conn, id, query string, vars map[string]any) {
	tb.Helper()
	payload, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err := wsjson.Write(context.Background(), c, wsMessage{ID: id, Type: "subscribe", Payload: payload}); err != nil {
		tb.Fatal(err)
	}
}

func TestSubscriptionsOverWebSocket(t *testing.T) {
	url := dbtest.NewURL(t)
	a, b := newLive(t, url), newLive(t, url) // two replicas on one database
	ctx := context.Background()
	f := newFixture(t, a.store, db.PropertyInput{TenantSetDpsk: dbtest.Ptr(true)})
	token := dbtest.Must[service.LoginResult](t)(a.svc.Login(ctx, f.property.ID, f.unit.PortalSecret)).Token
	scope := model.PropertyScope(f.property.ID)
	vars := map[string]any{"p": f.property.ID}

	t.Run("a change made elsewhere arrives, with fresh nested data", func(t *testing.T) {
		c := a.dial(t, token)
		next(t, c, "connection_ack")
		subscribe(t, c, "1", unitSub, vars)
		eventually(t, "subscribed", func() bool { return a.svc != nil && subscribers(a) == 1 })
		// Written through replica b's store, as portalctl or SQL would.
		dbtest.Must[model.UnitUser](t)(b.store.CreateUnitUser(ctx, scope, f.unit.Unit.ID, "Study", "", ""))
		m := next(t, c, "next")
		if !strings.Contains(string(m.Payload), `"totalCount":2`) || !strings.Contains(string(m.Payload), `"Study"`) {
			t.Fatalf("event: %s", m.Payload)
		}
		// A burst of 100 changes: events may be coalesced, the last has the final state.
		for i := range 100 {
			dbtest.Must[model.UnitUpdateResult](t)(b.store.UpdateUnit(ctx, scope, f.unit.Unit.ID, model.UnitUpdate{Description: dbtest.Ptr(fmt.Sprint("burst ", i))}))
		}
		events := 0
		for {
			m := next(t, c, "next")
			events++
			if strings.Contains(string(m.Payload), `"description":"burst 99"`) {
				break
			}
		}
		t.Logf("100 changes in a burst arrived as %d events, the last with the final state", events)
	})

	t.Run("the neighbour's unit is not the resident's to subscribe", func(t *testing.T) {
		c := a.dial(t, token)
		next(t, c, "connection_ack")
		subscribe(t, c, "1", `subscription($p: ID!, $u: ID) { unitUpdated(propertyId: $p, unitId: $u) { id } }`,
			map[string]any{"p": f.property.ID, "u": f.neighbour.Unit.ID})
		// A resolver error: one result with the error, then complete.
		m := next(t, c, "next")
		if !strings.Contains(string(m.Payload), `"code":"NOT_FOUND"`) || strings.Contains(string(m.Payload), f.neighbour.Unit.ID.String()) {
			t.Fatalf("%s", m.Payload)
		}
		next(t, c, "complete")
	})

	t.Run("a manager names the unit", func(t *testing.T) {
		key := dbtest.Must[db.CreatedManagerKey](t)(a.store.CreateManagerKey(ctx, f.property.ID)).Key
		c := a.dial(t, key)
		next(t, c, "connection_ack")
		subscribe(t, c, "none", `subscription($p: ID!) { unitUpdated(propertyId: $p) { id } }`, vars)
		if m := next(t, c, "next"); !strings.Contains(string(m.Payload), "BAD_USER_INPUT") {
			t.Fatalf("without unitId: %s", m.Payload)
		}
		next(t, c, "complete")
		subscribe(t, c, "1", `subscription($p: ID!, $u: ID) { unitUpdated(propertyId: $p, unitId: $u) { number description } }`,
			map[string]any{"p": f.property.ID, "u": f.neighbour.Unit.ID})
		eventually(t, "subscribed", func() bool { return subscribers(a) == 1 })
		dbtest.Must[model.UnitUpdateResult](t)(b.store.UpdateUnit(ctx, scope, f.neighbour.Unit.ID, model.UnitUpdate{Description: dbtest.Ptr("managed")}))
		if m := next(t, c, "next"); !strings.Contains(string(m.Payload), `"number":"102","description":"managed"`) {
			t.Fatalf("%s", m.Payload)
		}
		c.Close(websocket.StatusNormalClosure, "")
		eventually(t, "unsubscribed", func() bool { return subscribers(a) == 0 })
	})

	t.Run("a bad credential is closed with 4403", func(t *testing.T) {
		c := a.dial(t, "not-a-token")
		if code, _ := closedWith(t, c); code != 4403 {
			t.Fatalf("close code %d", code)
		}
	})

	t.Run("revocation on the other replica closes with 4403 within 1 s", func(t *testing.T) {
		c := a.dial(t, token)
		next(t, c, "connection_ack")
		subscribe(t, c, "1", unitSub, vars)
		eventually(t, "subscribed", func() bool { return subscribers(a) >= 1 })
		dbtest.Must[model.Unit](t)(b.store.SetUnitStatus(ctx, scope, f.unit.Unit.ID, model.UnitDisabled))
		code, took := closedWith(t, c)
		if code != 4403 || took > time.Second {
			t.Fatalf("close code %d after %v", code, took)
		}
		t.Logf("closed with 4403 %v after the unit was disabled on the other replica", took.Round(time.Millisecond))
		eventually(t, "unsubscribed", func() bool { return subscribers(a) == 0 })
	})
}

func subscribers(l *live) int { return l.svc.Events().Subscribers() }

func TestSubscriptionsOverSSE(t *testing.T) {
	l := newLive(t, dbtest.NewURL(t))
	ctx := context.Background()
	f := newFixture(t, l.store, db.PropertyInput{})
	token := dbtest.Must[service.LoginResult](t)(l.svc.Login(ctx, f.property.ID, f.unit.PortalSecret)).Token
	body, _ := json.Marshal(map[string]any{"query": `subscription($p: ID!) { changeRequestUpdated(propertyId: $p) { kind status } }`,
		"variables": map[string]any{"p": f.property.ID}})
	req, _ := http.NewRequest("POST", l.srv.URL+"/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", token)
	resp := dbtest.Must[*http.Response](t)(http.DefaultClient.Do(req))
	defer resp.Body.Close()
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	read := func(want string) time.Duration {
		start := time.Now()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("the stream ended before %q", want)
				}
				if strings.Contains(line, want) {
					return time.Since(start)
				}
			case <-timeout:
				t.Fatalf("no %q within 10 s", want)
			}
		}
	}
	eventually(t, "subscribed", func() bool { return subscribers(l) == 1 })
	dbtest.Must[model.UnitUpdateResult](t)(l.store.UpdateUnit(ctx, model.PropertyScope(f.property.ID), f.unit.Unit.ID, model.UnitUpdate{Secret: dbtest.Ptr("")}))
	read(`"kind":"PASSPHRASE_CHANGED","status":"PENDING"`)
	dbtest.Must[model.UnitUpdateResult](t)(l.store.UpdateUnit(ctx, model.PropertyScope(f.property.ID), f.unit.Unit.ID, model.UnitUpdate{ResetPortalAccess: true}))
	took := read(`"code":"UNAUTHENTICATED"`)
	if took > time.Second {
		t.Fatalf("revocation reached the SSE stream after %v", took)
	}
	for range lines { // then the stream ends
	}
	eventually(t, "unsubscribed", func() bool { return subscribers(l) == 0 })
}

// Connecting, subscribing and leaving leaves no goroutine behind.
func TestSubscriptionsLeaveNoGoroutines(t *testing.T) {
	l := newLive(t, dbtest.NewURL(t))
	ctx := context.Background()
	f := newFixture(t, l.store, db.PropertyInput{})
	token := dbtest.Must[service.LoginResult](t)(l.svc.Login(ctx, f.property.ID, f.unit.PortalSecret)).Token
	cycle := func() {
		c := l.dial(t, token)
		next(t, c, "connection_ack")
		subscribe(t, c, "1", unitSub, map[string]any{"p": f.property.ID})
		awaitSubscribed(t, l, c)
		c.Close(websocket.StatusNormalClosure, "")
		eventually(t, "unsubscribed", func() bool { return subscribers(l) == 0 })
	}
	cycle()
	base := runtime.NumGoroutine()
	for range 500 {
		cycle()
	}
	var now int
	eventually(t, "goroutines back to the baseline", func() bool { now = runtime.NumGoroutine(); return now <= base+5 })
	t.Logf("goroutines: %d after one cycle, %d after 500 more", base, now)
}

// What a client can get wrong on a WebSocket gets the protocol's close
// code, never a panic, and leaves no goroutine behind.
func TestWebSocketProtocolAbuse(t *testing.T) {
	l := newLive(t, dbtest.NewURL(t))
	ctx := context.Background()
	f := newFixture(t, l.store, db.PropertyInput{})
	token := dbtest.Must[service.LoginResult](t)(l.svc.Login(ctx, f.property.ID, f.unit.PortalSecret)).Token
	raw := func(t *testing.T) *websocket.Conn {
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(l.srv.URL, "http")+"/graphql",
			&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		return c
	}
	base := runtime.NumGoroutine()
	for _, c := range []struct {
		name  string
		send  func(c *websocket.Conn) error
		codes []websocket.StatusCode
	}{
		{"MalformedFrame", func(c *websocket.Conn) error { return c.Write(ctx, websocket.MessageText, []byte("{not json")) },
			[]websocket.StatusCode{4400, websocket.StatusProtocolError}},
		{"UnknownType", func(c *websocket.Conn) error { return wsjson.Write(ctx, c, wsMessage{Type: "launch_missiles"}) },
			[]websocket.StatusCode{4400, websocket.StatusProtocolError}},
		{"SubscribeBeforeInit", func(c *websocket.Conn) error {
			return wsjson.Write(ctx, c, wsMessage{ID: "1", Type: "subscribe", Payload: json.RawMessage(`{"query":"subscription { __typename }"}`)})
		}, []websocket.StatusCode{4401, 4400, websocket.StatusProtocolError}},
		{"OversizedMessage", func(c *websocket.Conn) error {
			return c.Write(ctx, websocket.MessageText, []byte(`{"type":"connection_init","payload":{"x":"`+strings.Repeat("x", 100<<10)+`"}}`))
		}, []websocket.StatusCode{websocket.StatusMessageTooBig, 4400, websocket.StatusProtocolError}},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn := raw(t)
			_ = c.send(conn)
			code, _ := closedWith(t, conn)
			if !slices.Contains(c.codes, code) {
				t.Fatalf("close code %d, want one of %v", code, c.codes)
			}
			t.Logf("closed with %d", code)
		})
	}
	t.Run("SecondInit", func(t *testing.T) {
		c := l.dial(t, token)
		next(t, c, "connection_ack")
		payload, _ := json.Marshal(map[string]string{"Authorization": token})
		_ = wsjson.Write(ctx, c, wsMessage{Type: "connection_init", Payload: payload})
		code, _ := closedWith(t, c)
		if code != 4429 && code != 4400 && code != websocket.StatusProtocolError {
			t.Fatalf("close code %d", code)
		}
		t.Logf("closed with %d", code)
	})
	t.Run("TooManySubscriptions", func(t *testing.T) {
		c := l.dial(t, token)
		next(t, c, "connection_ack")
		for i := range resolvers.DefaultMaxSubscriptionsPerConnection {
			subscribe(t, c, fmt.Sprint(i), unitSub, map[string]any{"p": f.property.ID})
		}
		eventually(t, "subscribed", func() bool { return subscribers(l) == resolvers.DefaultMaxSubscriptionsPerConnection })
		subscribe(t, c, "one-too-many", unitSub, map[string]any{"p": f.property.ID})
		m := next(t, c, "next")
		if m.ID != "one-too-many" || !strings.Contains(string(m.Payload), "RATE_LIMITED") {
			t.Fatalf("%s %s", m.ID, m.Payload)
		}
		c.Close(websocket.StatusNormalClosure, "")
		eventually(t, "unsubscribed", func() bool { return subscribers(l) == 0 })
	})
	t.Run("TooManyStreamsFromOneAddress", func(t *testing.T) {
		var conns []*websocket.Conn
		for range resolvers.DefaultMaxStreamsPerClient {
			c := l.dial(t, token)
			next(t, c, "connection_ack")
			conns = append(conns, c)
		}
		_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(l.srv.URL, "http")+"/graphql",
			&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("one stream too many: %v %v", err, resp)
		}
		for _, c := range conns {
			c.Close(websocket.StatusNormalClosure, "")
		}
	})
	var now int
	eventually(t, "goroutines back to the baseline", func() bool { now = runtime.NumGoroutine(); return now <= base+5 })
}

// subscribedBehindProxy starts a live server whose notice connection goes
// through a proxy the test can slow or freeze, and subscribes a resident
// (token) to their unit on c.
func subscribedBehindProxy(t *testing.T) (*live, *dbtest.Proxy, fixture, string, *websocket.Conn) {
	t.Helper()
	url := dbtest.NewURL(t)
	proxy := dbtest.NewProxy(t, url)
	l := newLiveVia(t, url, proxy.URL(url))
	f, token, c := subscribedResident(t, l, unitSub)
	return l, proxy, f, token, c
}

// awaitSubscribed waits until l holds one subscription, the one just sent
// on c; if it never comes, it fails with what c received instead.
func awaitSubscribed(tb testing.TB, l *live, c *websocket.Conn) {
	tb.Helper()
	for start := time.Now(); time.Since(start) < 10*time.Second; {
		if subscribers(l) == 1 {
			return
		}
		<-time.After(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var m wsMessage
	err := wsjson.Read(ctx, c, &m)
	tb.Fatalf("not subscribed within 10 s; the connection then gave %s %s (%v, close %d)", m.Type, m.Payload, err, websocket.CloseStatus(err))
}

// subscribedResident makes a property with a unit on l and subscribes its
// resident (token) to query on c.
func subscribedResident(t *testing.T, l *live, query string) (fixture, string, *websocket.Conn) {
	t.Helper()
	f := newFixture(t, l.store, db.PropertyInput{})
	token := dbtest.Must[service.LoginResult](t)(l.svc.Login(context.Background(), f.property.ID, f.unit.PortalSecret)).Token
	c := l.dial(t, token)
	next(t, c, "connection_ack")
	subscribe(t, c, "1", query, map[string]any{"p": f.property.ID})
	awaitSubscribed(t, l, c)
	return f, token, c
}

// When the notice connection stalls, subscribers are told (close 1013, try
// again later, once the connection has not answered for listenGiveUp)
// instead of being starved, subscribing is refused while it is away, and
// works again once the listener is back.
func TestSubscribersToldWhenEventsStall(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of stalls on purpose: make test runs it, make check does not")
	}
	l, proxy, f, token, c := subscribedBehindProxy(t)
	ctx := context.Background()
	vars := map[string]any{"p": f.property.ID}
	proxy.Freeze()
	code, took := closedWith(t, c)
	if code != 1013 {
		t.Fatalf("close code %d", code)
	}
	t.Logf("the subscriber was told after %v (close 1013)", took.Round(time.Millisecond))
	// Once the listener has reconnected (new connections pass the proxy),
	// subscribing again works and events flow.
	var again *websocket.Conn
	eventually(t, "subscribed again", func() bool {
		again = l.dial(t, token)
		next(t, again, "connection_ack")
		subscribe(t, again, "1", unitSub, vars)
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
			if subscribers(l) == 1 {
				return true
			}
			<-time.After(10 * time.Millisecond)
		}
		again.CloseNow() // refused with UNAVAILABLE while the listener is away
		return false
	})
	dbtest.Must[model.UnitUpdateResult](t)(l.store.UpdateUnit(ctx, model.PropertyScope(f.property.ID), f.unit.Unit.ID,
		model.UnitUpdate{Description: dbtest.Ptr("after the stall")}))
	for {
		if m := next(t, again, "next"); strings.Contains(string(m.Payload), "after the stall") {
			break
		}
	}
}

// A notice connection that is only slow to answer (a loaded machine: its
// proof comes back late, within listenGiveUp) keeps its subscribers —
// nothing sent on it is lost — and a change made meanwhile reaches them
// once it answers.
func TestSubscribersKeptWhileEventsAreSlow(t *testing.T) {
	l, proxy, f, _, c := subscribedBehindProxy(t)
	ctx := context.Background()
	// Longer than a quiet spell and its proof (0.5 s), shorter than
	// giving the connection up (5 s).
	proxy.Slow(2 * time.Second)
	start := time.Now()
	dbtest.Must[model.UnitUpdateResult](t)(l.store.UpdateUnit(ctx, model.PropertyScope(f.property.ID), f.unit.Unit.ID,
		model.UnitUpdate{Description: dbtest.Ptr("while slow")}))
	for {
		if m := next(t, c, "next"); strings.Contains(string(m.Payload), "while slow") {
			break
		}
	}
	if took := time.Since(start); took < 1500*time.Millisecond {
		t.Fatalf("the event came after %v: the notice connection was not held back", took)
	}
	if subscribers(l) != 1 {
		t.Fatal("the subscriber was dropped")
	}
}

// When the database cannot be reached to check a subscriber's credential
// again, the subscription is ended as interrupted (close 1013, try again
// later), never as revoked (4403, which tells a client to sign in again):
// an outage is not a revocation.
func TestSubscribersToldWhenCredentialsCannotBeChecked(t *testing.T) {
	url := dbtest.NewURL(t)
	proxy := dbtest.NewProxy(t, url)
	l := newLiveVia(t, proxy.URL(url), url) // queries and revocation notices through the proxy; events direct
	_, _, c := subscribedResident(t, l, unitSub)

	// The database becomes unreachable: open connections reset, new ones
	// hang (let go when the test ends).
	proxy.Hold(true)
	t.Cleanup(func() { proxy.Hold(false); proxy.Cut() })
	proxy.Cut()
	code, took := closedWith(t, c)
	if code != 1013 {
		t.Fatalf("close code %d after %v, want 1013", code, took)
	}
	t.Logf("with the database unreachable the subscriber was told after %v (close 1013)", took.Round(time.Millisecond))
}

// An event whose state cannot be read (here its table no longer has a
// column the read needs) ends the subscription as interrupted (close
// 1013): dropped, it would leave the subscriber with a state the last
// event does not match.
func TestSubscribersToldWhenAnEventCannotBeRead(t *testing.T) {
	for _, c := range []struct{ name, query, break_, notice string }{
		{"unit", unitSub, "ALTER TABLE units RENAME COLUMN description TO description_gone", "u:%[1]s"},
		{"change request", `subscription($p: ID!) { changeRequestUpdated(propertyId: $p) { id status } }`,
			"ALTER TABLE change_requests RENAME COLUMN detail TO detail_gone", "c:%[2]s:%[1]s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newLive(t, dbtest.NewURL(t))
			ctx := context.Background()
			f, _, ws := subscribedResident(t, l, c.query)
			change := dbtest.Must[[]model.ChangeRequest](t)(l.store.ChangeRequestsByUnit(ctx, f.unit.Unit.ID))[0].ID
			if _, err := l.store.Pool().Exec(ctx, c.break_); err != nil {
				t.Fatal(err)
			}
			if _, err := l.store.Pool().Exec(ctx, `SELECT pg_notify($1, $2)`, db.EventsChannel, fmt.Sprintf(c.notice, f.unit.Unit.ID, change)); err != nil {
				t.Fatal(err)
			}
			if code, _ := closedWith(t, ws); code != 1013 {
				t.Fatalf("close code %d, want 1013", code)
			}
		})
	}
}

// A subscription checks its credential when a notice says it may have
// changed, not on a timer; so its token's expiry, which no notice
// announces, ends it by itself (close 4403) as it passes.
func TestSubscriptionEndsWhenItsTokenExpires(t *testing.T) {
	l := newLive(t, dbtest.NewURL(t))
	f := newFixture(t, l.store, db.PropertyInput{})
	login := dbtest.Must[service.LoginResult](t)(l.svc.Login(context.Background(), f.property.ID, f.unit.PortalSecret)).Token
	short := dbtest.Must[model.UnitToken](t)(dbtest.Keys(t).ParseToken(login, time.Now()))
	short.ExpiresAt = time.Now().Add(1500 * time.Millisecond)
	signed := dbtest.Keys(t).SignToken(short)
	short = dbtest.Must[model.UnitToken](t)(dbtest.Keys(t).ParseToken(signed, time.Now())) // its expiry as signed (whole seconds)
	c := l.dial(t, signed)
	next(t, c, "connection_ack")
	subscribe(t, c, "1", unitSub, map[string]any{"p": f.property.ID})
	awaitSubscribed(t, l, c)
	code, _ := closedWith(t, c)
	late := time.Since(short.ExpiresAt)
	if code != 4403 || late < 0 || late > time.Second {
		t.Fatalf("close code %d, %v after the token expired", code, late)
	}
	t.Logf("closed with 4403 %v after the token expired", late.Round(time.Millisecond))
}

// While revocation notices cannot arrive, the auth epoch stands in for
// them, so a revocation made then still ends a subscription within a
// second (close 4403).
func TestSubscriptionRevokedWhileNoticesAreAway(t *testing.T) {
	url := dbtest.NewURL(t)
	proxy := dbtest.NewProxy(t, url)
	l := newLiveRouted(t, url, proxy.URL(url), url) // revocation notices alone through the proxy
	f, _, c := subscribedResident(t, l, unitSub)
	proxy.Hold(true) // the revocation listener cannot come back
	t.Cleanup(func() { proxy.Hold(false); proxy.Cut() })
	proxy.Cut()
	eventually(t, "revocation notices away", func() bool { return !l.svc.Authenticator().Caching() })
	dbtest.Must[model.Unit](t)(l.store.SetUnitStatus(context.Background(), model.PropertyScope(f.property.ID), f.unit.Unit.ID, model.UnitDisabled))
	code, took := closedWith(t, c)
	if code != 4403 || took > time.Second {
		t.Fatalf("close code %d after %v", code, took)
	}
	t.Logf("closed with 4403 %v after the unit was disabled, with no revocation notice", took.Round(time.Millisecond))
}
