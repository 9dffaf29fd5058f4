package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers"
	"github.com/residentportal/bff/resolvers/delivery/relay"
	"github.com/residentportal/bff/resolvers/delivery/relay/relaytest"
	"github.com/residentportal/bff/resolvers/service"
	"github.com/residentportal/bff/rest"
	"github.com/residentportal/bff/rest/edge"
	"github.com/residentportal/bff/rest/ratelimit"
)

// recorder is a sink that remembers what it applied and fails the kinds
// it is told to.
type recorder struct {
	mu      sync.Mutex
	applied []Change
	failing model.ChangeKind
}

func (r *recorder) Apply(_ context.Context, c Change) error {
	if c.Kind == r.failing {
		// A sink's error may hold anything: control characters, invalid
		// UTF-8, more text than a detail holds.
		return errors.New("the controller refused it\x1b[31m\xff" + strings.Repeat("é", 2000))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.applied = append(r.applied, c)
	return nil
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newPortal is a portal over a fresh database, with its store; both end
// with the test.
func newPortal(t *testing.T) (*db.DB, *httptest.Server) {
	t.Helper()
	store := dbtest.Must[*db.DB](t)(db.Open(context.Background(), dbtest.NewURL(t), dbtest.Keys(t), db.Options{}))
	t.Cleanup(store.Close)
	svc := service.New(store, dbtest.Keys(t), service.Options{})
	srv := httptest.NewServer(rest.NewHandler(rest.Deps{Service: svc, Log: quiet, Metrics: edge.NewMetrics(), RequestTimeout: 10 * time.Second,
		PublicBaseURL: "http://localhost", GraphQL: resolvers.NewGraphQLHandler(svc, resolvers.GraphQLOptions{ComplexityLimit: 50000})}))
	t.Cleanup(srv.Close)
	return store, srv
}

// End to end: writes through the portal reach the outbox, the relay
// publishes them, the consumer reads the current state through GraphQL
// with the manager key, applies it and reports APPLIED — or, for a change
// its sink keeps refusing, FAILED with the reason after MaxDeliver tries.
func TestWifisyncEndToEnd(t *testing.T) {
	js := relaytest.JetStream(t)
	cfg := relaytest.Names(t, js, "wifisync")
	cfg.Poll = 100 * time.Millisecond

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, srv := newPortal(t)

	p := dbtest.Must[model.Property](t)(store.CreateProperty(ctx, db.PropertyInput{Name: dbtest.Ptr("Sync House"), TenantSetDpsk: dbtest.Ptr(true)}))
	u := dbtest.Must[db.CreatedUnit](t)(store.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "1"}))
	key := dbtest.Must[db.CreatedManagerKey](t)(store.CreateManagerKey(ctx, p.ID)).Key
	scope := model.PropertyScope(p.ID)
	dbtest.Must[model.UnitUpdateResult](t)(store.UpdateUnit(ctx, scope, u.Unit.ID, model.UnitUpdate{Secret: dbtest.Ptr("chosen-passphrase-1")}))
	dbtest.Must[model.Device](t)(store.AddDevice(ctx, scope, db.NewDevice{UserID: u.Unit.UnitUserID, MACAddress: "02:00:00:00:00:01"}))
	dbtest.Must[model.ChangeRequest](t)(store.RemoveDevice(ctx, scope, u.Unit.ID, nil, "02:00:00:00:00:01"))
	// A resident's REST write.
	resp := dbtest.Must[*http.Response](t)(http.Post(fmt.Sprintf("%s/residents/properties/%s/units/logins", srv.URL, p.ID),
		"application/json", strings.NewReader(`{"hashedSecret":"`+u.PortalSecret+`"}`)))
	var login struct{ Token string }
	_ = json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/residents/properties/%s/units", srv.URL, p.ID), strings.NewReader(`{"secret":""}`))
	req.Header.Set("Authorization", login.Token)
	req.Header.Set("Content-Type", "application/json")
	if resp := dbtest.Must[*http.Response](t)(http.DefaultClient.Do(req)); resp.StatusCode != 200 {
		t.Fatalf("REST PUT units: %d", resp.StatusCode)
	}
	dbtest.Must[model.Unit](t)(store.SetUnitStatus(ctx, scope, u.Unit.ID, model.UnitDisabled)) // the sink refuses this one

	relayDone := make(chan struct{})
	r := dbtest.Must[*relay.Relay](t)(relay.New(store, js, cfg, quiet, nil))
	go func() { defer close(relayDone); r.Run(ctx) }()
	defer func() { cancel(); <-relayDone }()
	cons := untilStream(t, func() (jetstream.Consumer, error) {
		return js.CreateOrUpdateConsumer(ctx, cfg.Stream, jetstream.ConsumerConfig{Durable: "wifisync", FilterSubject: cfg.SubjectPrefix + ".>",
			AckPolicy: jetstream.AckExplicitPolicy, MaxDeliver: 3})
	})
	sink := &recorder{failing: model.ChangeUnitStatus}
	c := &Consumer{API: &API{URL: srv.URL + "/graphql", Keys: map[uuid.UUID]string{p.ID: key}, Client: http.DefaultClient},
		Sink: sink, Log: quiet, MaxDeliver: 2, RetryDelay: 50 * time.Millisecond}
	consumed := make(chan error, 1)
	go func() { consumed <- c.Run(ctx, cons) }()
	defer func() { cancel(); <-consumed }()

	deadline := time.Now().Add(20 * time.Second)
	var rows []model.ChangeRequest
	for {
		rows = dbtest.Must[[]model.ChangeRequest](t)(store.ChangeRequestsByUnit(ctx, u.Unit.ID))
		done := 0
		for _, r := range rows {
			if r.Status == model.ChangeApplied || r.Status == model.ChangeFailed {
				done++
			}
		}
		if done == len(rows) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not all completed within 20 s: %+v", rows)
		}
		<-time.After(20 * time.Millisecond)
	}
	for _, r := range rows {
		want := model.ChangeApplied
		if r.Kind == model.ChangeUnitStatus {
			want = model.ChangeFailed
			if r.Detail == nil || !strings.Contains(*r.Detail, "the controller refused it") {
				t.Fatalf("FAILED without the reason: %+v", r)
			}
			if err := model.ValidateText(*r.Detail, model.MaxChangeDetail); err != nil || utf8.RuneCountInString(*r.Detail) != model.MaxChangeDetail {
				t.Fatalf("detail not made reportable (%v): %q", err, *r.Detail)
			}
		}
		if r.Status != want || r.CompletedAt == nil || r.PublishedAt == nil {
			t.Fatalf("%s: %s, want %s", r.Kind, r.Status, want)
		}
	}
	// What the consumer reported is what the API shows.
	var got struct {
		Unit struct {
			ChangeRequests struct {
				Edges []struct{ Node struct{ Kind, Status string } }
			}
		}
	}
	if err := c.API.do(ctx, p.ID, `query($p: ID!, $u: ID) { unit(propertyId: $p, unitId: $u) {
	  changeRequests(first: 100) { edges { node { kind status } } } } }`, map[string]any{"p": p.ID, "u": u.Unit.ID}, &got); err != nil {
		t.Fatal(err)
	}
	if edges := got.Unit.ChangeRequests.Edges; len(edges) != len(rows) || edges[0].Node.Kind != "UNIT_STATUS_CHANGED" ||
		edges[0].Node.Status != "FAILED" || edges[1].Node.Kind != "PASSPHRASE_CHANGED" || edges[1].Node.Status != "APPLIED" {
		t.Fatalf("over GraphQL: %+v", edges)
	}
	current := dbtest.Must[model.UnitUser](t)(store.UnitUserByID(ctx, scope, u.Unit.UnitUserID))
	sink.mu.Lock()
	defer sink.mu.Unlock()
	var sawPassphrase, sawDevice bool
	for _, ch := range sink.applied {
		if ch.Kind == model.ChangePassphrase && ch.User != nil && ch.User.Passphrase == current.Passphrase {
			sawPassphrase = true
		}
		if ch.Kind == model.ChangeDeviceRemoved && ch.MACAddress != nil && *ch.MACAddress == "02:00:00:00:00:01" {
			sawDevice = true
		}
	}
	if !sawPassphrase || !sawDevice {
		t.Fatalf("the sink did not get the current passphrase and the removed device: %+v", sink.applied)
	}
}

