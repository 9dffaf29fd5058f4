package resolvers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers"
	"github.com/residentportal/bff/resolvers/service"
	"github.com/residentportal/bff/rest/edge"
)

// The live channel as an attacker and as a client library would use it:
// every operation authorised against the credential's current state,
// sockets that always close, the protocol's own close codes.

const unitQuery = `query($p: ID!, $u: ID) { unit(propertyId: $p, unitId: $u) { secret } }`

// query runs a query over c as operation id and returns its next message.
func query(tb testing.TB, c *websocket.Conn, id string, vars map[string]any) wsMessage {
	tb.Helper()
	subscribe(tb, c, id, unitQuery, vars)
	m := next(tb, c, "next")
	next(tb, c, "complete")
	return m
}

// A credential revoked or expired while a connection is open closes it
// with 4403 within 1 s of the revoking commit, whatever it is doing: here
// it runs queries only (no subscription), which kept their access before.
// A connection made with it afterwards is refused with 4403 too.
func TestRevocationClosesAConnectionOfQueries(t *testing.T) {
	url := dbtest.NewURL(t)
	l := newLive(t, url)
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		manager bool
		revoke  func(t *testing.T, f fixture, keyID uuid.UUID)
	}{
		{"token reset", false, func(t *testing.T, f fixture, _ uuid.UUID) {
			dbtest.Must[model.UnitUpdateResult](t)(l.store.UpdateUnit(ctx, model.PropertyScope(f.property.ID), f.unit.Unit.ID,
				model.UnitUpdate{Status: dbtest.Ptr(model.StatusTokenReset)}))
		}},
		{"unit disabled", false, func(t *testing.T, f fixture, _ uuid.UUID) {
			dbtest.Must[model.Unit](t)(l.store.SetUnitStatus(ctx, model.PropertyScope(f.property.ID), f.unit.Unit.ID, model.UnitDisabled))
		}},
		{"portal off", false, func(t *testing.T, f fixture, _ uuid.UUID) {
			dbtest.Must[model.Property](t)(l.store.UpdateProperty(ctx, f.property.ID, db.PropertyInput{PortalAllowed: dbtest.Ptr(false)}))
		}},
		{"manager key revoked", true, func(t *testing.T, _ fixture, keyID uuid.UUID) {
			dbtest.Must[model.ManagerKey](t)(l.store.RevokeManagerKey(ctx, keyID))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, l.store, db.PropertyInput{})
			credential := dbtest.Must[service.LoginResult](t)(l.svc.Login(ctx, f.property.ID, f.unit.PortalSecret)).Token
			var keyID uuid.UUID
			vars := map[string]any{"p": f.property.ID}
			if tt.manager {
				k := dbtest.Must[db.CreatedManagerKey](t)(l.store.CreateManagerKey(ctx, f.property.ID))
				credential, keyID = k.Key, k.ManagerKey.ID
				vars["u"] = f.unit.Unit.ID
			}
			c := l.dial(t, credential)
			next(t, c, "connection_ack")
			if m := query(t, c, "before", vars); !strings.Contains(string(m.Payload), `"secret"`) {
				t.Fatalf("before the revocation: %s", m.Payload)
			}
			tt.revoke(t, f, keyID)
			code, took := closedWith(t, c)
			if code != 4403 || took > time.Second {
				t.Fatalf("close code %d after %v, want 4403 within 1 s", code, took)
			}
			t.Logf("closed with 4403 %v after the commit", took.Round(time.Millisecond))
			again := l.dial(t, credential)
			if code, _ := closedWith(t, again); code != 4403 {
				t.Fatalf("a new connection with the revoked credential: close code %d", code)
			}
		})
	}
	t.Run("token expired", func(t *testing.T) {
		f := newFixture(t, l.store, db.PropertyInput{})
		login := dbtest.Must[service.LoginResult](t)(l.svc.Login(ctx, f.property.ID, f.unit.PortalSecret)).Token
		short := dbtest.Must[model.UnitToken](t)(dbtest.Keys(t).ParseToken(login, time.Now()))
		short.ExpiresAt = time.Now().Add(1500 * time.Millisecond)
		signed := dbtest.Keys(t).SignToken(short)
		short = dbtest.Must[model.UnitToken](t)(dbtest.Keys(t).ParseToken(signed, time.Now()))
		c := l.dial(t, signed)
		next(t, c, "connection_ack")
		query(t, c, "before", map[string]any{"p": f.property.ID})
		code, _ := closedWith(t, c)
		if late := time.Since(short.ExpiresAt); code != 4403 || late > time.Second {
			t.Fatalf("close code %d, %v after the expiry", code, late)
		}
	})
}

