package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/residentportal/bff/cmd/internal/tracing"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/delivery/relay/relaytest"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// traced starts portald recording every span in memory.
func traced(t *testing.T, env map[string]string) (*server, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	s := startWith(t, env, hooks{tracing: &tracing.Tracing{Provider: tp, Propagator: propagation.TraceContext{}}})
	return s, exp
}

// call sends a request with header name/value pairs and returns the status and body.
func call(t *testing.T, method, url, body string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp := dbtest.Must[*http.Response](t)(http.DefaultClient.Do(req))
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// login logs a unit in over REST at base (…/residents/properties/P) and
// returns its token.
func login(t *testing.T, base, portalSecret string) string {
	t.Helper()
	status, body := call(t, "POST", base+"/units/logins", `{"hashedSecret":"`+portalSecret+`"}`)
	if status != 200 {
		t.Fatalf("login: %d %s", status, body)
	}
	var out struct{ Token string }
	if err := json.Unmarshal([]byte(body), &out); err != nil || out.Token == "" {
		t.Fatalf("login: %s", body)
	}
	return out.Token
}

// inTrace returns the spans of one trace, by span id.
func inTrace(spans tracetest.SpanStubs, id trace.TraceID) map[trace.SpanID]tracetest.SpanStub {
	out := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range spans {
		if s.SpanContext.TraceID() == id {
			out[s.SpanContext.SpanID()] = s
		}
	}
	return out
}

// below reports whether span s descends from ancestor within spans.
func below(spans map[trace.SpanID]tracetest.SpanStub, s tracetest.SpanStub, ancestor trace.SpanID) bool {
	for p := s.Parent.SpanID(); p.IsValid(); {
		if p == ancestor {
			return true
		}
		parent, ok := spans[p]
		if !ok {
			return false
		}
		p = parent.Parent.SpanID()
	}
	return false
}

// statements is how many SQL statements s stands for: a batch's span holds
// them all (db.operation.batch.size).
func statements(s tracetest.SpanStub) int {
	if !isSQL(s) {
		return 0
	}
	for _, a := range s.Attributes {
		if a.Key == "db.operation.batch.size" {
			return int(a.Value.AsInt64())
		}
	}
	return 1
}

func isSQL(s tracetest.SpanStub) bool {
	for _, a := range s.Attributes {
		if a.Key == "db.query.text" {
			return true
		}
	}
	return false
}

// One trace per request, the client's traceparent its parent: the resident
// query is the HTTP span, named after the operation, the operation span,
// and exactly its 3 SQL statements below, in one batch span (one round
// trip); a REST PUT shows its transaction; the request's log line carries
// the trace and span ids.
func TestTraces(t *testing.T) {
	url, _, p, u := seeded(t, db.PropertyInput{Name: dbtest.Ptr("Traced Court")})
	s, exp := traced(t, map[string]string{"DATABASE_URL": url})
	base := s.public + "/residents/properties/" + p.ID.String()
	token := login(t, base, u.PortalSecret)
	query := fmt.Sprintf(`{"query":"query MyUnit { unit(propertyId: \"%s\") { number users { edges { node { id devices { macAddress } } } } } }"}`, p.ID)
	// Warm: once the revocation listener is up, a token's state is cached
	// and a check costs no statement (polled for, up to 10 s).
	for deadline := time.Now().Add(10 * time.Second); ; {
		exp.Reset()
		call(t, "POST", s.public+"/graphql", query, "Authorization", token)
		n := 0
		for _, sp := range exp.GetSpans() {
			n += statements(sp)
		}
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the resident query still costs %d statements", n)
		}
	}

	const client = "00f067aa0ba902b7"
	traceID := "4bf92f3577b34da6a3ce929d0e0e4736"
	exp.Reset()
	if status, body := call(t, "POST", s.public+"/graphql", query, "Authorization", token, "traceparent", "00-"+traceID+"-"+client+"-01"); status != 200 {
		t.Fatalf("query: %d %s", status, body)
	}
	spans := inTrace(exp.GetSpans(), dbtest.Must[trace.TraceID](t)(trace.TraceIDFromHex(traceID)))
	var root, op tracetest.SpanStub
	for _, sp := range spans {
		switch sp.Name {
		case "query MyUnit":
			root = sp
		case "graphql.execute query MyUnit":
			op = sp
		}
	}
	if root.SpanKind != trace.SpanKindServer || root.Parent.SpanID().String() != client || !root.Parent.IsRemote() {
		t.Fatalf("the HTTP span %q is not the server span below the client's %s: %+v", root.Name, client, root.Parent)
	}
	if op.Parent.SpanID() != root.SpanContext.SpanID() {
		t.Fatalf("the operation span is not below the HTTP span: %v", spanNames(spans))
	}
	sql, stmts := 0, 0
	for _, sp := range spans {
		if isSQL(sp) {
			sql++
			stmts += statements(sp)
			if !below(spans, sp, op.SpanContext.SpanID()) {
				t.Fatalf("SQL span %q is not below the operation span", sp.Name)
			}
		}
	}
	if sql != 1 || stmts != 3 {
		for _, sp := range spans {
			for _, a := range sp.Attributes {
				if a.Key == "db.query.text" {
					t.Logf("%s: %.400s", sp.Name, a.Value.AsString())
				}
			}
		}
		t.Fatalf("%d SQL spans holding %d statements, want one batch of 3: %v", sql, stmts, spanNames(spans))
	}
	var line map[string]any
	for _, l := range strings.Split(s.logs.String(), "\n") {
		if strings.Contains(l, traceID) && strings.Contains(l, `"msg":"request"`) {
			_ = json.Unmarshal([]byte(l), &line)
		}
	}
	if line["trace_id"] != traceID || line["span_id"] != root.SpanContext.SpanID().String() {
		t.Fatalf("the request's log line lacks its trace: %v", line)
	}

	// A REST write: its span is named after the route, its transaction below it.
	exp.Reset()
	if status, body := call(t, "PUT", base+"/units", `{"secret":""}`, "Authorization", token); status != 200 {
		t.Fatalf("PUT: %d %s", status, body)
	}
	var names []string
	var put tracetest.SpanStub
	for _, sp := range exp.GetSpans() {
		names = append(names, sp.Name)
		if sp.Name == "PUT /residents/properties/{propertyId}/units" {
			put = sp
		}
	}
	all := inTrace(exp.GetSpans(), put.SpanContext.TraceID())
	statements := []string{}
	for _, sp := range all {
		if isSQL(sp) {
			statements = append(statements, sp.Name)
		}
	}
	joined := strings.Join(statements, " ")
	if !put.SpanContext.IsValid() || !strings.Contains(joined, "BEGIN") || !strings.Contains(joined, "COMMIT") || !strings.Contains(joined, "UPDATE") {
		t.Fatalf("the PUT's trace does not show its transaction: %v (all: %v)", statements, names)
	}

	// A client's long operation name is cut in the span's name.
	exp.Reset()
	long := "Q" + strings.Repeat("x", 300)
	call(t, "POST", s.public+"/graphql", `{"query":"query `+long+` { __typename }"}`, "Authorization", token)
	for _, sp := range exp.GetSpans() {
		if strings.HasPrefix(sp.Name, "query Q") && (len(sp.Name) > 120 || strings.Contains(sp.Name, long)) {
			t.Fatalf("span named after the whole operation name (%d bytes)", len(sp.Name))
		}
	}

	// A malformed traceparent is ignored: a new trace, no error.
	exp.Reset()
	if status, _ := call(t, "GET", base+"/access", "", "traceparent", "00-zzzz-"+client+"-01"); status != 200 {
		t.Fatalf("malformed traceparent: %d", status)
	}
	for _, sp := range exp.GetSpans() {
		if sp.Name == "GET /residents/properties/{propertyId}/access" && (sp.Parent.IsValid() || !sp.SpanContext.IsValid()) {
			t.Fatalf("a malformed traceparent was taken: %+v", sp.Parent)
		}
	}
}