// The API calls made for a message carry its traceparent, so they join the
// trace of the request that made the change.
func TestAPICallsContinueTheTrace(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("traceparent"))
		_, _ = w.Write([]byte(`{"data":{"unit":{"id":"` + uuid.NewString() + `","number":"1","status":"ENABLED"}}}`))
	}))
	defer srv.Close()
	p := uuid.New()
	a := &API{URL: srv.URL, Keys: map[uuid.UUID]string{p: "key"}, Client: srv.Client()}
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	if _, err := a.Unit(context.WithValue(context.Background(), traceparentKey{}, tp), p, uuid.New()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Unit(context.Background(), p, uuid.New()); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != tp || got[1] != "" {
		t.Fatalf("traceparent headers sent: %q", got)
	}
	if !traceparent.MatchString(tp) || traceparent.MatchString("00-zz-b7ad6b7169203331-01") {
		t.Fatal("the traceparent pattern")
	}
}

// stubMsg is a JetStream message whose acknowledgement the test reads.
type stubMsg struct {
	jetstream.Msg
	data       []byte
	delivered  uint64
	inProgress int
	acked      string // "ack", "nak" or "term"
}

func (m *stubMsg) Data() []byte                     { return m.data }
func (m *stubMsg) Subject() string                  { return "test" }
func (m *stubMsg) Headers() nats.Header             { return nats.Header{} }
func (m *stubMsg) Ack() error                       { m.acked = "ack"; return nil }
func (m *stubMsg) Term() error                      { m.acked = "term"; return nil }
func (m *stubMsg) NakWithDelay(time.Duration) error { m.acked = "nak"; return nil }
func (m *stubMsg) InProgress() error                { m.inProgress++; return nil }
func (m *stubMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{NumDelivered: m.delivered}, nil
}