// With revocation notices away (nothing cached: every check reads the
// database), a query sent right after the revoking commit is not answered:
// the connection closes with 4403 instead.
func TestQueryAfterRevocationIsNotAnswered(t *testing.T) {
	url := dbtest.NewURL(t)
	proxy := dbtest.NewProxy(t, url)
	l := newLiveRouted(t, url, proxy.URL(url), url)
	proxy.Hold(true)
	t.Cleanup(func() { proxy.Hold(false); proxy.Cut() })
	proxy.Cut()
	eventually(t, "revocation notices away", func() bool { return !l.svc.Authenticator().Caching() })
	ctx := context.Background()
	f := newFixture(t, l.store, db.PropertyInput{TenantSetDpsk: dbtest.Ptr(true)})
	token := dbtest.Must[service.LoginResult](t)(l.svc.Login(ctx, f.property.ID, f.unit.PortalSecret)).Token
	c := l.dial(t, token)
	next(t, c, "connection_ack")
	vars := map[string]any{"p": f.property.ID}
	query(t, c, "before", vars)
	dbtest.Must[model.UnitUpdateResult](t)(l.store.UpdateUnit(ctx, model.PropertyScope(f.property.ID), f.unit.Unit.ID,
		model.UnitUpdate{Secret: dbtest.Ptr("after-the-revocation-1")}))
	dbtest.Must[model.Unit](t)(l.store.SetUnitStatus(ctx, model.PropertyScope(f.property.ID), f.unit.Unit.ID, model.UnitDisabled))
	subscribe(t, c, "after", unitQuery, vars)
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for {
		var m wsMessage
		err := wsjson.Read(rctx, c, &m)
		if err != nil {
			if code := websocket.CloseStatus(err); code != 4403 {
				t.Fatalf("close code %d (%v), want 4403", code, err)
			}
			return
		}
		if m.Type == "next" {
			t.Fatalf("the query after the revocation was answered: %s", m.Payload)
		}
	}
}

// rawDial opens a WebSocket with gobwas's client, the socket's receive
// buffer set to rcvbuf bytes when positive, and returns the connection.
func rawDial(tb testing.TB, url string, rcvbuf int, protocols ...string) net.Conn {
	tb.Helper()
	if protocols == nil {
		protocols = []string{"graphql-transport-ws"}
	}
	d := ws.Dialer{Protocols: protocols, Timeout: 5 * time.Second, NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil && rcvbuf > 0 {
			_ = c.(*net.TCPConn).SetReadBuffer(rcvbuf)
		}
		return c, err
	}}
	conn, br, _, err := d.Dial(context.Background(), "ws"+strings.TrimPrefix(url, "http")+"/graphql")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	if br != nil { // frames the server sent right behind its handshake
		return bufferedConn{conn, br}
	}
	return conn
}

type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (c bufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

func rawSend(tb testing.TB, c net.Conn, v any) {
	tb.Helper()
	b, ok := v.([]byte)
	if !ok {
		b, _ = json.Marshal(v)
	}
	if err := wsutil.WriteClientText(c, b); err != nil {
		tb.Fatal(err)
	}
}

// rawClose reads c until the server closes it and returns the close code
// (0 for a connection that ended without a close frame) and everything
// read before it.
func rawClose(tb testing.TB, c net.Conn, within time.Duration) (ws.StatusCode, []byte) {
	tb.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	var all []byte
	for {
		msg, err := wsutil.ReadServerText(c)
		var ce wsutil.ClosedError
		switch {
		case err == nil:
			all = append(append(all, msg...), '\n')
		case errorsAs(err, &ce):
			return ce.Code, all
		default:
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				tb.Fatalf("still open after %v", within)
			}
			return 0, all
		}
	}
}

func errorsAs(err error, ce *wsutil.ClosedError) bool {
	if e, ok := err.(wsutil.ClosedError); ok {
		*ce = e
		return true
	}
	return false
}

