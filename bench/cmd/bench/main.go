// Command bench is the closed-loop load generator of `make bench`: it runs
// the same reads against portald, the floor and PostGraphile v4/v5 side by
// side (interleaving the servers round by round, since single runs on a
// shared machine vary by ±30%), and writes BENCHMARKS.md.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/residentportal/bff/bench"
	"github.com/residentportal/bff/graph/portal"
	"github.com/residentportal/bff/resolvers/delivery/consumer"
)

// target is one server under test.
type target struct {
	name string
	url  string
	pid  int
	// app is the application_name the server's database connections carry
	// (its name in -targets), which finds its backends.
	app string
}

// request builds the i-th request of a scenario for a target.
type request func(i int) (*http.Request, error)

type result struct {
	requests, errors int
	elapsed          time.Duration
	latencies        []time.Duration
	statements       int64
	rssKB            int64
	cpu              time.Duration // the server's CPU time (user + system)
	dbCPU            time.Duration // PostgreSQL's CPU time meanwhile
	genCPU           time.Duration // the load generator's own CPU time meanwhile
	rates            []float64     // req/s of each round
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}, Timeout: 30 * time.Second}

func main() {
	dataFile := flag.String("data", "bench/out/data.json", "dataset description from benchdata")
	dbURL := flag.String("db", "", "benchmark database (pg_stat_statements)")
	targets := flag.String("targets", "", "name=url=pid,… (portald first, then floor, postgraphile4, postgraphile5)")
	duration := flag.Duration("duration", 2*time.Second, "length of one run")
	rounds := flag.Int("rounds", 10, "interleaved rounds per measurement")
	out := flag.String("out", "BENCHMARKS.md", "report")
	meta := flag.String("meta", "", "lines for the report's header (versions, command)")
	only := flag.String("only", "", "run only the scenarios whose title contains this")
	levels := flag.String("concurrency", "", "run only these concurrency levels (comma-separated; default: each scenario's own)")
	flag.Parse()

	raw, err := os.ReadFile(*dataFile)
	if err != nil {
		log.Fatal(err)
	}
	var d bench.Data
	if err := json.Unmarshal(raw, &d); err != nil {
		log.Fatal(err)
	}
	ts := map[string]target{}
	var order []string
	for _, t := range strings.Split(*targets, ",") {
		parts := strings.SplitN(t, "=", 3)
		pid, _ := strconv.Atoi(parts[2])
		ts[parts[0]] = target{name: parts[0], url: parts[1], pid: pid, app: parts[0]}
		order = append(order, parts[0])
	}
	conn, err := pgx.Connect(context.Background(), *dbURL)
	if err != nil {
		log.Fatal(err)
	}
	sampler, err := pgx.Connect(context.Background(), *dbURL)
	if err != nil {
		log.Fatal(err)
	}
	b := &runner{d: d, targets: ts, conn: conn, sampler: sampler, duration: *duration, rounds: *rounds}
	b.login()

	var report strings.Builder
	fmt.Fprintf(&report, "# Benchmarks\n\n%s\n", strings.ReplaceAll(*meta, `\n`, "\n"))
	fmt.Fprintf(&report, "Dataset: %d units, %d unit users, %d devices (a 2,000-unit property and a 10,000-unit one). "+
		"Each figure is %d interleaved runs of %v per server (A B C D, B C D A, …); each ratio is also given per round (median, min–max), the spread a single figure hides. The load generator runs pinned to CPU 1 with taskset; its own CPU per request is shown. "+
		"The rate limit is raised so that it never triggers. Statements are counted by pg_stat_statements (BEGIN/COMMIT included). "+
		"CPU per request is the server's (from /proc/PID/stat) and PostgreSQL's: the sum over that server's own backends "+
		"(found by the application_name each server's connections carry, read from /proc every 50 ms and at the end, so a backend that exits "+
		"keeps what it used until its last reading, and autovacuum or the other servers' backends are not counted).\n\n",
		d.Counts["units"], d.Counts["unit_users"], d.Counts["devices"], *rounds, *duration)

	for _, sc := range b.scenarios() {
		if !strings.Contains(sc.title, *only) {
			continue
		}
		var present []string
		for _, n := range order {
			if sc.reqs[n] != nil {
				present = append(present, n)
			}
		}
		var extra []string // variants of a target ("portald-deep"), served by it
		for n := range sc.reqs {
			base, _, _ := strings.Cut(n, "-")
			if _, ok := ts[base]; ok && !slices.Contains(present, n) {
				extra = append(extra, n)
			}
		}
		slices.Sort(extra)
		present = append(present, extra...)
		baseline := "floor"
		if sc.reqs[baseline] == nil {
			baseline = present[0]
		}
		fmt.Fprintf(&report, "## %s\n\n%s\n\n", sc.title, sc.about)
		fmt.Fprintf(&report, "| concurrency | server | req/s | × %[1]s | × %[1]s per round: median (min–max) | p50 ms | p90 ms | p99 ms | p99 × %[1]s | errors | statements/req | server CPU ms/req | PostgreSQL CPU ms/req | load generator CPU ms/req | RSS MB |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n", baseline)
		for _, c := range sc.concurrency {
			if *levels != "" && !slices.Contains(strings.Split(*levels, ","), strconv.Itoa(c)) {
				continue
			}
			res := map[string]*result{}
			if sc.warmup {
				measured := b.duration
				b.duration = time.Second
				for _, n := range present {
					if tg, ok := ts[n]; ok {
						b.run(tg, sc.reqs[n], c)
					}
				}
				b.duration = measured
			}
			for r := 0; r < *rounds; r++ {
				// Each round starts one server further on (A B C, B C A, …),
				// so that no server always follows the same one.
				for j := range present {
					n := present[(j+r)%len(present)]
					tg, ok := ts[n]
					if !ok {
						tg = target{name: n}
					}
					one := b.run(tg, sc.reqs[n], c)
					acc := res[n]
					if acc == nil {
						acc = &result{}
						res[n] = acc
					}
					acc.requests += one.requests
					acc.errors += one.errors
					acc.elapsed += one.elapsed
					acc.latencies = append(acc.latencies, one.latencies...)
					acc.statements += one.statements
					acc.rssKB = max(acc.rssKB, one.rssKB)
					acc.cpu += one.cpu
					acc.dbCPU += one.dbCPU
					acc.genCPU += one.genCPU
					acc.rates = append(acc.rates, float64(one.requests)/one.elapsed.Seconds())
				}
			}
			floor := res[baseline]
			for _, n := range present {
				r := res[n]
				slices.Sort(r.latencies)
				rate := float64(r.requests) / r.elapsed.Seconds()
				ratio, p99ratio := "—", "—"
				if floor != nil && floor.requests > 0 {
					slices.Sort(floor.latencies)
					ratio = fmt.Sprintf("%.2f", rate/(float64(floor.requests)/floor.elapsed.Seconds()))
					p99ratio = fmt.Sprintf("%.2f", float64(bench.Pct(r.latencies, 0.99))/float64(bench.Pct(floor.latencies, 0.99)))
				}
				perReq := func(d time.Duration) float64 { return bench.Ms(d) / float64(max(1, r.requests)) }
				spread := "—"
				if floor != nil && len(floor.rates) == len(r.rates) && len(r.rates) > 0 {
					var per []float64
					for i := range r.rates {
						per = append(per, r.rates[i]/max(floor.rates[i], 1e-9))
					}
					slices.Sort(per)
					spread = fmt.Sprintf("%.2f (%.2f–%.2f)", per[len(per)/2], per[0], per[len(per)-1])
				}
				fmt.Fprintf(&report, "| %d | %s | %.0f | %s | %s | %.2f | %.2f | %.2f | %s | %d | %.2f | %.3f | %.3f | %.3f | %.0f |\n", c, n, rate, ratio, spread,
					bench.Ms(bench.Pct(r.latencies, 0.5)), bench.Ms(bench.Pct(r.latencies, 0.9)), bench.Ms(bench.Pct(r.latencies, 0.99)), p99ratio, r.errors,
					float64(r.statements)/float64(max(1, r.requests)), perReq(r.cpu), perReq(r.dbCPU), perReq(r.genCPU), float64(r.rssKB)/1024)
			}
		}
		report.WriteString("\n")
		log.Printf("%s done", sc.title)
	}
	if strings.Contains("Hostile input", *only) {
		b.hostile(&report)
		log.Printf("Hostile input done")
	}
	if err := os.WriteFile(*out, []byte(report.String()), 0o644); err != nil {
		log.Fatal(err)
	}
}