// A change another key has completed already (CONFLICT when this one
// reports) is acknowledged after it is applied once: delivering it again
// would apply it again, and never complete it. A retryable answer (the
// portal unreachable) is delivered again.
func TestConflictIsNotRetried(t *testing.T) {
	ctx := context.Background()
	store, srv := newPortal(t)
	p := dbtest.Must[model.Property](t)(store.CreateProperty(ctx, db.PropertyInput{Name: dbtest.Ptr("Conflict House")}))
	u := dbtest.Must[db.CreatedUnit](t)(store.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "1"}))
	key := dbtest.Must[db.CreatedManagerKey](t)(store.CreateManagerKey(ctx, p.ID)).Key
	scope := model.PropertyScope(p.ID)
	dbtest.Must[model.Device](t)(store.AddDevice(ctx, scope, db.NewDevice{UserID: u.Unit.UnitUserID, MACAddress: "02:00:00:00:00:02"}))
	removed := dbtest.Must[model.ChangeRequest](t)(store.RemoveDevice(ctx, scope, u.Unit.ID, nil, "02:00:00:00:00:02"))
	detail := "completed by another key"
	if _, _, err := store.CompleteChangeRequest(ctx, p.ID, removed.ID, model.ChangeFailed, &detail); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(relay.Message{ID: removed.ID, Kind: removed.Kind, PropertyID: p.ID, UnitID: u.Unit.ID, MACAddress: removed.MACAddress})
	for _, tt := range []struct {
		name, url, want string
	}{
		{"conflict", srv.URL + "/graphql", "ack"},
		{"portal unreachable", "http://127.0.0.1:1/graphql", "nak"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sink := &recorder{}
			c := &Consumer{API: &API{URL: tt.url, Keys: map[uuid.UUID]string{p.ID: key}, Client: http.DefaultClient},
				Sink: sink, Log: quiet, MaxDeliver: 5, RetryDelay: time.Millisecond, Patience: 300 * time.Millisecond}
			msg := &stubMsg{data: data, delivered: 1}
			c.Handle(ctx, msg)
			if msg.acked != tt.want || len(sink.applied) != 1 {
				t.Fatalf("acknowledged %q after %d applications, want %q after 1", msg.acked, len(sink.applied), tt.want)
			}
			if tt.want == "nak" && msg.inProgress == 0 { // the unreachable portal was waited for, the message kept
				t.Fatal("no InProgress while waiting for the portal")
			}
		})
	}
	if r := dbtest.Must[model.ChangeRequest](t)(store.ChangeRequestByID(ctx, scope, removed.ID)); r.Status != model.ChangeFailed {
		t.Fatalf("the other key's result was overwritten: %s", r.Status)
	}
}

