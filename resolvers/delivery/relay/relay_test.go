package relay_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/delivery/relay"
	"github.com/residentportal/bff/resolvers/delivery/relay/relaytest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// world is a property with units whose change requests fill the outbox.
type world struct {
	store *db.DB
	url   string
	p     model.Property
	units []db.CreatedUnit
}

func newWorld(tb testing.TB, units int) *world {
	tb.Helper()
	ctx := context.Background()
	url := dbtest.NewURL(tb)
	store := dbtest.Must[*db.DB](tb)(db.Open(ctx, url, dbtest.Keys(tb), db.Options{}))
	tb.Cleanup(store.Close)
	w := &world{store: store, url: url}
	w.p = dbtest.Must[model.Property](tb)(store.CreateProperty(ctx, db.PropertyInput{Name: dbtest.Ptr("Relay House"), TenantSetDpsk: dbtest.Ptr(true)}))
	for i := range units {
		w.units = append(w.units, dbtest.Must[db.CreatedUnit](tb)(store.CreateUnit(ctx, db.NewUnit{PropertyID: w.p.ID, Number: fmt.Sprint(i)})))
	}
	return w
}

// churn writes n passphrase changes to each unit.
func (w *world) churn(tb testing.TB, n int) {
	tb.Helper()
	for range n {
		for _, u := range w.units {
			if _, err := w.store.UpdateUnit(context.Background(), model.PropertyScope(w.p.ID), u.Unit.ID, model.UnitUpdate{Secret: dbtest.Ptr("")}); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// outbox returns every change request of the world's units, in write order
// per unit.
func (w *world) outbox(tb testing.TB) map[uuid.UUID][]model.ChangeRequest {
	tb.Helper()
	out := map[uuid.UUID][]model.ChangeRequest{}
	for _, u := range w.units {
		out[u.Unit.ID] = dbtest.Must[[]model.ChangeRequest](tb)(w.store.ChangeRequestsByUnit(context.Background(), u.Unit.ID))
	}
	return out
}

// count returns how many of the world's change requests are pending and
// how many published.
func (w *world) count(tb testing.TB) (pending, published int) {
	tb.Helper()
	for _, rows := range w.outbox(tb) {
		for _, r := range rows {
			switch r.Status {
			case model.ChangePending:
				pending++
			case model.ChangePublished:
				published++
			}
		}
	}
	return pending, published
}

// await polls the outbox until cond holds, for at most 30 s.
func (w *world) await(tb testing.TB, what string, cond func(pending, published int) bool) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		pending, published := w.count(tb)
		if cond(pending, published) {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("30 s without %s: %d pending, %d published", what, pending, published)
		}
		<-time.After(20 * time.Millisecond)
	}
}

// streamed reads every message of the stream, by unit in stream order.
func streamed(tb testing.TB, js jetstream.JetStream, cfg relay.Config) map[uuid.UUID][]relay.Message {
	tb.Helper()
	ctx := context.Background()
	s := dbtest.Must[jetstream.Stream](tb)(js.Stream(ctx, cfg.Stream))
	info := dbtest.Must[*jetstream.StreamInfo](tb)(s.Info(ctx))
	out := map[uuid.UUID][]relay.Message{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		raw := dbtest.Must[*jetstream.RawStreamMsg](tb)(s.GetMsg(ctx, seq))
		var m relay.Message
		if err := json.Unmarshal(raw.Data, &m); err != nil {
			tb.Fatal(err)
		}
		if raw.Subject != relay.Subject(cfg.SubjectPrefix, m.PropertyID, m.UnitID) || raw.Header.Get(nats.MsgIdHdr) != m.ID.String() {
			tb.Fatalf("message %d: subject %s, id %s: %s", seq, raw.Subject, raw.Header.Get(nats.MsgIdHdr), raw.Data)
		}
		out[m.UnitID] = append(out[m.UnitID], m)
	}
	return out
}

// exactlyOnceInOrder fails unless every row is PUBLISHED and in the stream
// once, each unit's in write order.
func exactlyOnceInOrder(tb testing.TB, w *world, got map[uuid.UUID][]relay.Message) int {
	tb.Helper()
	total := 0
	for unit, rows := range w.outbox(tb) {
		msgs := got[unit]
		if len(msgs) != len(rows) {
			tb.Fatalf("unit %s: %d rows, %d messages", unit, len(rows), len(msgs))
		}
		for i, r := range rows {
			if r.Status != model.ChangePublished || r.PublishedAt == nil {
				tb.Fatalf("row %d of unit %s: %s", i, unit, r.Status)
			}
			m := msgs[i]
			if m.ID != r.ID || m.Kind != r.Kind || m.PropertyID != r.PropertyID || !m.CreatedAt.Equal(r.CreatedAt) {
				tb.Fatalf("unit %s, position %d: message %+v for row %+v", unit, i, m, r)
			}
		}
		total += len(rows)
	}
	return total
}

// Three relays (each with its own pool, as on three replicas) drain one
// outbox at once: every row reaches the stream exactly once, each unit's in
// the order written, and every row ends PUBLISHED.
func TestThreeRelaysPublishEachRowOnceInOrder(t *testing.T) {
	js := relaytest.JetStream(t)
	cfg := relaytest.Names(t, js, "relay")
	cfg.Units, cfg.Batch = 3, 7 // small transactions, so the relays interleave
	w := newWorld(t, 12)
	w.churn(t, 6)
	var wg sync.WaitGroup
	for range 3 {
		store := dbtest.Must[*db.DB](t)(db.Open(context.Background(), w.url, dbtest.Keys(t), db.Options{}))
		defer store.Close()
		r := dbtest.Must[*relay.Relay](t)(relay.New(store, js, cfg, quiet, nil))
		wg.Go(func() {
			if err := r.Drain(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	n := exactlyOnceInOrder(t, w, streamed(t, js, cfg))
	t.Logf("%d change requests of %d units relayed by 3 relays, each once, in order", n, len(w.units))
}

// natsServer runs a nats-server of the test's own on a spare port, with
// JetStream storing in a folder that survives its restarts.
type natsServer struct {
	port int
	dir  string
	cmd  *exec.Cmd
}

func startNATS(tb testing.TB, s *natsServer) {
	tb.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		bin = "/usr/sbin/nats-server"
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatal("nats-server is not installed")
		}
		tb.Skip("nats-server is not installed")
	}
	s.cmd = exec.Command(bin, "-a", "127.0.0.1", "-p", fmt.Sprint(s.port), "-js", "-sd", s.dir)
	if err := s.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port)); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			tb.Fatal("nats-server did not start")
		}
		<-time.After(20 * time.Millisecond)
	}
}