// openConnections serves l-like replicas on a listener that counts its
// connections (portal_http_connections_open), as portald's does.
func openConnections(reg *prometheus.Registry) func() float64 {
	return func() float64 {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "portal_http_connections_open" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		return -1
	}
}

// A connection_init whose payload is not an object closes the connection
// (4400) and its socket, even when the client never closes its side:
// 1,000 of them leave no socket open, and a new connection is served.
func TestBadInitLeavesNoSocket(t *testing.T) {
	reg := prometheus.NewRegistry()
	url := dbtest.NewURL(t)
	l := newLiveCustom(t, url, url, url, func(o *resolvers.GraphQLOptions, srv *httptest.Server) {
		o.MaxStreamsPerClient = 2000
		srv.Listener = edge.LimitConnections(srv.Listener, edge.ConnLimits{Total: 5000, PerClient: 5000}, reg)
	})
	open := openConnections(reg)
	const n = 1000
	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	for i := range conns {
		conns[i] = rawDial(t, l.srv.URL, 0)
	}
	for _, c := range conns {
		wg.Go(func() { rawSend(t, c, []byte(`{"type":"connection_init","payload":"not an object"}`)) })
	}
	wg.Wait()
	if code, _ := rawClose(t, conns[0], 5*time.Second); code != 4400 {
		t.Fatalf("close code %d, want 4400", code)
	}
	took := eventually(t, "every socket closed by the server", func() bool { return open() == 0 })
	t.Logf("%d bad connection_init: every socket closed %v after the last was sent (the clients kept theirs open)", n, took.Round(time.Millisecond))
	f := newFixture(t, l.store, db.PropertyInput{})
	token := dbtest.Must[service.LoginResult](t)(l.svc.Login(context.Background(), f.property.ID, f.unit.PortalSecret)).Token
	c := l.dial(t, token)
	next(t, c, "connection_ack")
}

// A subscriber that stops reading is cut off: at once when its credential
// is revoked, with nothing of what came after the revocation ever sent;
// otherwise within the write deadline.
func TestNonReadingSubscriber(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of stalls on purpose: make test runs it, make check does not")
	}
	url := dbtest.NewURL(t)
	// Small socket buffers on both sides, so that a few events fill them.
	l := newLiveCustom(t, url, url, url, func(_ *resolvers.GraphQLOptions, srv *httptest.Server) {
		srv.Listener = smallSendBuffers{srv.Listener}
	})
	ctx := context.Background()
	stall := func(t *testing.T) (fixture, net.Conn) {
		f := newFixture(t, l.store, db.PropertyInput{TenantSetDpsk: dbtest.Ptr(true)})
		token := dbtest.Must[service.LoginResult](t)(l.svc.Login(ctx, f.property.ID, f.unit.PortalSecret)).Token
		c := rawDial(t, l.srv.URL, 4096)
		rawSend(t, c, map[string]any{"type": "connection_init", "payload": map[string]string{"Authorization": token}})
		if msg, err := wsutil.ReadServerText(c); err != nil || !bytes.Contains(msg, []byte("connection_ack")) {
			t.Fatalf("%s %v", msg, err)
		}
		rawSend(t, c, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": `subscription($p: ID!) { unitUpdated(propertyId: $p) { description secret } }`,
			"variables": map[string]any{"p": f.property.ID}}})
		eventually(t, "subscribed", func() bool { return subscribers(l) == 1 })
		// The client reads nothing more: events pile up in both sockets'
		// buffers until the server's writes block.
		long := strings.Repeat("x", 1000)
		for i := range 400 {
			dbtest.Must[model.UnitUpdateResult](t)(l.store.UpdateUnit(ctx, model.PropertyScope(f.property.ID), f.unit.Unit.ID,
				model.UnitUpdate{Description: dbtest.Ptr(fmt.Sprintf("%d %s", i, long))}))
		}
		return f, c
	}
	t.Run("revoked", func(t *testing.T) {
		f, c := stall(t)
		if subscribers(l) != 1 {
			t.Fatal("the subscriber was cut off before the revocation")
		}
		dbtest.Must[model.UnitUpdateResult](t)(l.store.UpdateUnit(ctx, model.PropertyScope(f.property.ID), f.unit.Unit.ID,
			model.UnitUpdate{Status: dbtest.Ptr(model.StatusTokenReset)}))
		start := time.Now()
		dbtest.Must[model.UnitUpdateResult](t)(l.store.UpdateUnit(ctx, model.PropertyScope(f.property.ID), f.unit.Unit.ID,
			model.UnitUpdate{Secret: dbtest.Ptr("after-the-revocation-2")}))
		took := eventually(t, "the subscription ended", func() bool { return subscribers(l) == 0 })
		if took > time.Second {
			t.Fatalf("cut off %v after the revocation", took)
		}
		_, all := rawClose(t, c, 10*time.Second)
		if bytes.Contains(all, []byte("after-the-revocation-2")) {
			t.Fatal("the passphrase set after the revocation reached the revoked subscriber")
		}
		t.Logf("cut off %v after the revocation; the client then read %d bytes, none of them after it", time.Since(start).Round(time.Millisecond), len(all))
	})
	t.Run("never reads again", func(t *testing.T) {
		_, _ = stall(t)
		start := time.Now()
		for subscribers(l) != 0 {
			if time.Since(start) > 20*time.Second {
				t.Fatal("a subscriber that does not read still held 20 s after the last event")
			}
			<-time.After(10 * time.Millisecond)
		}
		t.Logf("cut off %v after the last event was made (write deadline 10 s)", time.Since(start).Round(time.Millisecond))
	})
}