func spanNames(spans map[trace.SpanID]tracetest.SpanStub) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

// A change made in a traced request reaches the broker in the same trace:
// the relay's publish span is below the request's span, and the message's
// traceparent header carries the trace on to the Wi-Fi side.
func TestTraceReachesTheBroker(t *testing.T) {
	js := relaytest.JetStream(t)
	cfg := relaytest.Names(t, js, "traced")
	url, store, p, u := seeded(t, db.PropertyInput{Name: dbtest.Ptr("Relayed Court")})
	ctx := context.Background()
	s, exp := traced(t, map[string]string{"DATABASE_URL": url, "NATS_URL": relaytest.URL, "NATS_STREAM": cfg.Stream, "NATS_SUBJECT_PREFIX": cfg.SubjectPrefix})
	base := s.public + "/residents/properties/" + p.ID.String()
	token := login(t, base, u.PortalSecret)
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	if status, body := call(t, "PUT", base+"/units", `{"secret":""}`, "Authorization", token,
		"traceparent", "00-"+traceID+"-b7ad6b7169203331-01"); status != 200 {
		t.Fatalf("PUT: %d %s", status, body)
	}
	var change model.ChangeRequest
	for _, c := range dbtest.Must[[]model.ChangeRequest](t)(store.ChangeRequestsByUnit(ctx, u.Unit.ID)) {
		if c.Kind == model.ChangePassphrase {
			change = c
		}
	}
	if !strings.HasPrefix(change.TraceParent, "00-"+traceID+"-") {
		t.Fatalf("the change request keeps traceparent %q", change.TraceParent)
	}
	var stream jetstream.Stream
	for deadline := time.Now().Add(10 * time.Second); ; { // the relay makes the stream
		var err error
		if stream, err = js.Stream(ctx, cfg.Stream); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		<-time.After(20 * time.Millisecond)
	}
	subject := cfg.SubjectPrefix + "." + p.ID.String() + "." + u.Unit.ID.String()
	var msg *jetstream.RawStreamMsg
	for deadline := time.Now().Add(10 * time.Second); ; {
		if m, err := stream.GetLastMsgForSubject(ctx, subject); err == nil && strings.Contains(string(m.Data), change.ID.String()) {
			msg = m
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the change was not relayed within 10 s")
		}
		<-time.After(20 * time.Millisecond)
	}
	header := msg.Header.Get("traceparent")
	var publish tracetest.SpanStub
	for _, sp := range exp.GetSpans() {
		if sp.Name == "publish "+cfg.SubjectPrefix && sp.SpanContext.TraceID().String() == traceID {
			publish = sp
		}
	}
	parent := strings.Split(change.TraceParent, "-")[2]
	if !publish.SpanContext.IsValid() || publish.SpanKind != trace.SpanKindProducer || publish.Parent.SpanID().String() != parent {
		t.Fatalf("no producer span below the writing request's span %s: %+v", parent, publish)
	}
	if header != "00-"+traceID+"-"+publish.SpanContext.SpanID().String()+"-01" {
		t.Fatalf("message traceparent %q, want the publish span's", header)
	}
}

// With the buckets in Redis, each limiter call is a span of the request's
// trace.
func TestTraceShowsTheLimiter(t *testing.T) {
	url := dbtest.NewURL(t)
	s, exp := traced(t, map[string]string{"DATABASE_URL": url, "REDIS_URL": "redis://127.0.0.1:6379/0"})
	const traceID = "5bf92f3577b34da6a3ce929d0e0e4737"
	if status, _ := call(t, "GET", s.public+"/residents/properties/"+uuid.NewString()+"/access", "",
		"traceparent", "00-"+traceID+"-00f067aa0ba902b7-01"); status != 404 && status != 200 {
		t.Fatalf("access: %d", status)
	}
	for _, sp := range exp.GetSpans() {
		for _, a := range sp.Attributes {
			if sp.SpanContext.TraceID().String() == traceID && a.Value.AsString() == "redis" {
				return
			}
		}
	}
	var names []string
	for _, sp := range exp.GetSpans() {
		names = append(names, sp.Name)
	}
	t.Fatalf("no Redis span in the request's trace: %v", names)
}