func (s *natsServer) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.port) }

func (s *natsServer) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

func sparePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// The broker goes away under load and comes back: writes never fail, rows
// wait, the relay resumes by itself, and the stream ends with every row
// exactly once, in order.
func TestBrokerOutageLosesNothing(t *testing.T) {
	srv, js := privateBroker(t)
	cfg := relay.Config{Stream: "PORTAL_CHANGES", SubjectPrefix: "portal.changes", Poll: 200 * time.Millisecond, AckWait: 500 * time.Millisecond}
	w := newWorld(t, 8)
	defer run(t, w, js, cfg)()

	w.churn(t, 3)
	srv.stop() // the broker goes away under load
	w.churn(t, 3)
	startNATS(t, srv)
	w.churn(t, 3)
	w.await(t, "every row published after the broker came back", func(pending, _ int) bool { return pending == 0 })
	n := exactlyOnceInOrder(t, w, streamed(t, js, cfg))
	t.Logf("%d change requests across a broker outage: none lost, none twice, in order", n)
}

// The broker dies while a relay is in the middle of a large batch: what its
// connection had written is lost, and the rest of the batch fails rather
// than waiting in a buffer to be sent on reconnection ahead of the lost
// ones. Each round's units still end in the stream once each, in order.
// (With nats.go's default reconnect buffer, about every other round ended
// with a unit out of order.)
func TestBrokerDiesMidBatch(t *testing.T) {
	srv, js := privateBroker(t)
	cfg := relay.Config{Stream: "PORTAL_CHANGES", SubjectPrefix: "portal.changes", Poll: 50 * time.Millisecond, AckWait: 300 * time.Millisecond}
	watcher, err := nats.Connect(srv.url(), nats.MaxReconnects(-1), nats.ReconnectWait(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	wjs := dbtest.Must[jetstream.JetStream](t)(jetstream.New(watcher))
	stored := func() uint64 { // messages in the stream, 0 before the relay makes it
		s, err := wjs.Stream(context.Background(), cfg.Stream)
		if err != nil {
			return 0
		}
		info, err := s.Info(context.Background())
		if err != nil {
			return 0
		}
		return info.State.Msgs
	}
	total := 0
	for round := range 4 {
		w := newWorld(t, 4)
		w.churn(t, 200) // 800 pending: the relay's first batch takes them all
		before := stored()
		stop := run(t, w, js, cfg)
		deadline := time.Now().Add(30 * time.Second)
		for stored() == before { // the relay has begun its batch
			if time.Now().After(deadline) {
				t.Fatalf("round %d: nothing published in 30 s", round)
			}
		}
		srv.stop()
		w.churn(t, 1)
		startNATS(t, srv)
		w.await(t, "every row published after the broker came back", func(pending, _ int) bool { return pending == 0 })
		stop()
		total += exactlyOnceInOrder(t, w, streamed(t, js, cfg))
	}
	t.Logf("%d change requests over 4 broker deaths in mid-batch: none lost, none twice, in order", total)
}

// A connection that would buffer publications while it reconnects is
// refused: with it the test above fails.
func TestNewRefusesAReconnectBuffer(t *testing.T) {
	nc, err := nats.Connect(relaytest.URL)
	if err != nil {
		t.Skipf("no NATS: %v", err)
	}
	defer nc.Close()
	js := dbtest.Must[jetstream.JetStream](t)(jetstream.New(nc))
	if _, err := relay.New(nil, js, relay.Config{}, quiet, nil); !errors.Is(err, relay.ErrReconnectBuffer) {
		t.Fatalf("New on a buffering connection: %v, want ErrReconnectBuffer", err)
	}
}

// privateBroker starts a nats-server of the test's own and connects to it
// as a relay must (no reconnect buffer), reconnecting quickly for ever.
func privateBroker(tb testing.TB) (*natsServer, jetstream.JetStream) {
	tb.Helper()
	srv := &natsServer{port: sparePort(tb), dir: tb.TempDir()}
	startNATS(tb, srv)
	tb.Cleanup(srv.stop)
	nc, err := nats.Connect(srv.url(), nats.MaxReconnects(-1), nats.ReconnectWait(10*time.Millisecond), nats.ReconnectBufSize(-1))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return srv, dbtest.Must[jetstream.JetStream](tb)(jetstream.New(nc))
}

// run runs a relay over w's store until the returned function is called.
func run(tb testing.TB, w *world, js jetstream.JetStream, cfg relay.Config) (stop func()) {
	tb.Helper()
	r := dbtest.Must[*relay.Relay](tb)(relay.New(w.store, js, cfg, quiet, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	return func() { cancel(); <-done }
}

// A change request the Wi-Fi side took and never answered is published
// again once it has been unanswered for RepublishAfter (past the broker's
// duplicate window): nothing stays PUBLISHED for ever. One answered, or
// published more recently, is left alone.
func TestUnansweredRequestsArePublishedAgain(t *testing.T) {
	js := relaytest.JetStream(t)
	cfg := relaytest.Names(t, js, "republish")
	cfg.Poll, cfg.Duplicates, cfg.RepublishAfter = 50*time.Millisecond, time.Second, 2*time.Second
	w := newWorld(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	r := dbtest.Must[*relay.Relay](t)(relay.New(w.store, js, cfg, quiet, nil))
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	w.await(t, "every request published", func(pending, published int) bool { return pending == 0 && published == len(w.units) })
	// The first unit's request is answered; the second's never is.
	first := w.outbox(t)[w.units[0].Unit.ID][0]
	if _, _, err := w.store.CompleteChangeRequest(ctx, w.p.ID, first.ID, model.ChangeApplied, nil); err != nil {
		t.Fatal(err)
	}
	second := w.outbox(t)[w.units[1].Unit.ID][0]
	start := time.Now()
	for {
		got := streamed(t, js, cfg)
		if len(got[w.units[1].Unit.ID]) == 2 {
			if took := time.Since(start); took < time.Second {
				t.Fatalf("published again after %v, before RepublishAfter", took)
			}
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("not published again within 30 s: %v", got)
		}
		<-time.After(50 * time.Millisecond)
	}
	got := streamed(t, js, cfg)
	if m := got[w.units[1].Unit.ID]; m[1].ID != second.ID || len(got[w.units[0].Unit.ID]) != 1 {
		t.Fatalf("streamed: %v", got)
	}
	if r := w.outbox(t)[w.units[1].Unit.ID][0]; r.Status != model.ChangePublished || r.PublishedAt == nil || !r.PublishedAt.After(start) {
		t.Fatalf("the unanswered request after it was published again: %+v", r)
	}
}

// A pending row another session holds (an operator's SELECT … FOR UPDATE)
// stalls nobody: the other units are published at once, and the held
// row's unit up to it; once it is let go, it and the rows after it follow,
// in write order.
func TestAHeldRowStallsNoOne(t *testing.T) {
	js := relaytest.JetStream(t)
	cfg := relaytest.Names(t, js, "held")
	cfg.Poll = 50 * time.Millisecond
	w := newWorld(t, 3)
	w.churn(t, 2) // three rows a unit: IDENTITY_CREATED, then two passphrase changes
	ctx, cancel := context.WithCancel(context.Background())
	held := w.outbox(t)[w.units[0].Unit.ID][1]
	tx := dbtest.Must[pgx.Tx](t)(w.store.Pool().Begin(ctx))
	if _, err := tx.Exec(ctx, `SELECT id FROM change_requests WHERE id = $1 FOR UPDATE`, held.ID); err != nil {
		t.Fatal(err)
	}
	r := dbtest.Must[*relay.Relay](t)(relay.New(w.store, js, cfg, quiet, nil))
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	w.await(t, "everything but the held row's unit from it on", func(pending, published int) bool { return pending == 2 && published == 3*3-2 })
	for _, c := range w.outbox(t)[w.units[0].Unit.ID] {
		if want := c.Seq < held.Seq; (c.Status == model.ChangePublished) != want {
			t.Fatalf("unit 0, seq %d: %s (the held row's seq is %d)", c.Seq, c.Status, held.Seq)
		}
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	w.await(t, "the rest once the row is let go", func(pending, published int) bool { return pending == 0 && published == 3*3 })
	got := streamed(t, js, cfg)[w.units[0].Unit.ID]
	rows := w.outbox(t)[w.units[0].Unit.ID]
	if len(got) != len(rows) {
		t.Fatalf("unit 0: %d messages for %d rows", len(got), len(rows))
	}
	for i := range rows {
		if got[i].ID != rows[i].ID {
			t.Fatalf("unit 0 out of order: message %d is %s, row %d is %s", i, got[i].ID, i, rows[i].ID)
		}
	}
}
