package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/residentportal/bff/bench"
)

// The hostile section of BENCHMARKS.md: what the worst operations an
// attacker can send cost, what many distinct maximal documents leave in
// memory, and what a flood of public calls does to residents.
//
// It uses two more portald processes on the same database: "open", with
// every rate limit raised (the attacker has as many addresses as it likes,
// so each attack is processed, not refused by the limiter), and "default",
// with the shipped limits.

// attack is one hostile operation; i makes each request a distinct
// document, so that every one is parsed and validated (no cache helps).
type attack struct {
	name string
	body func(i int) string
}

func gqlBody(query string) string {
	return fmt.Sprintf(`{"query":%q}`, query)
}

func (b *runner) attacks() []attack {
	pid := b.d.Property.String()
	repeat := func(s string, n int) string { return strings.TrimSpace(strings.Repeat(s+" ", n)) }
	bomb := func(i int) string {
		var q strings.Builder
		fmt.Fprintf(&q, "{...F0} # %d\n", i)
		for l := range 30 {
			fmt.Fprintf(&q, "fragment F%d on Query{...F%d ...F%d} ", l, l+1, l+1)
		}
		q.WriteString("fragment F30 on Query{__typename}")
		return q.String()
	}
	nested := func(levels int) string {
		q := "id secret"
		for range levels {
			q = "id number users(first: 100) { edges { node { id unit { " + q + " } } } }"
		}
		return `{ unit(propertyId: "` + pid + `") { ` + q + ` } }`
	}
	aliases := func() string {
		var q strings.Builder
		for j := range 20 {
			fmt.Fprintf(&q, ` a%d: unit(propertyId: "%s") { id secret number }`, j, pid)
		}
		return "{" + q.String() + " }"
	}()
	return []attack{
		{"fragment bomb: 30 levels, 2^30 fields expanded (refused)", func(i int) string { return gqlBody(bomb(i)) }},
		{"64 KiB of repeated fields (refused at the token limit)", func(i int) string {
			return gqlBody(fmt.Sprintf("{ %s } # %d", repeat("__typename", 5950), i))
		}},
		{"500 fields in one selection, the most admitted (quadratic validation)", func(i int) string {
			return gqlBody(fmt.Sprintf(`{ __type(name: "Unit") { %s } } # %d`, repeat("name", 498), i))
		}},
		{"unit with 490 repeated secret fields (admitted, executed)", func(i int) string {
			return gqlBody(fmt.Sprintf(`{ unit(propertyId: "%s") { %s } } # %d`, pid, repeat("secret", 490), i))
		}},
		{"unit → users(100) → unit … nested to the depth bound (refused by complexity)", func(i int) string {
			return gqlBody(fmt.Sprintf("%s # %d", nested(3), i))
		}},
		{"20 aliased root fields, 30 aliases (admitted, executed)", func(i int) string {
			return gqlBody(fmt.Sprintf("%s # %d", aliases, i))
		}},
		{"GraphiQL's introspection query (depth 13, 208 fields)", func(i int) string {
			return gqlBody(fmt.Sprintf("%s # %d", introspection, i))
		}},
	}
}

// introspection is graphql-js's getIntrospectionQuery with every option.
const introspection = `query IntrospectionQuery { __schema { description queryType { name } mutationType { name } subscriptionType { name }
  types { ...FullType } directives { name description isRepeatable locations args(includeDeprecated: true) { ...InputValue } } } }
fragment FullType on __Type { kind name description specifiedByURL
  fields(includeDeprecated: true) { name description args(includeDeprecated: true) { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields(includeDeprecated: true) { ...InputValue } interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } possibleTypes { ...TypeRef } }
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue isDeprecated deprecationReason }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType {
  kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }`

