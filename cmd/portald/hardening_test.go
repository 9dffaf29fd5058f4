package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
)

// A client that trickles its request (slowloris) is cut off by the read
// deadlines instead of holding a goroutine for as long as it likes.
func TestSlowClientsAreCutOff(t *testing.T) {
	s := start(t, map[string]string{"HTTP_READ_HEADER_TIMEOUT": "500ms", "HTTP_READ_TIMEOUT": "1s"}, nil)
	addr := strings.TrimPrefix(s.public, "http://")
	for _, c := range []struct{ name, head, drip string }{
		{"SlowHeaders", "GET /healthz HTTP/1.1\r\nHost: x\r\n", "X-A: b\r\n"},
		{"SlowBody", "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n", " "},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, c.head); err != nil {
				t.Fatal(err)
			}
			closed := make(chan time.Duration, 1)
			started := time.Now()
			go func() {
				_, _ = io.Copy(io.Discard, conn) // returns when the server closes
				closed <- time.Since(started)
			}()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for range 100 { // one byte-ish every 100 ms, for at most 10 s
				select {
				case took := <-closed:
					t.Logf("closed by the server after %v", took.Round(time.Millisecond))
					return
				case <-tick.C:
					_, _ = io.WriteString(conn, c.drip)
				}
			}
			t.Fatal("the server kept a trickling connection open for 10 s")
		})
	}
}

// One client address cannot hold more than HTTP_MAX_CONNECTIONS_PER_CLIENT
// connections (each holds a goroutine and buffers, whatever it sends): the
// one over is closed on arrival, a request on the others is served, and
// /metrics counts the refusal.
func TestConnectionsPerClientAreBounded(t *testing.T) {
	s := start(t, map[string]string{"HTTP_MAX_CONNECTIONS_PER_CLIENT": "3"}, nil)
	addr := strings.TrimPrefix(s.public, "http://")
	healthz := func(c net.Conn) (int, error) {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return 0, err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	var open []net.Conn
	for range 4 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		open = append(open, c)
	}
	if _, err := healthz(open[3]); err == nil {
		t.Fatal("the fourth connection from one address is served (bound 3)")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the fourth connection was neither served nor closed within 5 s")
	}
	for i, c := range open[:3] {
		if status, err := healthz(c); err != nil || status != 200 {
			t.Fatalf("connection %d: %d, %v", i+1, status, err)
		}
	}
	if _, metrics := get(t, s.metrics+"/metrics"); !strings.Contains(metrics, `portal_http_connections_refused_total{bound="client"} 1`) ||
		!strings.Contains(metrics, "portal_http_connections_open 3") {
		t.Fatal("metrics lack the refusal or the 3 open connections")
	}
}

// SIGTERM under a load of POSTs on keep-alive connections: no request sent
// on a reused connection is lost (EOF or reset after it was sent), which is
// the race of a server closing an idle connection just as its client sends
// on it. Connections opened as the listener closes may fail (TCP gives no
// way around that; a load balancer stops sending while /readyz says 503):
// they are counted apart.
func TestShutdownLosesNoKeepAlivePost(t *testing.T) {
	s := start(t, map[string]string{"SHUTDOWN_GRACE": "5s", "SHUTDOWN_DRAIN": "1s"}, nil)
	var ok, lost, fresh atomic.Int64
	var firstLoss atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				reused := false
				trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
					http.MethodPost, s.public+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				switch {
				case err != nil && !reused:
					fresh.Add(1)
					continue
				case err != nil:
					lost.Add(1)
					firstLoss.CompareAndSwap(nil, err.Error())
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					ok.Add(1)
				} else {
					lost.Add(1)
					firstLoss.CompareAndSwap(nil, "status "+resp.Status)
				}
			}
		})
	}
	for deadline := time.Now().Add(20 * time.Second); ok.Load() < 500; {
		if time.Now().After(deadline) || lost.Load() > 0 {
			close(stop)
			wg.Wait()
			t.Fatalf("under load before the signal: %d answered, %d failed (%v)", ok.Load(), lost.Load(), firstLoss.Load())
		}
		<-time.After(5 * time.Millisecond)
	}
	s.stop()
	<-s.done
	close(stop)
	wg.Wait()
	if s.err != nil {
		t.Fatalf("run returned %v", s.err)
	}
	if lost.Load() != 0 {
		t.Fatalf("%d requests on reused connections lost at shutdown (first: %v); %d answered", lost.Load(), firstLoss.Load(), ok.Load())
	}
	t.Logf("%d POSTs answered, none on a reused connection lost; %d new connections failed as the listener closed", ok.Load(), fresh.Load())
}