// smallSendBuffers gives every accepted connection a 16 KiB send buffer.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(16 << 10)
	}
	return c, err
}

// The graphql-transport-ws close codes, from raw frames.
func TestWebSocketCloseCodes(t *testing.T) {
	url := dbtest.NewURL(t)
	l := newLive(t, url)
	f := newFixture(t, l.store, db.PropertyInput{})
	token := dbtest.Must[service.LoginResult](t)(l.svc.Login(context.Background(), f.property.ID, f.unit.PortalSecret)).Token
	init := map[string]any{"type": "connection_init", "payload": map[string]string{"Authorization": token}}
	sub := func(id any) map[string]any {
		m := map[string]any{"type": "subscribe", "payload": map[string]any{"query": unitSub, "variables": map[string]any{"p": f.property.ID}}}
		if id != nil {
			m["id"] = id
		}
		return m
	}
	acked := func(t *testing.T, c net.Conn) {
		rawSend(t, c, init)
		if msg, err := wsutil.ReadServerText(c); err != nil || !bytes.Contains(msg, []byte("connection_ack")) {
			t.Fatalf("%s %v", msg, err)
		}
	}
	for _, tt := range []struct {
		name      string
		protocols []string
		send      func(t *testing.T, c net.Conn)
		want      ws.StatusCode
	}{
		{"not JSON", nil, func(t *testing.T, c net.Conn) { rawSend(t, c, []byte("{not json")) }, 4400},
		{"unknown type", nil, func(t *testing.T, c net.Conn) { rawSend(t, c, map[string]any{"type": "launch"}) }, 4400},
		{"init payload not an object", nil, func(t *testing.T, c net.Conn) {
			rawSend(t, c, map[string]any{"type": "connection_init", "payload": []int{1}})
		}, 4400},
		{"subscribe without an id", nil, func(t *testing.T, c net.Conn) { acked(t, c); rawSend(t, c, sub(nil)) }, 4400},
		{"subscribe with a number for an id", nil, func(t *testing.T, c net.Conn) { acked(t, c); rawSend(t, c, sub(7)) }, 4400},
		{"subscribe without a query", nil, func(t *testing.T, c net.Conn) {
			acked(t, c)
			rawSend(t, c, map[string]any{"id": "1", "type": "subscribe", "payload": "query"})
		}, 4400},
		{"subscribe before the ack", nil, func(t *testing.T, c net.Conn) { rawSend(t, c, sub("1")) }, 4401},
		{"bad credential", nil, func(t *testing.T, c net.Conn) {
			rawSend(t, c, map[string]any{"type": "connection_init", "payload": map[string]string{"Authorization": "nope"}})
		}, 4403},
		{"unknown subprotocol", []string{"graphql-nonsense"}, func(*testing.T, net.Conn) {}, 4406},
		{"no connection_init in time", nil, func(*testing.T, net.Conn) {}, 4408},
		{"an id in use", nil, func(t *testing.T, c net.Conn) { acked(t, c); rawSend(t, c, sub("same")); rawSend(t, c, sub("same")) }, 4409},
		{"a second connection_init", nil, func(t *testing.T, c net.Conn) { acked(t, c); rawSend(t, c, init) }, 4429},
		{"too many messages", nil, func(t *testing.T, c net.Conn) {
			acked(t, c)
			for range 500 {
				if wsutil.WriteClientText(c, []byte(`{"type":"ping"}`)) != nil {
					return
				}
			}
		}, 1008},
		{"too many subscribe messages", nil, func(t *testing.T, c net.Conn) {
			acked(t, c)
			for i := range 100 {
				if wsutil.WriteClientText(c, []byte(`{"type":"complete","id":"x"}`)) != nil ||
					wsutil.WriteClientText(c, fmt.Appendf(nil, `{"id":"%d","type":"subscribe","payload":{"query":"{ __typename }"}}`, i)) != nil {
					return
				}
			}
		}, 1008},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := rawDial(t, l.srv.URL, 0, tt.protocols...)
			tt.send(t, c)
			code, _ := rawClose(t, c, 10*time.Second)
			if code != tt.want {
				t.Fatalf("close code %d, want %d", code, tt.want)
			}
		})
	}
	// A subscription id is free again once its operation completed.
	t.Run("an id reused after complete", func(t *testing.T) {
		c := l.dial(t, token)
		next(t, c, "connection_ack")
		for range 2 {
			subscribe(t, c, "q", `{ __typename }`, nil)
			next(t, c, "next")
			next(t, c, "complete")
		}
	})
}

