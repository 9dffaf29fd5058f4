// Command subbench measures live updates for `make bench` and prints a
// section of BENCHMARKS.md: many idle WebSocket subscribers spread over
// the replicas given (memory and goroutines per subscriber), the time from
// a change's commit to its event at every subscriber of the unit, a burst
// of changes to one unit (events delivered, final state), and revocations
// under churn (commit to close 4403 at the revoked subscriber).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/residentportal/bff/bench"
	"github.com/residentportal/bff/graph/model"
)

type msg struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

type replica struct {
	url, metrics string
	pid          int
}

// liveKB is what the Go runtime holds for live data: heap and stacks in
// use, right after a collection (forced through the profiler on the
// metrics port). RSS also counts garbage that GOGC lets accumulate.
func liveKB(metrics string) int64 {
	if resp, err := http.Get(metrics + "/debug/pprof/heap?gc=1"); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	resp, err := http.Get(metrics + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var total float64
	for _, line := range strings.Split(string(b), "\n") {
		for _, name := range []string{"go_memstats_heap_inuse_bytes ", "go_memstats_stack_inuse_bytes "} {
			if strings.HasPrefix(line, name) {
				v, _ := strconv.ParseFloat(strings.TrimPrefix(line, name), 64)
				total += v
			}
		}
	}
	return int64(total / 1024)
}

// goroutines is a replica's go_goroutines.
func goroutines(metrics string) int64 {
	resp, err := http.Get(metrics + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return int64(n)
		}
	}
	return 0
}

// dialer spreads the subscribers' connections over source addresses
// 127.0.0.1–127.0.0.16: one address has too few ephemeral ports for
// 50,000 connections to one replica.
func dialer(i int) *http.Client {
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%16))}
	d := &net.Dialer{LocalAddr: local, Timeout: 30 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// idleWindow is how long idle CPU is measured: one ping interval of
// portald's (every connection pinged once).
const idleWindow = 30 * time.Second

// idleCPU is each replica's CPU use in ms per second over idleWindow,
// read side by side.
func idleCPU(reps []replica) []float64 {
	before := make([]time.Duration, len(reps))
	for i, r := range reps {
		before[i] = bench.CPUTime(r.pid)
	}
	start := time.Now()
	<-time.After(idleWindow)
	elapsed := time.Since(start).Seconds()
	out := make([]float64, len(reps))
	for i, r := range reps {
		out[i] = float64((bench.CPUTime(r.pid) - before[i]).Milliseconds()) / elapsed
	}
	return out
}

// closeReason names how a connection ended: its close status and reason,
// or the error.
func closeReason(err error) string {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return fmt.Sprintf("close %d %q", int(ce.Code), ce.Reason)
	}
	return err.Error()
}

