// Command faultbench is the soak of change delivery under faults for
// `make bench`, and prints its section of BENCHMARKS.md: change requests
// written at a steady rate over 100 units of two properties while the
// broker is killed (SIGKILL) and started again twice, the consumer is
// stopped and started again, and a session holds one pending row of the
// first property locked for 30 s. The relay, the portal's GraphQL API (the
// consumer's claim checks) and the reference consumer run in this process;
// the nats-server is its own (JetStream, file storage), on a port it is
// given. At the end: how many changes were lost (neither APPLIED nor FAILED
// once delivery settles), how many the sink was handed more than once, and
// the second property's time from commit to message while the lock was
// held.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/residentportal/bff/bench"
	"github.com/residentportal/bff/resolvers"
	"github.com/residentportal/bff/resolvers/delivery/consumer"
	"github.com/residentportal/bff/resolvers/delivery/relay"
	"github.com/residentportal/bff/resolvers/service"
	"github.com/residentportal/bff/rest"
	"github.com/residentportal/bff/rest/edge"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// unit is a unit of the run and its UNIT identity, whose passphrase each
// change names (so that the consumer makes its claim check).
type unit struct{ property, id, user uuid.UUID }

func main() {
	dbURL := flag.String("db", "", "benchmark database")
	natsBin := flag.String("nats-server", "/usr/sbin/nats-server", "nats-server binary")
	port := flag.Int("port", 14223, "port of the run's own nats-server")
	dir := flag.String("dir", "bench/out/faultbench", "the nats-server's storage")
	changes := flag.Int("changes", 10_000, "change requests written")
	seconds := flag.Int("seconds", 50, "over how long")
	lockFor := flag.Duration("lock", 30*time.Second, "how long the row lock is held")
	flag.Parse()
	ctx := context.Background()
	store, keys := bench.Store(ctx, *dbURL)
	defer store.Close()
	admin, err := pgx.Connect(ctx, *dbURL)
	if err != nil {
		log.Fatal(err)
	}
	// 50 units of each of the dataset's two properties.
	var units []unit
	rows, err := admin.Query(ctx, `SELECT * FROM (
	    SELECT u.property_id, u.id, uu.id, row_number() OVER (PARTITION BY u.property_id ORDER BY u.number) AS n
	    FROM units u JOIN unit_users uu ON uu.unit_id = u.id AND uu.type = 'UNIT') x WHERE n <= 50 ORDER BY n, property_id`)
	if err != nil {
		log.Fatal(err)
	}
	for rows.Next() {
		var u unit
		var n int
		if err := rows.Scan(&u.property, &u.id, &u.user, &n); err != nil {
			log.Fatal(err)
		}
		units = append(units, u)
	}
	if rows.Err() != nil || len(units) != 100 {
		log.Fatalf("want 100 units of two properties, got %d (%v)", len(units), rows.Err())
	}
	locked, other := units[0].property, units[1].property
	// Only this run's rows are to deliver.
	if _, err := admin.Exec(ctx, `UPDATE change_requests SET status = 'FAILED' WHERE status IN ('PENDING', 'PUBLISHED')`); err != nil {
		log.Fatal(err)
	}

	// The broker, killed and started again on the same storage.
	_ = os.RemoveAll(*dir)
	url := fmt.Sprintf("nats://127.0.0.1:%d", *port)
	var broker *exec.Cmd
	startBroker := func() {
		broker = exec.Command(*natsBin, "-a", "127.0.0.1", "-p", fmt.Sprint(*port), "-js", "-sd", *dir)
		if err := broker.Start(); err != nil {
			log.Fatal(err)
		}
		for range 100 {
			if nc, err := nats.Connect(url); err == nil {
				nc.Close()
				return
			}
			<-time.After(50 * time.Millisecond)
		}
		log.Fatal("nats-server did not start")
	}
	killBroker := func() { _ = broker.Process.Kill(); _ = broker.Wait() }
	startBroker()
	defer killBroker()
	connect := func(name string) jetstream.JetStream {
		nc, err := nats.Connect(url, nats.Name(name), nats.ReconnectBufSize(-1), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
		if err != nil {
			log.Fatal(err)
		}
		js, err := jetstream.New(nc)
		if err != nil {
			log.Fatal(err)
		}
		return js
	}
	cfg := relay.Config{Stream: "BENCH_FAULTS", SubjectPrefix: "bench.faults", Poll: time.Second}

	// The portal (for the claim checks and reports), the relay and the
	// consumer, as a deployment runs them.
	svc := service.New(store, keys, service.Options{})
	portal := httptest.NewServer(rest.NewHandler(rest.Deps{Service: svc, Log: quiet, Metrics: edge.NewMetrics(), RequestTimeout: 10 * time.Second,
		PublicBaseURL: "http://localhost", GraphQL: resolvers.NewGraphQLHandler(svc, resolvers.GraphQLOptions{ComplexityLimit: 50000})}))
	defer portal.Close()
	api := &consumer.API{URL: portal.URL + "/graphql", Keys: map[uuid.UUID]string{}, Client: &http.Client{Timeout: 10 * time.Second}}
	for _, p := range []uuid.UUID{locked, other} {
		k, err := store.CreateManagerKey(ctx, p)
		if err != nil {
			log.Fatal(err)
		}
		api.Keys[p] = k.Key
	}
	r, err := relay.New(store, connect("relay"), cfg, quiet, nil)
	if err != nil {
		log.Fatal(err)
	}
	runCtx, stopAll := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { r.Run(runCtx) })
	sink := &counter{applied: map[uuid.UUID]int{}}
	consumerJS := connect("consumer")
	c := &consumer.Consumer{API: api, Sink: sink, Log: quiet, MaxDeliver: 5, RetryDelay: 200 * time.Millisecond}
	startConsumer := func() (stop func()) {
		cctx, cancel := context.WithCancel(runCtx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for cctx.Err() == nil { // the relay makes the stream
				conss, err := c.Durables(cctx, consumerJS, cfg.Stream, cfg.SubjectPrefix, "faultbench",
					jetstream.ConsumerConfig{AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxDeliver: 6})
				if err == nil {
					_ = c.RunAll(cctx, conss)
					return
				}
				select {
				case <-cctx.Done():
				case <-time.After(200 * time.Millisecond):
				}
			}
		}()
		return func() { cancel(); <-done }
	}
	stopConsumer := startConsumer()

	// The other property's messages, as a subscriber of its subjects sees them.
	watch, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	var mu sync.Mutex
	committed, arrived := map[string]time.Time{}, map[string]time.Time{}
	if _, err := watch.Subscribe(cfg.SubjectPrefix+"."+other.String()+".>", func(m *nats.Msg) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if _, seen := arrived[m.Header.Get(nats.MsgIdHdr)]; !seen {
			arrived[m.Header.Get(nats.MsgIdHdr)] = now
		}
	}); err != nil {
		log.Fatal(err)
	}

	// The faults, on a timeline over the writes.
	total := time.Duration(*seconds) * time.Second
	at := func(f float64) time.Duration { return time.Duration(f * float64(total)) }
	var lockStart, lockEnd time.Time
	var events []event
	var eventsMu sync.Mutex
	begin := time.Now()
	noteAt := func(at time.Time, s string) {
		eventsMu.Lock()
		defer eventsMu.Unlock()
		events = append(events, event{at.Sub(begin), fmt.Sprintf("at %.1f s, %s", at.Sub(begin).Seconds(), s)})
	}
	note := func(s string) { noteAt(time.Now(), s) }
	extra := 0 // rows written by the lock holder
	var faults sync.WaitGroup
	faults.Go(func() {
		<-time.After(at(0.1))
		killBroker()
		note("broker killed")
		<-time.After(3 * time.Second)
		startBroker()
		note("broker started")
	})
	faults.Go(func() {
		<-time.After(at(0.24))
		lockStart, lockEnd, extra = holdLock(ctx, *dbURL, units[0], *lockFor)
		noteAt(lockStart, fmt.Sprintf("a pending row of the first property locked (SELECT … FOR UPDATE) for %.1f s", lockEnd.Sub(lockStart).Seconds()))
	})
	faults.Go(func() {
		<-time.After(at(0.5))
		stopConsumer()
		note("consumer stopped")
		<-time.After(time.Second)
		stopConsumer = startConsumer()
		note("consumer started")
	})
	faults.Go(func() {
		<-time.After(at(0.24) + *lockFor + 2*time.Second)
		killBroker()
		note("broker killed")
		<-time.After(3 * time.Second)
		startBroker()
		note("broker started")
	})

	// The writes: change requests of the units in turn, at a steady rate.
	tick := time.NewTicker(total / time.Duration(*changes))
	for i := range *changes {
		<-tick.C
		u := units[i%len(units)]
		id := uuid.New()
		if _, err := admin.Exec(ctx, `INSERT INTO change_requests (id, kind, property_id, unit_id, user_id) VALUES ($1, 'PASSPHRASE_CHANGED', $2, $3, $4)`,
			id, u.property, u.id, u.user); err != nil {
			log.Fatal(err)
		}
		if u.property == other {
			now := time.Now()
			mu.Lock()
			committed[id.String()] = now
			mu.Unlock()
		}
	}
	tick.Stop()
	written := time.Now()
	faults.Wait()

	// Delivery settles: every row APPLIED or FAILED, or 5 minutes.
	var open int
	for deadline := time.Now().Add(5 * time.Minute); ; {
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM change_requests WHERE status IN ('PENDING', 'PUBLISHED')`).Scan(&open); err != nil {
			log.Fatal(err)
		}
		if open == 0 || time.Now().After(deadline) {
			break
		}
		<-time.After(200 * time.Millisecond)
	}
	settled := time.Since(written)
	stopConsumer()
	stopAll()
	wg.Wait()

	var appliedRows, failedRows int
	if err := admin.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'APPLIED'), count(*) FILTER (WHERE status = 'FAILED' AND completed_at > $1)
	    FROM change_requests WHERE created_at > $1`, begin.Add(-time.Second)).Scan(&appliedRows, &failedRows); err != nil {
		log.Fatal(err)
	}
	sink.mu.Lock()
	handed, twice := 0, 0
	for _, n := range sink.applied {
		handed += n
		if n > 1 {
			twice += n - 1
		}
	}
	sink.mu.Unlock()
	mu.Lock()
	var during []time.Duration
	for id, cat := range committed {
		if cat.After(lockStart) && cat.Before(lockEnd) {
			if a, ok := arrived[id]; ok {
				during = append(during, max(0, a.Sub(cat)))
			}
		}
	}
	mu.Unlock()
	slices.Sort(during)

	fmt.Printf("## Change delivery under faults\n\n")
	fmt.Printf("`bench/cmd/faultbench`: %d change requests (a passphrase change each, so every one makes a claim check) written over %d s, "+
		"round robin over 100 units (50 of each of the dataset's two properties), with the relay, the portal's GraphQL API and the reference "+
		"consumer (`consumer.Consumer`, one durable per property) in one process and a nats-server of its own (JetStream, file storage). "+
		"Meanwhile: %s. Lost is a change neither APPLIED nor FAILED once delivery settles (at most 5 minutes after the last write); "+
		"the sink counts each change it is handed more than once. The second property's commit → message is measured while the lock is held.\n\n",
		*changes, *seconds, join(sorted(events)))
	fmt.Printf("| written (the lock holder's included) | APPLIED | FAILED | lost | handed to the sink | more than once | settled after the last write | other property during the lock: messages | p50 ms | p99 ms | max ms |\n")
	fmt.Printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Printf("| %d | %d | %d | %d | %d | %d | %.1f s | %d | %.1f | %.1f | %.1f |\n\n", *changes+extra, appliedRows, failedRows, open, handed, twice,
		settled.Seconds(), len(during), bench.Ms(bench.Pct(during, 0.5)), bench.Ms(bench.Pct(during, 0.99)), bench.Ms(bench.Pct(during, 1)))
}