type runner struct {
	d        bench.Data
	targets  map[string]target
	conn     *pgx.Conn
	duration time.Duration
	rounds   int
	tokens   []string
	// sampler is a connection of the load generator's own, which reads
	// pg_stat_activity while a run goes on.
	sampler *pgx.Conn
}

// login gets a unit token for each of the dataset's units from portald.
func (b *runner) login() {
	p := b.targets["portald"]
	for _, s := range b.d.PortalSecrets {
		body, _ := json.Marshal(map[string]string{"hashedSecret": s})
		resp, err := client.Post(fmt.Sprintf("%s/residents/properties/%s/units/logins", p.url, b.d.Property), "application/json", bytes.NewReader(body))
		if err != nil {
			log.Fatal(err)
		}
		var out struct{ Token string }
		_ = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if out.Token == "" {
			log.Fatalf("login failed: %d", resp.StatusCode)
		}
		b.tokens = append(b.tokens, out.Token)
	}
}

// graphqlBody encodes a GraphQL request object. Scenarios encode theirs
// once, before the clock starts: what the load generator spends per request
// (on the same two CPUs as the servers) should not depend on how a server
// is asked, and a client builds a body once per operation anyway.
func graphqlBody(query string, vars map[string]any) []byte {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		log.Fatal(err)
	}
	return body
}

