// Command coabench measures how long a removal takes to reach the air (SPEC
// §9.5): in a property whose access point holds 1,000 online sessions, a
// manager removes devices one after another through the GraphQL API, and
// an access point stand-in (its CoA port, answering Disconnect-ACK) records
// when each Disconnect-Request arrives. It prints a BENCHMARKS.md section:
// the time from sending the removal to the Disconnect's arrival, and the
// change requests' outcome.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/residentportal/bff/bench"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/graph/model"
	"layeh.com/radius"
)

func main() {
	dbURL := flag.String("db", "", "benchmark database")
	graphql := flag.String("graphql", "http://127.0.0.1:18080/graphql", "portald's GraphQL endpoint (RADIUS on: its disconnect worker runs)")
	sessions := flag.Int("sessions", 1000, "online sessions at the access point")
	removals := flag.Int("removals", 300, "devices removed")
	rate := flag.Float64("rate", 30, "removals a second")
	flag.Parse()
	ctx := context.Background()
	store, _ := bench.Store(ctx, *dbURL)
	defer store.Close()

	// The access point's CoA port.
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	var secret []byte
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	serve := func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			at := time.Now()
			p, err := radius.Parse(buf[:n], secret)
			if err != nil || p.Code != radius.CodeDisconnectRequest || !radius.IsAuthenticRequest(buf[:n], secret) {
				continue
			}
			id, _ := p.Lookup(44) // Acct-Session-Id
			mu.Lock()
			if _, ok := arrived[string(id)]; !ok {
				arrived[string(id)] = at
			}
			mu.Unlock()
			if out, err := p.Response(radius.CodeDisconnectACK).Encode(); err == nil {
				_, _ = conn.WriteTo(out, from)
			}
		}
	}

	// A property of its own: units of 10 devices each, every one online at
	// the access point (its NAS entry a network; the sessions' accounting
	// came from 127.0.0.1, where the stand-in listens).
	p, err := store.CreateProperty(ctx, db.PropertyInput{Name: ptr("Disconnect bench"), SSIDs: []string{"Residents"}})
	if err != nil {
		log.Fatal(err)
	}
	nas, err := store.CreateNAS(ctx, model.NAS{PropertyID: p.ID, Name: "coabench", Address: netip.MustParsePrefix("10.254.0.0/16"),
		Profile: model.NASHostapd, CoAPort: conn.LocalAddr().(*net.UDPAddr).Port})
	if err != nil {
		log.Fatal(err)
	}
	secret = []byte(nas.Secret)
	go serve()
	type device struct {
		unit uuid.UUID
		mac  string
	}
	var devices []device
	for u := 0; len(devices) < *sessions; u++ {
		unit, err := store.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: fmt.Sprint(1000 + u)})
		if err != nil {
			log.Fatal(err)
		}
		for d := 0; d < 10 && len(devices) < *sessions; d++ {
			mac := fmt.Sprintf("02:CB:%02X:%02X:00:%02X", u>>8, u&0xff, d)
			if _, err := store.AddDevice(ctx, model.UnitScope(p.ID, unit.Unit.ID), db.NewDevice{UserID: unit.Unit.UnitUserID, MACAddress: mac}); err != nil {
				log.Fatal(err)
			}
			if _, err := store.Accounting(ctx, model.Accounting{PropertyID: p.ID, NASID: nas.NAS.ID, Status: model.AcctStart, MAC: mac,
				SessionID: "s-" + mac, OnlineUntil: time.Now().Add(time.Hour), Source: netip.MustParseAddr("127.0.0.1")}); err != nil {
				log.Fatal(err)
			}
			devices = append(devices, device{unit.Unit.ID, mac})
		}
	}
	key, err := store.CreateManagerKey(ctx, p.ID)
	if err != nil {
		log.Fatal(err)
	}

	// The removals, paced; each one's sending time.
	const mutation = `mutation($p: ID!, $u: ID!, $d: String!) { removeUnitDevice(propertyId: $p, unitId: $u, deviceId: $d) }`
	client := &http.Client{Timeout: 10 * time.Second}
	sent := map[string]time.Time{}
	var failures int
	tick := time.NewTicker(time.Duration(float64(time.Second) / *rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	for _, d := range devices[:min(*removals, len(devices))] {
		<-tick.C
		body, _ := json.Marshal(map[string]any{"query": mutation, "variables": map[string]any{"p": p.ID, "u": d.unit, "d": d.mac}})
		sent["s-"+d.mac] = time.Now()
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", *graphql, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", key.Key)
			resp, err := client.Do(req)
			if err != nil {
				mu.Lock()
				failures++
				mu.Unlock()
				return
			}
			var out struct{ Errors []any }
			_ = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if resp.StatusCode != 200 || len(out.Errors) > 0 {
				mu.Lock()
				failures++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(arrived)
		mu.Unlock()
		if n >= len(sent) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var lat []time.Duration
	mu.Lock()
	for id, t0 := range sent {
		if t1, ok := arrived[id]; ok {
			lat = append(lat, t1.Sub(t0))
		}
	}
	mu.Unlock()
	slices.Sort(lat)
	// Every removal's change request ends APPLIED.
	var applied, other int
	for deadline := time.Now().Add(30 * time.Second); ; {
		applied, other = 0, 0
		for _, c := range must(store.ListChangeRequests(ctx, p.ID, nil, nil, 10*len(sent))) {
			switch {
			case c.Kind != model.ChangeDeviceRemoved:
			case c.Status == model.ChangeApplied:
				applied++
			default:
				other++
			}
		}
		if other == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Printf("## Changes on the air: a removal → the Disconnect-Request at the access point\n\n")
	fmt.Printf("`bench/cmd/coabench` (in `make bench`): a property whose access point holds **%d online sessions**; a manager removes %d of their devices through GraphQL (`removeUnitDevice`), %.0f a second; an access point stand-in answers Disconnect-ACK on its CoA port and notes each Disconnect-Request's arrival. Time from sending the removal to the Disconnect's arrival (the GraphQL request, the transaction, the NOTIFY, the worker's claim and the UDP send; SPEC §9.5's goal: p99 ≤ 500 ms):\n\n",
		len(devices), len(sent), *rate)
	fmt.Printf("| removals | arrived | p50 ms | p90 ms | p99 ms | max ms | change requests APPLIED | not | failed removals |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	if len(lat) == 0 {
		fmt.Printf("| %d | 0 | – | – | – | – | %d | %d | %d |\n\n", len(sent), applied, other, failures)
		return
	}
	fmt.Printf("| %d | %d | %.1f | %.1f | %.1f | %.1f | %d | %d | %d |\n\n", len(sent), len(lat),
		bench.Ms(bench.Pct(lat, 0.50)), bench.Ms(bench.Pct(lat, 0.90)), bench.Ms(bench.Pct(lat, 0.99)), bench.Ms(lat[len(lat)-1]),
		applied, other, failures)
}

func ptr[T any](v T) *T { return &v }

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}