// holdLock writes a change of u and, before the relay reads it, locks its
// row for d in a session of its own, as an operator's SELECT … FOR UPDATE
// would; it returns when the lock was taken and let go.
func holdLock(ctx context.Context, dbURL string, u unit, d time.Duration) (start, end time.Time, written int) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close(ctx)
	writer, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		log.Fatal(err)
	}
	defer writer.Close(ctx)
	for range 100 {
		tx, err := conn.Begin(ctx)
		if err != nil {
			log.Fatal(err)
		}
		id := uuid.New()
		written++
		if _, err := writer.Exec(ctx, `INSERT INTO change_requests (id, kind, property_id, unit_id, user_id) VALUES ($1, 'PASSPHRASE_CHANGED', $2, $3, $4)`,
			id, u.property, u.id, u.user); err != nil {
			log.Fatal(err)
		}
		var got int
		_ = tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM change_requests WHERE id = $1 AND status = 'PENDING' FOR UPDATE SKIP LOCKED) x`, id).Scan(&got)
		if got == 1 {
			start := time.Now()
			<-time.After(d)
			_ = tx.Rollback(ctx)
			return start, time.Now(), written
		}
		_ = tx.Rollback(ctx) // the relay was quicker; again
	}
	log.Fatal("could not lock a pending row before the relay took it")
	return
}

// event is a fault on the run's timeline.
type event struct {
	at   time.Duration
	what string
}

// sorted is the events' descriptions in the order they happened.
func sorted(es []event) []string {
	slices.SortFunc(es, func(a, b event) int { return int(a.at - b.at) })
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.what
	}
	return out
}

func join(s []string) string {
	out := ""
	for i, e := range s {
		if i > 0 {
			out += "; "
		}
		out += e
	}
	return out
}

// counter is a sink that counts what it is handed, by change.
type counter struct {
	mu      sync.Mutex
	applied map[uuid.UUID]int
}

func (c *counter) Apply(_ context.Context, ch consumer.Change) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.applied[ch.ID]++
	return nil
}
