package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/residentportal/bff/bench"
	"layeh.com/radius"
)

// Paced load: a fixed offered rate, not as fast as a server answers. Each
// worker sends on its own schedule (rate/workers a second) and a request's
// latency runs from the time it was due, so a server that falls behind
// pays for every request it delayed (no coordinated omission).

// pacedResult is one paced run: latencies of the requests answered as
// wanted, and how many were sent.
type pacedResult struct {
	sent, ok int64
	lat      []time.Duration
}

// paced runs do at rate requests a second from workers workers for d; do
// returns whether the answer was the one wanted.
func paced(workers int, rate float64, d time.Duration, do func(worker int) bool) pacedResult {
	var sent, ok atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	interval := time.Duration(float64(workers) / rate * float64(time.Second))
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			// Workers start spread over one interval.
			due := start.Add(interval * time.Duration(w) / time.Duration(workers))
			for due.Before(start.Add(d)) {
				if wait := time.Until(due); wait > 0 {
					time.Sleep(wait)
				}
				sent.Add(1)
				if do(w) {
					ok.Add(1)
					mine = append(mine, time.Since(due))
				}
				due = due.Add(interval)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	return pacedResult{sent: sent.Load(), ok: ok.Load(), lat: lat}
}

// pacedRADIUS sends Access-Requests for macs at rate a second for d from
// sockets UDP sockets, each on its own schedule, without waiting for
// answers (an open loop): a reader per socket matches each Access-Accept
// to its request by identifier, and a request unanswered within a second
// is lost. Latency runs from the time a request was due.
func pacedRADIUS(addr, secret string, macs []string, sockets int, rate float64, d time.Duration) pacedResult {
	var next atomic.Int64
	var mu sync.Mutex
	var res pacedResult
	interval := time.Duration(float64(sockets) / rate * float64(time.Second))
	start := time.Now()
	var wg sync.WaitGroup
	for w := range sockets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("udp", addr)
			if err != nil {
				log.Fatal(err)
			}
			var due [256]time.Time // by identifier; zero: none outstanding
			var dmu sync.Mutex
			var mine []time.Duration
			var sent, ok int64
			read := make(chan struct{})
			go func() {
				defer close(read)
				buf := make([]byte, 4096)
				for {
					n, err := conn.Read(buf)
					if err != nil {
						return
					}
					if n < 20 || radius.Code(buf[0]) != radius.CodeAccessAccept {
						continue
					}
					dmu.Lock()
					if t := due[buf[1]]; !t.IsZero() {
						mine, ok = append(mine, time.Since(t)), ok+1
						due[buf[1]] = time.Time{}
					}
					dmu.Unlock()
				}
			}()
			at := start.Add(interval * time.Duration(w) / time.Duration(sockets))
			for id := byte(0); at.Before(start.Add(d)); id++ {
				if wait := time.Until(at); wait > 0 {
					time.Sleep(wait)
				}
				// 256 in flight per socket at most: an older request with
				// this identifier unanswered by now is lost.
				b := requestID(secret, macs[int(next.Add(1))%len(macs)], int(id))
				dmu.Lock()
				due[id] = at
				dmu.Unlock()
				sent++
				_, _ = conn.Write(b)
				at = at.Add(interval)
			}
			time.Sleep(time.Second) // the last answers
			conn.Close()
			<-read
			mu.Lock()
			res.sent, res.ok, res.lat = res.sent+sent, res.ok+ok, append(res.lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(res.lat)
	return res
}

// httpSender posts the benchmark's resident query with the residents'
// tokens in turn and reports a 200 with data.
func httpSender(url string, body []byte, tokens []string) func(int) bool {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var next atomic.Int64
	return func(int) bool {
		i := int(next.Add(1)) % len(tokens)
		req, _ := http.NewRequest("POST", url+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", tokens[i])
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == 200 && bytes.HasPrefix(b, []byte(`{"data":{"unit":`))
	}
}

// residentBody is the resident query for property p.
func residentBody(p fmt.Stringer) []byte {
	b, _ := json.Marshal(map[string]any{"query": bench.ResidentQuery, "variables": map[string]any{"p": p.String()}})
	return b
}

// login gets a unit token for each portal secret from portald's REST API.
func login(url, property string, secrets []string) []string {
	var tokens []string
	for _, s := range secrets {
		body, _ := json.Marshal(map[string]string{"hashedSecret": s})
		resp, err := http.Post(fmt.Sprintf("%s/residents/properties/%s/units/logins", url, property), "application/json", bytes.NewReader(body))
		if err != nil {
			log.Fatal(err)
		}
		var out struct{ Token string }
		_ = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if out.Token == "" {
			log.Fatalf("login failed: %d", resp.StatusCode)
		}
		tokens = append(tokens, out.Token)
	}
	return tokens
}

// pacedReport is the section's second part: both servers at the same
// offered load, and portald's HTTP side with and without it.
func pacedReport(targets []target, offered, frRate float64, lat [][]pacedResult, httpRate float64, alone, with []pacedResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**At the same offered load**: %.0f Access-Requests a second (%.0f %% of FreeRADIUS's throughput above), paced — each request due at its time and sent then, whether or not the one before was answered, its latency counted from then (unanswered within 1 s: lost) — from 64 sockets, the same interleaved rounds.\n\n", offered, 100*offered/max(frRate, 1))
	b.WriteString("| server | answered | p50 ms | p90 ms | p99 ms | p99 per round (ms) |\n|---|---:|---:|---:|---:|---|\n")
	for i, t := range targets {
		all, rounds := merge(lat[i])
		fmt.Fprintf(&b, "| %s | %.2f %% | %.2f | %.2f | %.2f | %s |\n", t.name, answered(lat[i]), bench.Ms(bench.Pct(all, 0.5)),
			bench.Ms(bench.Pct(all, 0.9)), bench.Ms(bench.Pct(all, 0.99)), rounds)
	}
	fmt.Fprintf(&b, "\n**portald's HTTP side while RADIUS runs**: the resident query over GraphQL at %.0f requests a second (paced, 8 connections), alone and while portald answers the Access-Requests above at the same time, in alternating rounds.\n\n", httpRate)
	b.WriteString("| HTTP resident query | answered | p50 ms | p90 ms | p99 ms | p99 per round (ms) |\n|---|---:|---:|---:|---:|---|\n")
	for _, row := range []struct {
		name string
		r    []pacedResult
	}{{"alone", alone}, {"with RADIUS at the load above", with}} {
		all, rounds := merge(row.r)
		fmt.Fprintf(&b, "| %s | %.2f %% | %.2f | %.2f | %.2f | %s |\n", row.name, answered(row.r), bench.Ms(bench.Pct(all, 0.5)),
			bench.Ms(bench.Pct(all, 0.9)), bench.Ms(bench.Pct(all, 0.99)), rounds)
	}
	b.WriteString("\n")
	return b.String()
}

// merge joins runs' latencies (sorted) and lists each run's p99.
func merge(runs []pacedResult) ([]time.Duration, string) {
	var all []time.Duration
	var p99 []string
	for _, r := range runs {
		all = append(all, r.lat...)
		p99 = append(p99, fmt.Sprintf("%.2f", bench.Ms(bench.Pct(r.lat, 0.99))))
	}
	slices.Sort(all)
	return all, strings.Join(p99, ", ")
}

func answered(runs []pacedResult) float64 {
	var sent, ok int64
	for _, r := range runs {
		sent, ok = sent+r.sent, ok+r.ok
	}
	return 100 * float64(ok) / float64(max(sent, 1))
}