// documentID is the id of the resident page's operation name in its
// manifest (the page sends it by documentId).
func documentID(name string) string {
	var m struct{ Operations []struct{ ID, Name string } }
	if err := json.Unmarshal(portal.Manifest(), &m); err != nil {
		log.Fatal(err)
	}
	for _, o := range m.Operations {
		if o.Name == name {
			return o.ID
		}
	}
	log.Fatalf("no %s in the page's manifest", name)
	return ""
}

// ahead makes the n values of f before the clock starts; the i-th request
// takes value i mod n.
func ahead[T any](n int, f func(i int) T) func(i int) T {
	out := make([]T, n)
	for i := range out {
		out[i] = f(i)
	}
	return func(i int) T { return out[i%n] }
}

// graphqlReq is a GraphQL POST of body (from graphqlBody) to url.
func graphqlReq(url, auth string, body []byte) (*http.Request, error) {
	req, err := http.NewRequest("POST", url+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return req, nil
}

type scenario struct {
	title, about string
	concurrency  []int
	reqs         map[string]request
	// warmup runs each server once, unmeasured, before the rounds (servers
	// that have served nothing yet against one that has).
	warmup bool
}

const (
	residentQuery = bench.ResidentQuery
	managerQuery  = bench.ManagerQuery
	pg4Resident   = `query($u: UUID!) { unitById(id: $u) { id number unitUsersByUnitId(first: 100) { nodes { id userName type passphraseCipher devicesByUserId { nodes { macAddress displayName osType } } } } } }`
	pg5Resident   = `query($u: UUID!) { unitByRowId(rowId: $u) { rowId number unitUsersByUnitId(first: 100) { nodes { rowId userName type passphraseCipher devicesByUserId { nodes { macAddress displayName osType } } } } } }`
	pg4Manager    = `query($p: UUID!) { propertyById(id: $p) { name unitsByPropertyId(first: 50, orderBy: NUMBER_ASC) { nodes { id number unitUsersByUnitId(first: 20) { nodes { id userName type passphraseCipher devicesByUserId { nodes { macAddress displayName osType } } } } } } } }`
	pg5Manager    = `query($p: UUID!) { propertyByRowId(rowId: $p) { name unitsByPropertyId(first: 50, orderBy: NUMBER_ASC) { nodes { rowId number unitUsersByUnitId(first: 20) { nodes { rowId userName type passphraseCipher devicesByUserId { nodes { macAddress displayName osType } } } } } } } }`
	pagingQuery   = `query($p: ID!, $a: String) { property(propertyId: $p) { units(first: 20, after: $a) { edges { node { id number } } } } }`
)

func (b *runner) scenarios() []scenario {
	t := b.targets
	pid := b.d.Property
	// URLs and bodies too are made before the clock starts, for every server.
	floorResident := ahead(len(b.d.Units), func(i int) string {
		return fmt.Sprintf("%s/resident?property=%s&unit=%s", t["floor"].url, pid, b.d.Units[i])
	})
	restUser := ahead(len(b.d.Users), func(i int) string {
		return fmt.Sprintf("%s/residents/properties/%s/units/users/%s", t["portald"].url, pid, b.d.Users[i])
	})
	floorManager := fmt.Sprintf("%s/manager?property=%s", t["floor"].url, pid)
	floorPage := ahead(len(b.d.Units), func(i int) string {
		return fmt.Sprintf("%s/page?property=%s&unit=%s", t["floor"].url, pid, b.d.Units[i])
	})
	floorClaim := ahead(len(b.d.Users), func(i int) string {
		return fmt.Sprintf("%s/claim?property=%s&id=%s", t["floor"].url, pid, b.d.Users[i])
	})
	claimSum := sha256.Sum256([]byte(consumer.UnitUserQuery))
	claimBody := ahead(len(b.d.Users), func(i int) []byte {
		body, err := json.Marshal(map[string]any{"documentId": "sha256:" + hex.EncodeToString(claimSum[:]),
			"variables": map[string]any{"p": pid, "u": b.d.Users[i]}})
		if err != nil {
			log.Fatal(err)
		}
		return body
	})
	floorUser := ahead(len(b.d.Users), func(i int) string {
		return fmt.Sprintf("%s/user?property=%s&id=%s", t["floor"].url, pid, b.d.Users[i])
	})
	get := func(url string) (*http.Request, error) { return http.NewRequest("GET", url, nil) }
	deep := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"v":%q,"i":%q}`, b.d.DeepAfter, uuid.New()))
	perUnit := func(query string) func(i int) []byte {
		return ahead(len(b.d.Units), func(i int) []byte { return graphqlBody(query, map[string]any{"u": b.d.Units[i]}) })
	}
	pg4ResidentBody, pg5ResidentBody := perUnit(pg4Resident), perUnit(pg5Resident)
	residentBody := graphqlBody(residentQuery, map[string]any{"p": pid})
	pageBody, err := json.Marshal(map[string]any{"documentId": "sha256:" + documentID("ResidentUnit"), "variables": map[string]any{"propertyId": pid}})
	if err != nil {
		log.Fatal(err)
	}
	managerBody := graphqlBody(managerQuery, map[string]any{"p": pid})
	pg4ManagerBody, pg5ManagerBody := graphqlBody(pg4Manager, map[string]any{"p": pid}), graphqlBody(pg5Manager, map[string]any{"p": pid})
	pagingBody := graphqlBody(pagingQuery, map[string]any{"p": b.d.PagingProp})
	deepBody := graphqlBody(pagingQuery, map[string]any{"p": b.d.PagingProp, "a": deep})
	return []scenario{
		{
			title: "Resident query: unit → users → devices", concurrency: []int{1, 16, 64},
			about: "GraphQL for portald and PostGraphile (same fields; PostGraphile returns the stored ciphertext where portald decrypts); the floor writes portald's bytes. portald and the floor read the unit, its users and their devices in one round trip (3 statements in one batch); 50 units in turn.",
			reqs: map[string]request{
				"portald": func(i int) (*http.Request, error) {
					return graphqlReq(t["portald"].url, b.tokens[i%len(b.tokens)], residentBody)
				},
				"floor": func(i int) (*http.Request, error) {
					return get(floorResident(i))
				},
				"postgraphile4": func(i int) (*http.Request, error) {
					return graphqlReq(t["postgraphile4"].url, "", pg4ResidentBody(i))
				},
				"postgraphile5": func(i int) (*http.Request, error) {
					return graphqlReq(t["postgraphile5"].url, "", pg5ResidentBody(i))
				},
			},
		},
		{
			title: "Tracing: resident query, traced and sampled", concurrency: []int{16},
			about: "The resident query on three portald processes side by side: tracing off (the baseline), every request traced " +
				"(OTEL_TRACES_SAMPLER=always_on) and exported to a local OTLP receiver stub (bench/cmd/otlpsink), and 1 % of traces sampled " +
				"(parentbased_traceidratio 0.01), each warmed up for a second first. Goals: ≥ 0.9× and ≥ 0.98×.",
			warmup: true,
			reqs: map[string]request{
				"portald": func(i int) (*http.Request, error) {
					return graphqlReq(t["portald"].url, b.tokens[i%len(b.tokens)], residentBody)
				},
				"portald-traced": func(i int) (*http.Request, error) {
					return graphqlReq(t["portald-traced"].url, b.tokens[i%len(b.tokens)], residentBody)
				},
				"portald-sampled": func(i int) (*http.Request, error) {
					return graphqlReq(t["portald-sampled"].url, b.tokens[i%len(b.tokens)], residentBody)
				},
			},
		},
		{
			title: "The resident page's own query (ResidentUnit by documentId)", concurrency: []int{16, 64},
			about: "What the page sends: its manifest's ResidentUnit by `documentId` (the unit, its contact, 20 users with their devices, " +
				"its blocked devices, 5 change requests, the property and its branding), against the floor writing the same fields with the same statements " +
				"(the unit, its users and their devices, its blocked devices, its change requests and its property: 6 statements in one round trip, " +
				"as portald sends them). `portald-open` runs the benchmark's resident query beside them, for scale.",
			reqs: map[string]request{
				"portald": func(i int) (*http.Request, error) {
					return graphqlReq(t["portald"].url, b.tokens[i%len(b.tokens)], pageBody)
				},
				"floor": func(i int) (*http.Request, error) {
					return get(floorPage(i))
				},
				"portald-open": func(i int) (*http.Request, error) {
					return graphqlReq(t["portald-open"].url, b.tokens[i%len(b.tokens)], residentBody)
				},
			},
		},
		{
			title: "portal-wifisync's claim check (UnitUser by documentId)", concurrency: []int{16},
			about: "What the reference consumer reads for each identity change: its document by `documentId` with the property's manager key, " +
				"against the floor's one statement writing the same fields.",
			reqs: map[string]request{
				"portald": func(i int) (*http.Request, error) {
					return graphqlReq(t["portald"].url, b.d.ManagerKey, claimBody(i))
				},
				"floor": func(i int) (*http.Request, error) {
					return get(floorClaim(i))
				},
			},
		},
		{
			title: "Manager query: property → 50 units → users → devices", concurrency: []int{1, 16, 64},
			about: "portald with a manager key (users(first: 20) per unit); the floor (writing portald's bytes) and PostGraphile with the same shape.",
			reqs: map[string]request{
				"portald": func(i int) (*http.Request, error) {
					return graphqlReq(t["portald"].url, b.d.ManagerKey, managerBody)
				},
				"floor": func(i int) (*http.Request, error) {
					return get(floorManager)
				},
				"postgraphile4": func(i int) (*http.Request, error) {
					return graphqlReq(t["postgraphile4"].url, "", pg4ManagerBody)
				},
				"postgraphile5": func(i int) (*http.Request, error) {
					return graphqlReq(t["postgraphile5"].url, "", pg5ManagerBody)
				},
			},
		},
		{
			title: "REST GET unit user", concurrency: []int{16, 64},
			about: "portald's vendor route (token check, rate limiter, HAL) against the floor's one-statement handler, which writes portald's bytes.",
			reqs: map[string]request{
				"portald": func(i int) (*http.Request, error) {
					req, err := get(restUser(i))
					if err == nil {
						req.Header.Set("Authorization", b.tokens[i%len(b.tokens)])
					}
					return req, err
				},
				"floor": func(i int) (*http.Request, error) {
					return get(floorUser(i))
				},
			},
		},
		{
			title: "Scale: first page vs a page 9,000 units deep (10,000-unit property)", concurrency: []int{16},
			about: "portald's keyset cursor: the deep page should cost what the first does.",
			reqs: map[string]request{
				"portald": func(i int) (*http.Request, error) {
					return graphqlReq(t["portald"].url, b.d.PagingKey, pagingBody)
				},
				"portald-deep": func(i int) (*http.Request, error) {
					return graphqlReq(t["portald"].url, b.d.PagingKey, deepBody)
				},
			},
		},
		{
			title: "Unit-users query (REST)", concurrency: []int{16},
			about: "POST …/units/users/query, pageSize 20, sorted by userName.",
			reqs: map[string]request{
				"portald": func(i int) (*http.Request, error) {
					req, err := http.NewRequest("POST", fmt.Sprintf("%s/residents/properties/%s/units/users/query", t["portald"].url, pid),
						strings.NewReader(`{"pageSize":20,"sortFields":"userName"}`))
					if err == nil {
						req.Header.Set("Authorization", b.tokens[i%len(b.tokens)])
						req.Header.Set("Content-Type", "application/json")
					}
					return req, err
				},
			},
		},
	}
}

// run drives one closed loop of c workers against t for the duration.
func (b *runner) run(t target, mk request, c int) result {
	if t.url == "" {
		for _, tt := range b.targets {
			if tt.name == "portald" {
				t = target{name: t.name, url: tt.url, pid: tt.pid, app: tt.app}
			}
		}
	}
	before := b.statements()
	backends := b.watchBackends(t.app)
	cpuBefore, genBefore := bench.CPUTime(t.pid), bench.CPUTime(os.Getpid())
	var n atomic.Int64
	var errs atomic.Int64
	lat := make([][]time.Duration, c)
	stop := time.Now().Add(b.duration)
	var rss atomic.Int64
	done := make(chan struct{})
	go func() { // sample the server's resident set
		for {
			rss.Store(max(rss.Load(), bench.RSSKB(t.pid)))
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range c {
		wg.Go(func() {
			for time.Now().Before(stop) {
				i := int(n.Add(1))
				req, err := mk(i)
				if err != nil {
					errs.Add(1)
					continue
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				lat[w] = append(lat[w], time.Since(t0))
				if resp.StatusCode != 200 || bytes.Contains(body, []byte(`"errors"`)) {
					if errs.Add(1) == 1 {
						log.Printf("%s: %d %.300s", t.name, resp.StatusCode, body)
					}
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(done)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	return result{requests: len(all), errors: int(errs.Load()), elapsed: elapsed, latencies: all,
		cpu: bench.CPUTime(t.pid) - cpuBefore, genCPU: bench.CPUTime(os.Getpid()) - genBefore, dbCPU: backends(),
		statements: b.statements() - before - 1, rssKB: rss.Load()}
}

// statements counts the statements PostgreSQL has run, but for the load
// generator's own backend sampling (this count's own statement is
// subtracted by run).
func (b *runner) statements() int64 {
	var n int64
	if err := b.conn.QueryRow(context.Background(), `SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements WHERE query <> $1`,
		backendsQuery).Scan(&n); err != nil {
		log.Fatal(err)
	}
	return n
}

// backendsQuery finds a server's backends by their application_name.
const backendsQuery = `SELECT pid FROM pg_stat_activity WHERE application_name = $1`

// watchBackends starts reading the CPU time of the PostgreSQL backends
// whose application_name is app, every 50 ms. The returned stop reads them
// a last time and gives what they used since the call: a backend seen at
// the start counts from its reading then, one that appears later counts
// from zero (it was born during the run), and one that exits keeps its
// last reading.
func (b *runner) watchBackends(app string) (stop func() time.Duration) {
	start := map[int]time.Duration{}
	last := map[int]time.Duration{}
	read := func() {
		rows, err := b.sampler.Query(context.Background(), backendsQuery, app)
		if err != nil {
			log.Fatal(err)
		}
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			log.Fatal(err)
		}
		for _, pid := range pids {
			if cpu, ok := bench.CPUTimeOK(int(pid)); ok {
				last[int(pid)] = cpu
			}
		}
	}
	read()
	maps.Copy(start, last)
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				read()
				return
			case <-time.After(50 * time.Millisecond):
				read()
			}
		}
	}()
	return func() time.Duration {
		close(done)
		<-finished
		var total time.Duration
		for pid, cpu := range last {
			total += cpu - start[pid]
		}
		return total
	}
}