// portald refuses to start under a key the database's secrets are not
// under, saying so and how to fix it.
func TestRefusesAnotherKey(t *testing.T) {
	url := dbtest.NewURL(t)
	s := start(t, map[string]string{"DATABASE_URL": url}, nil) // claims the database for the test key
	s.stop()
	<-s.done
	env := map[string]string{"DATABASE_URL": url, "SECRET_KEY": "another-secret-key-0123456789abcdef-0123456789",
		"LISTEN_ADDR": "127.0.0.1:0", "METRICS_ADDR": "127.0.0.1:0"}
	var logs dbtest.Buffer
	err := run(context.Background(), func(k string) string { return env[k] }, &logs, hooks{})
	if err == nil || !strings.Contains(err.Error(), "under another SECRET_KEY") || !strings.Contains(err.Error(), "portalctl rekey") {
		t.Fatalf("run under another key: %v", err)
	}
}

// A server left running under the old key after a rekey stops answering
// (503, saying why) rather than writing what nobody could read back.
func TestStopsAfterRekeyToAnotherKey(t *testing.T) {
	url := dbtest.NewURL(t)
	s := start(t, map[string]string{"DATABASE_URL": url}, nil)
	ctx := context.Background()
	store := dbtest.Must[*db.DB](t)(db.Open(ctx, url, dbtest.Keys(t), db.Options{}))
	defer store.Close()
	p := dbtest.Must[model.Property](t)(store.CreateProperty(ctx, db.PropertyInput{Name: dbtest.Ptr("Rekeyed House")}))
	access := s.public + "/residents/properties/" + p.ID.String() + "/access"
	if resp, _ := get(t, access); resp.StatusCode != 200 {
		t.Fatalf("before the rekey: %d", resp.StatusCode)
	}
	next, err := model.NewKeyring("the-next-secret-key-0123456789abcdef-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	dbtest.Must[int](t)(store.Rekey(ctx, next))
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, body := get(t, access)
		if resp.StatusCode == 503 && strings.Contains(body, "rekeyed to another SECRET_KEY") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still answering after the rekey: %d %s", resp.StatusCode, body)
		}
		<-time.After(20 * time.Millisecond)
	}
	if resp, _ := get(t, s.public+"/healthz"); resp.StatusCode != 200 {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
}

// A rekey rolled out with SECRET_KEY_PREVIOUS loses nothing: a server
// restarted with the new key serves the old rows and the old servers'
// sessions, the old servers read what it writes until the rekey commits,
// and after it the new server goes on (sessions included) while the one
// left under the old key alone stops.
func TestRollingRekey(t *testing.T) {
	const newKey = "the-next-secret-key-0123456789abcdef-0123456789"
	url, store, p, u := seeded(t, db.PropertyInput{Name: dbtest.Ptr("Rolling Court"), TenantSetDpsk: dbtest.Ptr(true)})
	ctx := context.Background()
	old := start(t, map[string]string{"DATABASE_URL": url}, nil)
	rolled := start(t, map[string]string{"DATABASE_URL": url, "SECRET_KEY": newKey, "SECRET_KEY_PREVIOUS": dbtest.TestSecretKey}, nil)

	call := func(s *server, method, path, token, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, fmt.Sprintf("%s/residents/properties/%s%s", s.public, p.ID, path), strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", token)
		}
		resp := dbtest.Must[*http.Response](t)(http.DefaultClient.Do(req))
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	login := func(s *server) string {
		t.Helper()
		code, body := call(s, "POST", "/units/logins", "", `{"hashedSecret":"`+u.PortalSecret+`"}`)
		if code != 200 {
			t.Fatalf("login: %d %s", code, body)
		}
		return strings.Split(strings.Split(body, `"token":"`)[1], `"`)[0]
	}
	secretOf := func(body string) string { return strings.Split(strings.Split(body, `"secret":"`)[1], `"`)[0] }

	// During the rollout each server takes the other's sessions and reads its writes.
	tok := login(rolled)
	if code, body := call(old, "GET", "/units", tok, ""); code != 200 {
		t.Fatalf("old server, session from the new one: %d %s", code, body)
	}
	code, body := call(rolled, "PUT", "/units", tok, `{"secret":""}`)
	if code != 200 {
		t.Fatalf("new server, passphrase before the rekey: %d %s", code, body)
	}
	if _, got := call(old, "GET", "/units", tok, ""); secretOf(got) != secretOf(body) {
		t.Fatalf("the old server does not read the new server's write: %s vs %s", got, body)
	}

	next := dbtest.Must[*model.Keyring](t)(model.NewKeyring(newKey))
	dbtest.Must[int](t)(store.Rekey(ctx, next))
	for deadline := time.Now().Add(10 * time.Second); ; {
		code, _ := call(old, "GET", "/units", tok, "")
		if code == 503 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server under the old key still answers %d after the rekey", code)
		}
		<-time.After(20 * time.Millisecond)
	}
	// The new server keeps the session from before the rekey and writes under the new key.
	code, body = call(rolled, "PUT", "/units", tok, `{"secret":"a chosen passphrase"}`)
	if code != 200 {
		t.Fatalf("new server after the rekey: %d %s", code, body)
	}
	fresh := start(t, map[string]string{"DATABASE_URL": url, "SECRET_KEY": newKey}, nil)
	if _, got := call(fresh, "GET", "/units", login(fresh), ""); secretOf(got) != "a chosen passphrase" {
		t.Fatalf("a server under the new key alone reads %s", got)
	}
}