// clientEvent is one line of the graphql-ws client script.
type clientEvent struct {
	Event   string          `json:"event"`
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
	Errors  json.RawMessage `json:"errors"`
}

// The real graphql-ws client (the page's, from its lockfile) in Node: the
// close code it sees for each thing the server refuses, and what it
// retries (4408, 1008: try again) or gives up on (4409: a client's
// mistake, which retrying would repeat; 4403: the credential is gone,
// every retry is refused again). The client checks its own messages, so
// 4400, 4401 and 4429 are the raw-frame test's (TestWebSocketCloseCodes).
func TestGraphQLWSClient(t *testing.T) {
	script, _ := filepath.Abs("../graph/portal/web/tests/graphqlws-client.mjs")
	if _, err := os.Stat("../graph/portal/web/node_modules/graphql-ws"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the page's npm packages are not installed (make page)")
		}
		t.Skip("the page's npm packages are not installed: make page")
	}
	url := dbtest.NewURL(t)
	l := newLive(t, url)
	ctx := context.Background()
	run := func(t *testing.T, scenario string, onEvent func(clientEvent)) []clientEvent {
		t.Helper()
		f := newFixture(t, l.store, db.PropertyInput{})
		token := dbtest.Must[service.LoginResult](t)(l.svc.Login(ctx, f.property.ID, f.unit.PortalSecret)).Token
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(cctx, "node", "--experimental-websocket", "--no-warnings", script, scenario,
			"ws"+strings.TrimPrefix(l.srv.URL, "http")+"/graphql", token, f.property.ID.String())
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var events []clientEvent
		dec := json.NewDecoder(out)
		for {
			var e clientEvent
			if dec.Decode(&e) != nil {
				break
			}
			events = append(events, e)
			if onEvent != nil {
				onEvent(e)
			}
			if e.Event == "next" && scenario == "revoked" && strings.Contains(string(e.Data), "unitUpdated") {
				continue
			}
			if e.Event == "next" && scenario == "revoked" && strings.Contains(string(e.Data), "updateUnit") {
				// The mutation's own event reaches the subscription that
				// follows; disable the unit once it is subscribed.
				go func() {
					eventually(t, "subscribed", func() bool { return subscribers(l) == 1 })
					// Disabled with a new description: an event that
					// leaked past the revocation would carry it.
					if _, err := l.store.Pool().Exec(ctx, `UPDATE units SET status = 'DISABLED', description = 'after the revocation'
					  WHERE id = $1`, f.unit.Unit.ID); err != nil {
						t.Error(err)
					}
				}()
			}
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("node: %v\n%s", err, stderr.String())
		}
		t.Logf("%s: %s", scenario, summarise(events))
		return events
	}
	count := func(events []clientEvent, event string) int {
		n := 0
		for _, e := range events {
			if e.Event == event {
				n++
			}
		}
		return n
	}
	closes := func(events []clientEvent) []int {
		var codes []int
		for _, e := range events {
			if e.Event == "closed" {
				codes = append(codes, e.Code)
			}
		}
		return codes
	}
	t.Run("revoked", func(t *testing.T) {
		events := run(t, "revoked", nil)
		var data []string
		for _, e := range events {
			if e.Event == "next" {
				data = append(data, string(e.Data))
			}
		}
		// The query and the mutation over the socket; the subscription
		// that follows may see the mutation's own change (its notice can
		// come after it subscribed), and nothing of the revocation's.
		if len(data) == 3 && strings.Contains(data[2], `"unitUpdated":{"description":"from node"}`) {
			data = data[:2]
		}
		if len(data) != 2 || !strings.Contains(data[0], `"number":"101"`) || !strings.Contains(data[1], `"description":"from node"`) {
			t.Fatalf("the query and the mutation over the socket, and nothing after the revocation: %v", data)
		}
		// The client is lazy: it closes (1000) when no operation is left.
		// Then 4403, and every retry (2) refused with 4403 again: the
		// client gives up with 4403.
		if c := closes(events); len(c) != 5 || c[2] != 4403 || c[3] != 4403 || c[4] != 4403 {
			t.Fatalf("close codes %v, want 1000, 1000 then 4403 three times", c)
		}
		if last := events[len(events)-2]; last.Event != "error" || last.Code != 4403 {
			t.Fatalf("the subscription ended with %+v", last)
		}
	})
	for _, tt := range []struct {
		scenario string
		code     int
	}{{"same-id", 4409}} {
		t.Run(tt.scenario, func(t *testing.T) {
			events := run(t, tt.scenario, nil)
			if c := closes(events); len(c) != 1 || c[0] != tt.code || count(events, "connecting") != 1 {
				t.Fatalf("close codes %v after %d connections, want %d once, not retried", c, count(events, "connecting"), tt.code)
			}
		})
	}
	for _, tt := range []struct {
		scenario string
		code     int
	}{{"late-init", 4408}, {"flood", 1008}} {
		t.Run(tt.scenario, func(t *testing.T) {
			events := run(t, tt.scenario, nil)
			if c := closes(events); len(c) < 1 || c[0] != tt.code || count(events, "connected") < 1 || count(events, "complete") != 1 {
				t.Fatalf("close codes %v, want %d, then a retry that answers the query", c, tt.code)
			}
		})
	}
}