func post(url, auth, body string) (int, time.Duration) {
	req, _ := http.NewRequest("POST", url+"/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, time.Since(t0)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(t0)
}

// hostile writes the section; it needs the targets "portald-open" and
// "portald-default".
func (b *runner) hostile(report *strings.Builder) {
	open, okOpen := b.targets["portald-open"]
	def, okDef := b.targets["portald-default"]
	if !okOpen || !okDef {
		return
	}
	token := b.tokens[0]
	report.WriteString("## Hostile input\n\n")
	report.WriteString("Each attack sent 40 times, one at a time, to a portald with every rate limit raised (an attacker with unlimited " +
		"addresses), each request a new document (a counter in a comment) so that none is served from the parsed-query cache: " +
		"the worst case. The target is ≤ 50 ms of server CPU per request.\n\n")
	report.WriteString("| attack | bytes | status | server CPU ms/req | p50 ms | p99 ms |\n|---|---|---|---|---|---|\n")
	for _, a := range b.attacks() {
		const n = 40
		var lat []time.Duration
		statuses := map[int]int{}
		cpu := bench.CPUTime(open.pid)
		for i := range n {
			status, took := post(open.url, token, a.body(i))
			statuses[status]++
			lat = append(lat, took)
		}
		cpu = bench.CPUTime(open.pid) - cpu
		slices.Sort(lat)
		var st []string
		for s, c := range statuses {
			st = append(st, fmt.Sprintf("%d×%d", c, s))
		}
		slices.Sort(st)
		fmt.Fprintf(report, "| %s | %d | %s | %.2f | %.2f | %.2f |\n", a.name, len(a.body(0)), strings.Join(st, " "),
			bench.Ms(cpu)/n, bench.Ms(bench.Pct(lat, 0.5)), bench.Ms(bench.Pct(lat, 0.99)))
	}

	// Memory: 1,000 distinct maximal documents (60 KiB each, admitted).
	before := bench.RSSKB(open.pid)
	pad := strings.Repeat("#", 58<<10)
	for i := range 1000 {
		body := gqlBody(fmt.Sprintf(`{ __type(name: "Unit") { %s } }`+"\n#%d%s", strings.TrimSpace(strings.Repeat("name ", 498)), i, pad))
		if status, _ := post(open.url, token, body); status != 200 {
			log.Printf("maximal document %d: status %d", i, status)
		}
	}
	after := bench.RSSKB(open.pid)
	fmt.Fprintf(report, "\n1,000 distinct maximal documents (60 KiB, 500 fields each, all admitted and cached as far as the 32 MiB "+
		"parsed-query cache holds): portald's RSS %.0f MB before, **%.0f MB after** (target ≤ 128 MB).\n\n", float64(before)/1024, float64(after)/1024)

	// Fairness: residents of one property under the shipped limits, alone
	// and while 4 clients flood its public routes.
	report.WriteString("### Residents while 4 clients flood public routes\n\n" +
		"A portald with the shipped limits (property 100 + 80/s, client address 30 + 10/s). 16 residents of one property in a closed loop " +
		"on the resident query for 5 s, alone and while 4 clients (from the same address) flood `GET …/access` and public GraphQL, " +
		"each paced at 250 requests/s. Admitted = answered 200.\n\n" +
		"| run | residents admitted/s | residents refused (429) | × undisturbed | flood admitted/s | flood refused/s |\n|---|---|---|---|---|---|\n")
	alone := b.fairness(def, 0)
	flooded := b.fairness(def, 4)
	for _, r := range []struct {
		name string
		f    fairness
	}{{"undisturbed", alone}, {"4 clients flooding", flooded}} {
		fmt.Fprintf(report, "| %s | %.1f | %d | %.2f | %.1f | %.1f |\n", r.name, r.f.residentOK, r.f.residentRefused,
			r.f.residentOK/alone.residentOK, r.f.floodOK, r.f.floodRefused)
	}
	report.WriteString("\n")
}

type fairness struct {
	residentOK, floodOK, floodRefused float64
	residentRefused                   int64
}

// fairness runs 16 residents for 5 s against t, with flooders paced
// flooding clients; every bucket is given time to refill first.
func (b *runner) fairness(t target, flooders int) fairness {
	<-time.After(3 * time.Second) // buckets full again (100 at 80/s; 30 at 10/s)
	pid := b.d.Property.String()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var ok, refused, fOK, fRefused atomic.Int64
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; ctx.Err() == nil; i += 16 {
				body := gqlBody(residentQuery)
				body = body[:len(body)-1] + `,"variables":{"p":"` + pid + `"}}`
				status, _ := post(t.url, b.tokens[i%len(b.tokens)], body)
				if ctx.Err() != nil {
					return
				}
				switch status {
				case 200:
					ok.Add(1)
				case 429:
					refused.Add(1)
				}
			}
		})
	}
	for f := range flooders {
		wg.Go(func() {
			tick := time.NewTicker(4 * time.Millisecond) // 250/s
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				var status int
				if (i+f)%2 == 0 {
					req, _ := http.NewRequest("GET", fmt.Sprintf("%s/residents/properties/%s/access", t.url, pid), nil)
					if resp, err := client.Do(req); err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						status = resp.StatusCode
					}
				} else {
					status, _ = post(t.url, "", gqlBody(`{ portalAccess(propertyId: "`+pid+`") { portalAllowed } }`))
				}
				if status == 200 {
					fOK.Add(1)
				} else if status == 429 {
					fRefused.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return fairness{residentOK: float64(ok.Load()) / 5, residentRefused: refused.Load(),
		floodOK: float64(fOK.Load()) / 5, floodRefused: float64(fRefused.Load()) / 5}
}