func main() {
	dataFile := flag.String("data", "bench/out/data.json", "dataset description from benchdata")
	dbURL := flag.String("db", "", "benchmark database")
	targets := flag.String("targets", "", "url=pid,url=pid: the two replicas")
	subscribers := flag.Int("subscribers", 10000, "WebSocket subscribers in all")
	unitsN := flag.Int("units", 2000, "units they watch")
	changes := flag.Int("changes", 200, "changes timed one by one")
	revocations := flag.Int("revocations", 200, "subscribers with a manager key of their own, revoked one by one under churn")
	churn := flag.Int("churn", 10, "changes a second made during the revocations")
	hold := flag.Duration("hold", 0, "how long the subscribers stay idle before anything is measured (to profile them)")
	title := flag.String("title", "Live updates: WebSocket subscribers", "the section's heading")
	flag.Parse()
	raw, err := os.ReadFile(*dataFile)
	if err != nil {
		log.Fatal(err)
	}
	var d bench.Data
	if err := json.Unmarshal(raw, &d); err != nil {
		log.Fatal(err)
	}
	var reps []replica
	for _, t := range strings.Split(*targets, ",") {
		parts := strings.Split(t, "=")
		pid, _ := strconv.Atoi(parts[1])
		reps = append(reps, replica{url: parts[0], pid: pid, metrics: parts[2]})
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, *dbURL)
	if err != nil {
		log.Fatal(err)
	}
	var units []uuid.UUID
	rows, err := conn.Query(ctx, `SELECT id FROM units WHERE property_id = $1 ORDER BY number LIMIT $2`, d.Property, *unitsN)
	if err != nil {
		log.Fatal(err)
	}
	for rows.Next() {
		var id uuid.UUID
		_ = rows.Scan(&id)
		units = append(units, id)
	}
	// The first revocations subscribers hold keys of their own.
	keys := make([]string, *revocations)
	keyIDs := make([]uuid.UUID, *revocations)
	for i := range keys {
		keys[i], keyIDs[i] = model.MintManagerKey(), uuid.New()
		if _, err := conn.Exec(ctx, `INSERT INTO manager_keys (id, property_id, key_digest, hint) VALUES ($1, $2, $3, 'bench')`,
			keyIDs[i], d.Property, model.ManagerKeyDigest(keys[i])); err != nil {
			log.Fatal(err)
		}
	}
	rssBefore, liveBefore, gBefore := make([]int64, len(reps)), make([]int64, len(reps)), make([]int64, len(reps))
	for i, r := range reps {
		rssBefore[i], liveBefore[i], gBefore[i] = bench.RSSKB(r.pid), liveKB(r.metrics), goroutines(r.metrics)
	}
	idleBefore := idleCPU(reps)

	// Arrivals: unit → description → the times its subscribers got it.
	var mu sync.Mutex
	arrivals := map[string][]time.Time{}
	var connected atomic.Int64
	// Connections that ended before the run did, by close code and reason
	// (a subscriber that loses its connection misses every later event).
	var lost atomic.Int64
	closes := map[string]int{}
	last := make([]atomic.Value, *subscribers) // each subscriber's last description
	// When and how each revoked subscriber's connection ended.
	revokedAt := make([]atomic.Int64, *revocations)
	revokedCode := make([]atomic.Int64, *revocations)
	var wg sync.WaitGroup
	subCtx, stopSubs := context.WithCancel(ctx)
	for i := range *subscribers {
		unit := units[i%len(units)]
		rep := reps[i%len(reps)]
		wg.Go(func() {
			c, _, err := websocket.Dial(subCtx, "ws"+strings.TrimPrefix(rep.url, "http")+"/graphql",
				&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPClient: dialer(i)})
			if err != nil {
				log.Printf("dial: %v", err)
				lost.Add(1)
				mu.Lock()
				closes["dial: "+err.Error()]++
				mu.Unlock()
				return
			}
			defer c.CloseNow()
			c.SetReadLimit(1 << 20)
			key := d.ManagerKey
			if i < len(keys) {
				key = keys[i]
			}
			init, _ := json.Marshal(map[string]string{"Authorization": key})
			_ = wsjson.Write(subCtx, c, msg{Type: "connection_init", Payload: init})
			q, _ := json.Marshal(map[string]any{"query": `subscription($p: ID!, $u: ID) { unitUpdated(propertyId: $p, unitId: $u) { id description } }`,
				"variables": map[string]any{"p": d.Property, "u": unit}})
			for {
				var m msg
				if err := wsjson.Read(subCtx, c, &m); err != nil {
					if i < len(keys) && websocket.CloseStatus(err) == 4403 {
						revokedAt[i].Store(time.Now().UnixNano())
						revokedCode[i].Store(4403)
						return
					}
					if subCtx.Err() == nil {
						lost.Add(1)
						mu.Lock()
						closes[closeReason(err)]++
						mu.Unlock()
					}
					return
				}
				switch m.Type {
				case "connection_ack":
					_ = wsjson.Write(subCtx, c, msg{ID: "1", Type: "subscribe", Payload: q})
					connected.Add(1)
				case "next":
					now := time.Now()
					var p struct {
						Data struct {
							UnitUpdated struct{ ID, Description string }
						}
					}
					_ = json.Unmarshal(m.Payload, &p)
					last[i].Store(p.Data.UnitUpdated.Description)
					mu.Lock()
					key := p.Data.UnitUpdated.ID + "/" + p.Data.UnitUpdated.Description
					arrivals[key] = append(arrivals[key], now)
					mu.Unlock()
				case "ping":
					_ = wsjson.Write(subCtx, c, msg{Type: "pong"})
				}
			}
		})
	}
	// Every subscriber is connected, or its connection ended (counted in
	// lost) — within a bound, so that a stuck run says so.
	for waited := time.Now(); connected.Load()+lost.Load() < int64(*subscribers); {
		if time.Since(waited) > 3*time.Minute {
			log.Fatalf("after 3 minutes %d of %d subscribers are connected and %d connections ended", connected.Load(), *subscribers, lost.Load())
		}
		<-time.After(50 * time.Millisecond)
	}
	<-time.After(2 * time.Second) // subscriptions registered, the processes settled
	<-time.After(*hold)
	var rss, live, gWith []int64
	for _, r := range reps {
		rss, live, gWith = append(rss, bench.RSSKB(r.pid)), append(live, liveKB(r.metrics)), append(gWith, goroutines(r.metrics))
	}
	idleWith := idleCPU(reps)
	perUnit := *subscribers / len(units)

	// One change at a time: commit → every subscriber of the unit has it.
	var lat []time.Duration
	for i := range *changes {
		unit := units[(i*7)%len(units)]
		desc := fmt.Sprint("bench change ", i)
		commit := time.Now()
		if _, err := conn.Exec(ctx, `UPDATE units SET description = $2 WHERE id = $1`, unit, desc); err != nil {
			log.Fatal(err)
		}
		commit = time.Now() // the statement's commit returned
		key := unit.String() + "/" + desc
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			got := append([]time.Time(nil), arrivals[key]...)
			mu.Unlock()
			if len(got) >= perUnit {
				lat = append(lat, max(0, slices.MaxFunc(got, func(a, b time.Time) int { return a.Compare(b) }).Sub(commit)))
				break
			}
			if time.Now().After(deadline) {
				log.Printf("change %d: %d of %d subscribers in 5 s", i, len(got), perUnit)
				lat = append(lat, 5*time.Second)
				break
			}
			<-time.After(time.Millisecond)
		}
	}
	slices.Sort(lat)

	// A burst: 100 changes to one unit within about 50 ms.
	burstUnit := units[1]
	for i := range 100 {
		if _, err := conn.Exec(ctx, `UPDATE units SET description = $2 WHERE id = $1`, burstUnit, fmt.Sprint("burst ", i)); err != nil {
			log.Fatal(err)
		}
	}
	final := burstUnit.String() + "/burst 99"
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := 0
		for i := range *subscribers {
			if units[i%len(units)] == burstUnit && last[i].Load() == "burst 99" {
				n++
			}
		}
		if n >= perUnit || time.Now().After(deadline) {
			break
		}
		<-time.After(5 * time.Millisecond)
	}
	_ = final
	mu.Lock()
	burstEvents := 0
	for k, v := range arrivals {
		if strings.HasPrefix(k, burstUnit.String()+"/burst ") {
			burstEvents += len(v)
		}
	}
	mu.Unlock()
	finalSeen := 0
	for i := range *subscribers {
		if units[i%len(units)] == burstUnit && last[i].Load() == "burst 99" {
			finalSeen++
		}
	}
	// Revocations under churn: changes to random units at the churn rate
	// while each key is revoked in turn; commit → close 4403 at its
	// subscriber.
	churnCtx, stopChurn := context.WithCancel(ctx)
	churned := make(chan int)
	go func() {
		n := 0
		defer func() { churned <- n }()
		cconn, err := pgx.Connect(ctx, *dbURL)
		if err != nil {
			log.Fatal(err)
		}
		defer cconn.Close(ctx)
		tick := time.NewTicker(time.Second / time.Duration(max(1, *churn)))
		defer tick.Stop()
		for {
			select {
			case <-churnCtx.Done():
				return
			case <-tick.C:
			}
			if _, err := cconn.Exec(ctx, `UPDATE units SET description = $2 WHERE id = $1`, units[n%len(units)], fmt.Sprint("churn ", n)); err == nil {
				n++
			}
		}
	}()
	var revLat []time.Duration
	revMissed := 0
	for i := range keys {
		if _, err := conn.Exec(ctx, `UPDATE manager_keys SET revoked_at = now() WHERE id = $1`, keyIDs[i]); err != nil {
			log.Fatal(err)
		}
		commit := time.Now()
		for revokedCode[i].Load() == 0 && time.Since(commit) < 5*time.Second {
			<-time.After(time.Millisecond)
		}
		if revokedCode[i].Load() == 0 {
			revMissed++
			revLat = append(revLat, 5*time.Second)
			continue
		}
		revLat = append(revLat, max(0, time.Unix(0, revokedAt[i].Load()).Sub(commit)))
		<-time.After(20 * time.Millisecond)
	}
	stopChurn()
	churnedN := <-churned
	slices.Sort(revLat)
	stopSubs()
	wg.Wait()
	var ended []string
	for reason, n := range closes {
		ended = append(ended, fmt.Sprintf("%d × %s", n, reason))
	}
	slices.Sort(ended)

	var out strings.Builder
	fmt.Fprintf(&out, "## %s\n\n", *title)
	fmt.Fprintf(&out, "`bench/cmd/subbench`: %d WebSocket subscribers (graphql-transport-ws, `unitUpdated` with a manager key), "+
		"one connection each, spread over %d units (%d per unit) and %d portald replica(s) on one PostgreSQL; changes are made in SQL, "+
		"as any writer's would be.\n\n", *subscribers, len(units), perUnit, len(reps))
	out.WriteString("| replica | subscribers | RSS before MB | RSS with them MB | RSS KB per subscriber | live heap + stacks KB per subscriber | goroutines per subscriber | idle CPU ms/s before | idle CPU ms/s with them | idle CPU µs/s per subscriber |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for i, r := range reps {
		n := *subscribers / len(reps)
		fmt.Fprintf(&out, "| %s | %d | %.0f | %.0f | %.1f | %.1f | %.2f | %.1f | %.1f | %.1f |\n", r.url, n, float64(rssBefore[i])/1024, float64(rss[i])/1024,
			float64(rss[i]-rssBefore[i])/float64(n), float64(live[i]-liveBefore[i])/float64(n), float64(gWith[i]-gBefore[i])/float64(n),
			idleBefore[i], idleWith[i], (idleWith[i]-idleBefore[i])*1000/float64(n))
	}
	out.WriteString("\nLive heap and stacks are read from the Go runtime right after a forced collection; RSS also holds the garbage " +
		"that the collector lets accumulate, and memory the runtime has not yet returned. " +
		fmt.Sprintf("Idle CPU is each replica's process CPU time (/proc/PID/stat) over %v with nothing changing, before the subscribers connect and with them.\n", idleWindow))
	fmt.Fprintf(&out, "\n%d changes one at a time, from the commit to the event at the last of the unit's %d subscribers "+
		"(on every replica): p50 %.1f ms, p90 %.1f ms, **p99 %.1f ms**, max %.1f ms.\n\n", len(lat), perUnit,
		bench.Ms(bench.Pct(lat, 0.5)), bench.Ms(bench.Pct(lat, 0.9)), bench.Ms(bench.Pct(lat, 0.99)), bench.Ms(bench.Pct(lat, 1)))
	fmt.Fprintf(&out, "A burst of 100 changes to one unit (committed one after another): %d events reached its %d subscribers "+
		"(%.1f each, coalesced from 100), and the last event of %d of the %d is the final state.\n\n", burstEvents, perUnit,
		float64(burstEvents)/float64(perUnit), finalSeen, perUnit)
	if len(revLat) > 0 {
		fmt.Fprintf(&out, "%d subscribers, each with a manager key of its own, revoked one at a time while %d changes a second went on (%d made): "+
			"from the revoking commit to close 4403 at the subscriber p50 %.1f ms, p90 %.1f ms, **p99 %.1f ms**, max %.1f ms; %d not closed within 5 s.\n\n",
			len(revLat), *churn, churnedN, bench.Ms(bench.Pct(revLat, 0.5)), bench.Ms(bench.Pct(revLat, 0.9)), bench.Ms(bench.Pct(revLat, 0.99)),
			bench.Ms(bench.Pct(revLat, 1)), revMissed)
	}
	if lost.Load() > 0 {
		fmt.Fprintf(&out, "%d subscribers' connections ended during the run (they do not reconnect, and miss every later event): %s.\n\n",
			lost.Load(), strings.Join(ended, "; "))
	} else {
		out.WriteString("No subscriber's connection ended during the run.\n\n")
	}
	fmt.Print(out.String())
}