// A consumer catching up on a backlog under the property's rate limit
// (finding 1 of the delivery-faults issue): its claim checks and reports
// are paced by the portal's 429s (Retry-After), spend no delivery, and
// every change ends APPLIED — none FAILED "rate limit exceeded", none left
// PUBLISHED — while a resident of the property is answered throughout (a
// manager key's calls have their own bucket).
func TestCatchUpUnderTheRateLimit(t *testing.T) {
	js := relaytest.JetStream(t)
	cfg := relaytest.Names(t, js, "catchup")
	cfg.Poll = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := dbtest.Must[*db.DB](t)(db.Open(ctx, dbtest.NewURL(t), dbtest.Keys(t), db.Options{}))
	t.Cleanup(store.Close)
	limiter := ratelimit.NewMemory(ratelimit.Config{Burst: 10, PerSecond: 20}, nil, 0)
	guard := ratelimit.NewGuard(limiter, ratelimit.NewMemory(ratelimit.Config{Burst: 1_000_000, PerSecond: 1_000_000}, nil, 0), nil)
	svc := service.New(store, dbtest.Keys(t), service.Options{LoginFailures: guard})
	// The notice listener up, as in portald: the manager key is remembered
	// and recognised when charged.
	listened := make(chan struct{})
	go func() { defer close(listened); store.ListenAuthChanges(ctx, svc.Authenticator(), quiet) }()
	defer func() { cancel(); <-listened }()
	for deadline := time.Now().Add(10 * time.Second); !svc.Authenticator().Caching(); {
		if time.Now().After(deadline) {
			t.Fatal("the notice listener did not come up")
		}
		<-time.After(10 * time.Millisecond)
	}
	srv := httptest.NewServer(rest.NewHandler(rest.Deps{Service: svc, Log: quiet, Metrics: edge.NewMetrics(), RequestTimeout: 10 * time.Second,
		PublicBaseURL: "http://localhost", Guard: guard,
		GraphQL: resolvers.NewGraphQLHandler(svc, resolvers.GraphQLOptions{ComplexityLimit: 50000, RateLimiter: guard})}))
	t.Cleanup(srv.Close)

	p := dbtest.Must[model.Property](t)(store.CreateProperty(ctx, db.PropertyInput{Name: dbtest.Ptr("Backlog House")}))
	u := dbtest.Must[db.CreatedUnit](t)(store.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "1"}))
	key := dbtest.Must[db.CreatedManagerKey](t)(store.CreateManagerKey(ctx, p.ID)).Key
	for range 60 { // the backlog: a consumer that was away
		dbtest.Must[model.UnitUpdateResult](t)(store.UpdateUnit(ctx, model.PropertyScope(p.ID), u.Unit.ID, model.UnitUpdate{Secret: dbtest.Ptr("")}))
	}
	r := dbtest.Must[*relay.Relay](t)(relay.New(store, js, cfg, quiet, nil))
	relayDone := make(chan struct{})
	go func() { defer close(relayDone); r.Run(ctx) }()
	defer func() { cancel(); <-relayDone }()
	cons := untilStream(t, func() (jetstream.Consumer, error) {
		return js.CreateOrUpdateConsumer(ctx, cfg.Stream, jetstream.ConsumerConfig{Durable: "catchup", FilterSubject: cfg.SubjectPrefix + ".>",
			AckPolicy: jetstream.AckExplicitPolicy, AckWait: 5 * time.Second, MaxDeliver: 3})
	})
	sink := &recorder{}
	c := &Consumer{API: &API{URL: srv.URL + "/graphql", Keys: map[uuid.UUID]string{p.ID: key}, Client: http.DefaultClient},
		Sink: sink, Log: quiet, MaxDeliver: 2, RetryDelay: 50 * time.Millisecond, Patience: 30 * time.Second}
	consumed := make(chan error, 1)
	go func() { consumed <- c.Run(ctx, cons) }()
	defer func() { cancel(); <-consumed }()

	login := dbtest.Must[service.LoginResult](t)(svc.Login(ctx, p.ID, u.PortalSecret))
	residentOK, residentAll := 0, 0
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/residents/properties/%s/units", srv.URL, p.ID), nil)
		req.Header.Set("Authorization", "Bearer "+login.Token)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			residentAll++
			if resp.StatusCode == 200 {
				residentOK++
			}
			resp.Body.Close()
		}
		rows := dbtest.Must[[]model.ChangeRequest](t)(store.ChangeRequestsByUnit(ctx, u.Unit.ID))
		done, failed := 0, 0
		for _, r := range rows {
			switch r.Status {
			case model.ChangeApplied:
				done++
			case model.ChangeFailed:
				failed++
				t.Fatalf("a change FAILED while catching up: %v", *r.Detail)
			}
		}
		if done == len(rows) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d applied within 60 s", done, len(rows))
		}
		<-time.After(200 * time.Millisecond) // a resident polling 5 times a second
	}
	if residentOK != residentAll {
		t.Fatalf("the resident was answered %d of %d times during the catch-up", residentOK, residentAll)
	}
}

