// Command relaybench measures the outbox relay for `make bench` and prints
// a section of BENCHMARKS.md: publication throughput from a backlog, the
// time from a write's commit to its message on the broker at a steady
// write rate (with 1 and with 3 relays, each with its own pool as on a
// replica), and the write path's throughput with a relay running beside it
// and without. It works in the benchmark database, on change requests of
// its own, and on a NATS server it is given.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/residentportal/bff/bench"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/delivery/relay"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func main() {
	dbURL := flag.String("db", "", "benchmark database")
	natsURL := flag.String("nats", "nats://127.0.0.1:4222", "NATS server with JetStream")
	backlog := flag.Int("backlog", 100_000, "rows in the backlog")
	rate := flag.Int("rate", 500, "writes per second for the latency run")
	seconds := flag.Int("seconds", 10, "length of the latency and write runs")
	flag.Parse()
	ctx := context.Background()
	open := func() *db.DB { s, _ := bench.Store(ctx, *dbURL); return s }
	admin, err := pgx.Connect(ctx, *dbURL)
	if err != nil {
		log.Fatal(err)
	}
	nc, err := nats.Connect(*natsURL, nats.ReconnectBufSize(-1))
	if err != nil {
		log.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	var units [][2]uuid.UUID // (property, unit), 1,000 of them
	rows, err := admin.Query(ctx, `SELECT property_id, id FROM units ORDER BY number LIMIT 1000`)
	if err != nil {
		log.Fatal(err)
	}
	for rows.Next() {
		var u [2]uuid.UUID
		if err := rows.Scan(&u[0], &u[1]); err != nil {
			log.Fatal(err)
		}
		units = append(units, u)
	}
	fresh := func(name string) relay.Config {
		cfg := relay.Config{Stream: "BENCH_" + strings.ToUpper(name), SubjectPrefix: "bench." + name, Poll: time.Second}
		_ = js.DeleteStream(ctx, cfg.Stream)
		// Only this run's rows are pending.
		if _, err := admin.Exec(ctx, `UPDATE change_requests SET status = 'PUBLISHED' WHERE status = 'PENDING'`); err != nil {
			log.Fatal(err)
		}
		return cfg
	}
	relays := func(ctx context.Context, n int, cfg relay.Config) (stop func()) {
		ctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for range n {
			store := open()
			r, err := relay.New(store, js, cfg, quiet, nil)
			if err != nil {
				log.Fatal(err)
			}
			wg.Go(func() { defer store.Close(); r.Run(ctx) })
		}
		return func() { cancel(); wg.Wait() }
	}
	pending := func() int {
		var n int
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM change_requests WHERE status = 'PENDING'`).Scan(&n); err != nil {
			log.Fatal(err)
		}
		return n
	}

	var out strings.Builder
	out.WriteString("## Change delivery: the outbox relay\n\n")
	fmt.Fprintf(&out, "`bench/cmd/relaybench` in the benchmark database, against a nats-server of the run's own (JetStream, file storage). "+
		"Each relay has its own pool, as on a replica. Backlog: %d PENDING rows over 1,000 units, written before the relays start; "+
		"time until every row is PUBLISHED. Latency: %d writes/s for %d s, one change request per transaction, from the write's "+
		"commit to the message reaching a subscriber of the stream's subjects.\n\n", *backlog, *rate, *seconds)
	out.WriteString("| relays | backlog published/s | latency p50 ms | p90 ms | p99 ms | max ms | messages | duplicates |\n|---|---|---|---|---|---|---|---|\n")
	for _, n := range []int{1, 3} {
		// Backlog.
		cfg := fresh(fmt.Sprintf("backlog%d", n))
		if _, err := admin.Exec(ctx, `INSERT INTO change_requests (id, kind, property_id, unit_id)
		  SELECT gen_random_uuid(), 'PASSPHRASE_CHANGED', u.property_id, u.id
		  FROM generate_series(1, $1::int / $2::int) CROSS JOIN (SELECT property_id, id FROM units ORDER BY number LIMIT $2) u`,
			*backlog, len(units)); err != nil {
			log.Fatal(err)
		}
		start := time.Now()
		stop := relays(ctx, n, cfg)
		for pending() > 0 {
			<-time.After(20 * time.Millisecond)
		}
		drained := time.Since(start)
		stop()
		s, _ := js.Stream(ctx, cfg.Stream)
		info, _ := s.Info(ctx)

		// Latency at a steady write rate.
		cfg = fresh(fmt.Sprintf("steady%d", n))
		lat, msgs, dups := steady(ctx, admin, js, cfg, units, *rate, *seconds, func(ctx context.Context) func() { return relays(ctx, n, cfg) })
		fmt.Fprintf(&out, "| %d | %.0f | %.1f | %.1f | %.1f | %.1f | %d | %d |\n", n, float64(info.State.Msgs)/drained.Seconds(),
			bench.Ms(bench.Pct(lat, 0.5)), bench.Ms(bench.Pct(lat, 0.9)), bench.Ms(bench.Pct(lat, 0.99)), bench.Ms(bench.Pct(lat, 1)), msgs, dups)
		_ = js.DeleteStream(ctx, cfg.Stream)
		_ = js.DeleteStream(ctx, fmt.Sprintf("BENCH_BACKLOG%d", n))
	}

	// The write path with a relay beside it and without: passphrase
	// regenerations (each writes a change request) from 8 writers.
	store := open()
	defer store.Close()
	writes := func() float64 {
		var n atomic.Int64
		ctx, cancel := context.WithTimeout(ctx, time.Duration(*seconds)*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := w; ctx.Err() == nil; i += 8 {
					u := units[i%len(units)]
					if _, err := store.UpdateUnit(ctx, model.PropertyScope(u[0]), u[1], model.UnitUpdate{Secret: ptr("")}); err == nil {
						n.Add(1)
					}
				}
			})
		}
		wg.Wait()
		return float64(n.Load()) / float64(*seconds)
	}
	cfg := fresh("writes")
	off := writes()
	stop := relays(ctx, 1, cfg)
	on := writes()
	stop()
	off2 := writes() // off again, interleaved
	fmt.Fprintf(&out, "\nWrite path (`UpdateUnit` regenerating a passphrase, 8 writers, %d s each, relay off / on / off): "+
		"%.0f / %.0f / %.0f writes/s: **%.2f×** with the relay on.\n\n", *seconds, off, on, off2, on/((off+off2)/2))
	_ = js.DeleteStream(ctx, cfg.Stream)
	fmt.Print(out.String())
}

func ptr[T any](v T) *T { return &v }

// steady writes rate change requests a second for seconds while the relays
// run, and returns the latencies from commit to arrival, the messages seen
// and how many arrived twice.
func steady(ctx context.Context, admin *pgx.Conn, js jetstream.JetStream, cfg relay.Config, units [][2]uuid.UUID,
	rate, seconds int, start func(context.Context) func()) ([]time.Duration, int, int) {
	nc := js.Conn()
	var mu sync.Mutex
	committed := map[string]time.Time{}
	arrived := map[string]time.Time{}
	dups := 0
	sub, err := nc.Subscribe(cfg.SubjectPrefix+".>", func(m *nats.Msg) {
		now := time.Now()
		id := m.Header.Get(nats.MsgIdHdr)
		mu.Lock()
		defer mu.Unlock()
		if _, seen := arrived[id]; seen {
			dups++
			return
		}
		arrived[id] = now
	})
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Unsubscribe()
	stop := start(ctx)
	defer stop()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := range rate * seconds {
		<-tick.C
		u := units[i%len(units)]
		id := uuid.New()
		if _, err := admin.Exec(ctx, `INSERT INTO change_requests (id, kind, property_id, unit_id) VALUES ($1, 'PASSPHRASE_CHANGED', $2, $3)`,
			id, u[0], u[1]); err != nil {
			log.Fatal(err)
		}
		now := time.Now()
		mu.Lock()
		committed[id.String()] = now
		mu.Unlock()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(arrived)
		mu.Unlock()
		if n >= len(committed) || time.Now().After(deadline) {
			break
		}
		<-time.After(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	var lat []time.Duration
	for id, c := range committed {
		if a, ok := arrived[id]; ok {
			lat = append(lat, max(0, a.Sub(c)))
		}
	}
	slices.Sort(lat)
	return lat, len(arrived), dups
}