func summarise(events []clientEvent) string {
	var parts []string
	for _, e := range events {
		s := e.Event
		if e.Code != 0 {
			s += fmt.Sprintf(" %d", e.Code)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// The older graphql-ws protocol keeps its own behaviour: start right
// behind connection_init (its clients do not wait for the ack), data, a
// keep-alive, and 1002 for what it does not allow.
func TestLegacyGraphQLWS(t *testing.T) {
	url := dbtest.NewURL(t)
	l := newLive(t, url)
	f := newFixture(t, l.store, db.PropertyInput{})
	token := dbtest.Must[service.LoginResult](t)(l.svc.Login(context.Background(), f.property.ID, f.unit.PortalSecret)).Token
	c := rawDial(t, l.srv.URL, 0, "graphql-ws")
	rawSend(t, c, map[string]any{"type": "connection_init", "payload": map[string]string{"Authorization": token}})
	rawSend(t, c, map[string]any{"id": "1", "type": "start", "payload": map[string]any{"query": unitQuery, "variables": map[string]any{"p": f.property.ID}}})
	var got []string
	for len(got) < 3 {
		msg, err := wsutil.ReadServerText(c)
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		var m wsMessage
		_ = json.Unmarshal(msg, &m)
		got = append(got, m.Type)
		if m.Type == "data" && !strings.Contains(string(m.Payload), `"secret"`) {
			t.Fatalf("%s", msg)
		}
	}
	if strings.Join(got, " ") != "connection_ack data complete" {
		t.Fatalf("got %v", got)
	}
	rawSend(t, c, map[string]any{"type": "subscribe"})
	if code, _ := rawClose(t, c, 5*time.Second); code != 1002 {
		t.Fatalf("close code %d, want 1002", code)
	}
}