// Two deployments on one NATS (two databases, two relays, one stream, as
// two checkouts of one machine have): each one's consumer, under the same
// name, takes its own property's changes only, and every change of both
// ends APPLIED — none taken by the other's consumer, none waiting for ever.
func TestDeploymentsSharingNATSNeverMeet(t *testing.T) {
	js := relaytest.JetStream(t)
	cfg := relaytest.Names(t, js, "shared")
	cfg.Poll = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	type deployment struct {
		store *db.DB
		p     model.Property
		unit  uuid.UUID
		sink  *recorder
		logs  *dbtest.Buffer
	}
	var deps []*deployment
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for i := range 2 {
		store, srv := newPortal(t)
		p := dbtest.Must[model.Property](t)(store.CreateProperty(ctx, db.PropertyInput{Name: dbtest.Ptr(fmt.Sprintf("House %d", i))}))
		u := dbtest.Must[db.CreatedUnit](t)(store.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "1"}))
		key := dbtest.Must[db.CreatedManagerKey](t)(store.CreateManagerKey(ctx, p.ID)).Key
		for range 5 {
			dbtest.Must[model.UnitUpdateResult](t)(store.UpdateUnit(ctx, model.PropertyScope(p.ID), u.Unit.ID, model.UnitUpdate{Secret: dbtest.Ptr("")}))
		}
		d := &deployment{store: store, p: p, unit: u.Unit.ID, sink: &recorder{}, logs: &dbtest.Buffer{}}
		deps = append(deps, d)
		r := dbtest.Must[*relay.Relay](t)(relay.New(store, js, cfg, quiet, nil))
		wg.Add(1)
		go func() { defer wg.Done(); r.Run(ctx) }()
		c := &Consumer{API: &API{URL: srv.URL + "/graphql", Keys: map[uuid.UUID]string{p.ID: key}, Client: http.DefaultClient},
			Sink: d.sink, Log: slog.New(slog.NewTextHandler(d.logs, nil)), MaxDeliver: 2, RetryDelay: 50 * time.Millisecond}
		conss := untilStream(t, func() ([]jetstream.Consumer, error) {
			return c.Durables(ctx, js, cfg.Stream, cfg.SubjectPrefix, "wifisync", jetstream.ConsumerConfig{AckPolicy: jetstream.AckExplicitPolicy, MaxDeliver: 3})
		})
		if len(conss) != 1 || conss[0].CachedInfo().Name != "wifisync-"+p.ID.String() {
			t.Fatalf("%d consumers, the first named %q", len(conss), conss[0].CachedInfo().Name)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.RunAll(ctx, conss) }()
	}
	for _, d := range deps {
		for deadline := time.Now().Add(20 * time.Second); ; {
			rows := dbtest.Must[[]model.ChangeRequest](t)(d.store.ChangeRequestsByUnit(ctx, d.unit))
			applied := 0
			for _, r := range rows {
				if r.Status == model.ChangeApplied {
					applied++
				}
			}
			if applied == len(rows) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d of %d changes applied within 20 s; its consumer logged:\n%s", d.p.Name, applied, len(rows), d.logs.String())
			}
			<-time.After(50 * time.Millisecond)
		}
	}
	for _, d := range deps {
		d.sink.mu.Lock()
		for _, c := range d.sink.applied {
			if c.PropertyID != d.p.ID {
				t.Errorf("%s's consumer applied a change of property %s", d.p.Name, c.PropertyID)
			}
		}
		d.sink.mu.Unlock()
		if strings.Contains(d.logs.String(), "no manager key") {
			t.Errorf("%s's consumer was handed another deployment's change:\n%s", d.p.Name, d.logs.String())
		}
	}
}

// A consumer whose manager key the portal refuses (revoked here) applies
// nothing and reports nothing FAILED: it says so at ERROR and holds the
// property's first change without spending its deliveries (a restart with
// a valid key is handed it again), its other changes waiting PUBLISHED
// behind it.
func TestRefusedKeyLeavesChangesWaiting(t *testing.T) {
	js := relaytest.JetStream(t)
	cfg := relaytest.Names(t, js, "refused")
	cfg.Poll = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, srv := newPortal(t)
	p := dbtest.Must[model.Property](t)(store.CreateProperty(ctx, db.PropertyInput{Name: dbtest.Ptr("Revoked House")}))
	u := dbtest.Must[db.CreatedUnit](t)(store.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "1"}))
	key := dbtest.Must[db.CreatedManagerKey](t)(store.CreateManagerKey(ctx, p.ID))
	dbtest.Must[model.ManagerKey](t)(store.RevokeManagerKey(ctx, key.ManagerKey.ID))
	r := dbtest.Must[*relay.Relay](t)(relay.New(store, js, cfg, quiet, nil))
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Add(1)
	go func() { defer wg.Done(); r.Run(ctx) }()
	logs, sink := &dbtest.Buffer{}, &recorder{}
	c := &Consumer{API: &API{URL: srv.URL + "/graphql", Keys: map[uuid.UUID]string{p.ID: key.Key}, Client: http.DefaultClient},
		Sink: sink, Log: slog.New(slog.NewTextHandler(logs, nil)), MaxDeliver: 2, RetryDelay: 50 * time.Millisecond}
	conss := untilStream(t, func() ([]jetstream.Consumer, error) {
		return c.Durables(ctx, js, cfg.Stream, cfg.SubjectPrefix, "wifisync", jetstream.ConsumerConfig{AckPolicy: jetstream.AckExplicitPolicy, MaxDeliver: 3})
	})
	wg.Add(1)
	go func() { defer wg.Done(); _ = c.RunAll(ctx, conss) }()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(logs.String(), "refuses this consumer's manager key"); {
		if time.Now().After(deadline) {
			t.Fatalf("no ERROR about the refused key within 20 s:\n%s", logs.String())
		}
		<-time.After(50 * time.Millisecond)
	}
	// Well past RetryDelay: a consumer that Nak'ed would have been handed
	// the change again by now.
	<-time.After(time.Second)
	info, err := conss[0].Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 1 || info.NumRedelivered != 0 {
		t.Fatalf("in hand %d, delivered again %d: want the first change held, none delivered again", info.NumAckPending, info.NumRedelivered)
	}
	for _, r := range dbtest.Must[[]model.ChangeRequest](t)(store.ChangeRequestsByUnit(ctx, u.Unit.ID)) {
		if r.Status != model.ChangePublished {
			t.Errorf("change %s (%s) is %s; it should wait PUBLISHED", r.ID, r.Kind, r.Status)
		}
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.applied) != 0 {
		t.Fatalf("%d changes applied with a refused key", len(sink.applied))
	}
}

// untilStream calls make until it succeeds (the relay makes the stream it
// needs when it first runs), for up to 10 s.
func untilStream[T any](t *testing.T, make func() (T, error)) T {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		v, err := make()
		if err == nil {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		<-time.After(20 * time.Millisecond)
	}
}
