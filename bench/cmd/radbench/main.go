// Command radbench measures identity PSK by MAC (SPEC §9.2, §9.6): portald's
// RADIUS server and FreeRADIUS 3.2 (Debian's, its files module holding the
// same devices and passphrases) answer the same Access-Requests from the
// same load generator, in interleaved rounds. It registers an access point
// for 127.0.0.1 in the benchmark's property, writes FreeRADIUS's users file
// from the database, runs FreeRADIUS, and prints a BENCHMARKS.md section.
package main

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/residentportal/bff/bench"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/graph/model"
	"layeh.com/radius"
)

func main() {
	dbURL := flag.String("db", "", "benchmark database")
	dataFile := flag.String("data", "bench/out/data.json", "dataset description from benchdata")
	portald := flag.String("portald", "127.0.0.1:18812", "portald's RADIUS_ADDR")
	portaldPID := flag.Int("portald-pid", 0, "portald's process id")
	frPort := flag.Int("freeradius-port", 18912, "the port FreeRADIUS serves on")
	outDir := flag.String("out", "bench/out/freeradius", "FreeRADIUS's configuration and logs")
	devices := flag.Int("devices", 2000, "devices asked for, round robin")
	duration := flag.Duration("duration", 3*time.Second, "each round")
	rounds := flag.Int("rounds", 4, "rounds per server, interleaved")
	workers := flag.Int("workers", 32, "requests in flight")
	share := flag.Float64("share", 0.6, "the paced load, as a share of FreeRADIUS's throughput")
	httpURL := flag.String("http", "http://127.0.0.1:18080", "portald's HTTP listener")
	httpRate := flag.Float64("http-rate", 400, "the HTTP side's paced requests a second")
	radsecAddr := flag.String("radsec", "", "portald's RADSEC_ADDR (empty: no RadSec rounds)")
	radsecCert := flag.String("radsec-cert", "", "portald's RadSec certificate (PEM), to trust")
	flag.Parse()
	ctx := context.Background()
	data, err := readData(*dataFile)
	if err != nil {
		log.Fatal(err)
	}
	store, _ := bench.Store(ctx, *dbURL)
	defer store.Close()
	// The property's SSID, an access point on 127.0.0.1, and the devices to
	// ask for with their passphrases.
	if _, err := store.Pool().Exec(ctx, `UPDATE properties SET ssids = '{Residents}' WHERE id = $1`, data.Property); err != nil {
		log.Fatal(err)
	}
	if _, err := store.Pool().Exec(ctx, `DELETE FROM nas_clients WHERE name = 'radbench'`); err != nil {
		log.Fatal(err)
	}
	nas, err := store.CreateNAS(ctx, model.NAS{PropertyID: data.Property, Name: "radbench", Address: netip.MustParsePrefix("127.0.0.1/32"), Profile: model.NASHostapd})
	if err != nil {
		log.Fatal(err)
	}
	macs, err := deviceMACs(ctx, store, data.Property, *devices)
	if err != nil {
		log.Fatal(err)
	}
	var users strings.Builder
	for _, m := range macs {
		found, err := store.WifiDevicesByMAC(ctx, data.Property, m)
		if err != nil || len(found) != 1 {
			log.Fatalf("device %s: %v %d", m, err, len(found))
		}
		fmt.Fprintf(&users, "%s Auth-Type := Accept\n\tTunnel-Password = \"%s\",\n\tClass = 0x%x\n\n",
			strings.ToLower(strings.ReplaceAll(m, ":", "")), found[0].Passphrase, found[0].UserID[:])
	}
	fr, err := startFreeRADIUS(*outDir, *frPort, nas.Secret, users.String())
	if err != nil {
		log.Fatal(err)
	}
	defer fr.stop()
	targets := []target{
		{name: "portald", addr: *portald, pid: *portaldPID, backends: "portald"},
		{name: "FreeRADIUS 3.2 (files)", addr: fmt.Sprintf("127.0.0.1:%d", *frPort), pid: fr.cmd.Process.Pid},
	}
	for _, t := range targets { // each answers before it is measured (portald reads its access points every 5 s)
		if err := waitAccept(t.addr, nas.Secret, macs[0], 15*time.Second); err != nil {
			log.Fatalf("%s: %v", t.name, err)
		}
	}
	results := make([][]round, len(targets))
	for r := range *rounds {
		for k := range targets {
			i := (k + r) % len(targets)
			results[i] = append(results[i], load(ctx, store, targets[i], nas.Secret, macs, *workers, *duration))
		}
	}
	rates := report(targets, results, len(macs), *workers, *duration, *rounds)

	// The same offered load for both, then portald's HTTP side alone and
	// beside it.
	offered := *share * rates[1]
	lat := make([][]pacedResult, len(targets))
	for r := range *rounds {
		for k := range targets {
			i := (k + r) % len(targets)
			lat[i] = append(lat[i], pacedRADIUS(targets[i].addr, nas.Secret, macs, 64, offered, *duration))
		}
	}
	tokens := login(*httpURL, data.Property.String(), data.PortalSecrets[:min(50, len(data.PortalSecrets))])
	query := httpSender(*httpURL, residentBody(data.Property), tokens)
	var alone, with []pacedResult
	for range *rounds {
		alone = append(alone, paced(8, *httpRate, *duration, query))
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); pacedRADIUS(targets[0].addr, nas.Secret, macs, 64, offered, *duration) }()
		with = append(with, paced(8, *httpRate, *duration, query))
		wg.Wait()
	}
	fmt.Print(pacedReport(targets, offered, rates[1], lat, *httpRate, alone, with))
	fr.stop() // done with it: a failure below (log.Fatal) must not leave it running

	if *radsecAddr != "" {
		cfg := radsecClient(ctx, store, nas.NAS, *radsecCert)
		if err := waitRadSec(*radsecAddr, cfg, macs[0], 15*time.Second); err != nil {
			log.Fatal(err)
		}
		tls := target{name: "portald (RadSec)", addr: *radsecAddr, pid: *portaldPID, backends: "portald"}
		// 8 connections: the bound per address (one access point, or a
		// controller, keeps a few); UDP with as many workers.
		const conns = 8
		var udp, overTLS []round
		for range *rounds {
			udp = append(udp, load(ctx, store, targets[0], nas.Secret, macs, conns, *duration))
			overTLS = append(overTLS, radsecLoad(ctx, store, tls, cfg, macs, conns, *duration))
		}
		fmt.Print(radsecReport(udp, overTLS, conns, *duration))
	}
}

type target struct {
	name, addr string
	pid        int
	backends   string // application_name of its database connections ("" for none)
}

type round struct {
	sent, accepted int64
	lat            []time.Duration
	cpu            time.Duration // the server's and its database backends'
	wall           time.Duration
}

func readData(path string) (bench.Data, error) {
	var d bench.Data
	b, err := os.ReadFile(path)
	if err != nil {
		return d, err
	}
	return d, json.Unmarshal(b, &d)
}

func deviceMACs(ctx context.Context, store *db.DB, property [16]byte, n int) ([]string, error) {
	rows, err := store.Pool().Query(ctx, `SELECT d.mac_address FROM devices d JOIN unit_users uu ON uu.id = d.user_id
	  WHERE uu.property_id = $1 AND uu.status = 'ACTIVE'
	    AND (SELECT count(*) FROM devices o JOIN unit_users ou ON ou.id = o.user_id WHERE o.mac_address = d.mac_address AND ou.property_id = $1) = 1
	  ORDER BY d.id LIMIT $2`, property, n)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// request is an Access-Request for mac with a valid Message-Authenticator.
func request(secret, mac string) []byte {
	return requestID(secret, mac, -1)
}

// requestID is request with identifier id (-1: a random one).
func requestID(secret, mac string, id int) []byte {
	p := radius.New(radius.CodeAccessRequest, []byte(secret))
	if id >= 0 {
		p.Identifier = byte(id)
	}
	flat := strings.ToLower(strings.ReplaceAll(mac, ":", ""))
	for _, v := range []struct {
		t radius.Type
		v string
	}{{1, flat}, {31, strings.ReplaceAll(mac, ":", "-")}, {30, "0A-00-00-00-00-01:Residents"}} {
		a, _ := radius.NewString(v.v)
		p.Add(v.t, a)
	}
	p.Add(80, make(radius.Attribute, 16))
	b, _ := p.MarshalBinary()
	h := hmac.New(md5.New, []byte(secret))
	h.Write(b)
	copy(b[len(b)-16:], h.Sum(nil))
	return b
}

func waitAccept(addr, secret, mac string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		conn, err := net.Dial("udp", addr)
		if err != nil {
			return err
		}
		_, _ = conn.Write(request(secret, mac))
		_ = conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		buf := make([]byte, 4096)
		n, err := conn.Read(buf)
		conn.Close()
		if err == nil && n > 0 && radius.Code(buf[0]) == radius.CodeAccessAccept {
			return nil
		}
		<-time.After(200 * time.Millisecond)
	}
	return fmt.Errorf("no Access-Accept within %v", within)
}

// load keeps workers requests in flight for d over UDP, each a new
// request (its own authenticator) for the next device, and counts the
// accepts.
func load(ctx context.Context, store *db.DB, t target, secret string, macs []string, workers int, d time.Duration) round {
	return drive(ctx, store, t, macs, workers, d, func() asker {
		conn, err := net.Dial("udp", t.addr)
		if err != nil {
			log.Fatal(err)
		}
		buf := make([]byte, 4096)
		return asker{secret: secret, close: func() { conn.Close() }, ask: func(b []byte) bool {
			_, _ = conn.Write(b)
			_ = conn.SetReadDeadline(time.Now().Add(time.Second))
			for {
				n, err := conn.Read(buf)
				if err != nil {
					return false // lost: counted as sent, not accepted
				}
				if n >= 20 && buf[1] == b[1] {
					return radius.Code(buf[0]) == radius.CodeAccessAccept
				}
			}
		}}
	})
}

// asker is one worker's way to ask: ask sends an Access-Request (made
// under secret) and reports whether an Access-Accept came back.
type asker struct {
	secret string
	ask    func(b []byte) bool
	close  func()
}

// drive runs workers askers (opened before the clock starts, as access
// points keep their sockets and connections) for d, one request in flight
// on each, round robin over macs, and measures the round: requests,
// accepts, their latencies, and the server's CPU (with its database
// backends').
func drive(ctx context.Context, store *db.DB, t target, macs []string, workers int, d time.Duration, open func() asker) round {
	var sent, accepted, next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	askers := make([]asker, workers)
	for i := range askers {
		askers[i] = open()
	}
	cpu0 := bench.CPUTime(t.pid) + backendsCPU(ctx, store, t.backends)
	start := time.Now()
	stop := start.Add(d)
	var wg sync.WaitGroup
	for _, a := range askers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer a.close()
			var mine []time.Duration
			for time.Now().Before(stop) {
				b := request(a.secret, macs[int(next.Add(1))%len(macs)])
				t0 := time.Now()
				sent.Add(1)
				if a.ask(b) {
					accepted.Add(1)
					mine = append(mine, time.Since(t0))
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	cpu := bench.CPUTime(t.pid) + backendsCPU(ctx, store, t.backends) - cpu0
	slices.Sort(lat)
	return round{sent: sent.Load(), accepted: accepted.Load(), lat: lat, cpu: cpu, wall: wall}
}

// backendsCPU is the CPU time of the database backends whose
// application_name is app (0 for "").
func backendsCPU(ctx context.Context, store *db.DB, app string) time.Duration {
	if app == "" {
		return 0
	}
	rows, err := store.Pool().Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, app)
	if err != nil {
		return 0
	}
	pids, _ := pgx.CollectRows(rows, pgx.RowTo[int32])
	var total time.Duration
	for _, p := range pids {
		total += bench.CPUTime(int(p))
	}
	return total
}

type freeRADIUS struct {
	once sync.Once
	cmd  *exec.Cmd
}

func (f *freeRADIUS) stop() {
	f.once.Do(func() {
		_ = f.cmd.Process.Kill()
		_, _ = f.cmd.Process.Wait()
	})
}

// startFreeRADIUS writes a minimal configuration — one client, the files
// module with users, authorize and nothing else — and runs it in the
// foreground with 4 worker threads.
func startFreeRADIUS(dir string, port int, secret, users string) (*freeRADIUS, error) {
	dir, _ = filepath.Abs(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = %[1]s
raddbdir = %[1]s
radacctdir = %[1]s
name = freeradius
confdir = %[1]s
modconfdir = %[1]s
run_dir = %[1]s
db_dir = %[1]s
libdir = /usr/lib/freeradius
dictdir = /usr/share/freeradius
pidfile = %[1]s/radiusd.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 65536
hostname_lookups = no
log {
	destination = stderr
	auth = no
}
security {
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = 0
	status_server = no
	require_message_authenticator = yes
}
thread pool {
	start_servers = 4
	max_servers = 4
	min_spare_servers = 4
	max_spare_servers = 4
	max_requests_per_server = 0
	auto_limit_acct = no
}
client bench {
	ipaddr = 127.0.0.1
	secret = %[3]s
	require_message_authenticator = yes
}
modules {
	files {
		filename = %[1]s/users
	}
}
server default {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = %[2]d
	}
	authorize {
		files
	}
	authenticate {
	}
}
`, dir, port, secret)
	if err := os.WriteFile(filepath.Join(dir, "radiusd.conf"), []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "users"), []byte(users), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "dictionary"), []byte("# the bench's own: none\n"), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "freeradius.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("freeradius", "-f", "-d", dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &freeRADIUS{cmd: cmd}, nil
}

func report(targets []target, results [][]round, devices, workers int, d time.Duration, rounds int) []float64 {
	var b strings.Builder
	b.WriteString("## RADIUS: identity PSK by MAC, portald beside FreeRADIUS\n\n")
	fmt.Fprintf(&b, "`bench/cmd/radbench`: Access-Requests (MAC authentication with Message-Authenticator, as hostapd's `wpa_psk_radius` sends them) for %d devices of the benchmark's property, round robin, from %d workers with one request in flight each, %d interleaved rounds of %v per server on loopback. FreeRADIUS %s holds the same devices and passphrases in its files module (written from the database) and answers with Tunnel-Password and Class; portald answers from its in-memory table of the property (dropped on any change's notice). CPU is the server's, plus for portald its PostgreSQL backends'.\n\n",
		devices, workers, rounds, d, "3.2.1 (Debian)")
	b.WriteString("| server | requests/s | accepted | p50 ms | p99 ms | CPU µs per request (server + database) |\n|---|---:|---:|---:|---:|---:|\n")
	rates := make([]float64, len(targets))
	for i, t := range targets {
		var sent, acc int64
		var lat []time.Duration
		var cpu, wall time.Duration
		for _, r := range results[i] {
			sent, acc, cpu, wall = sent+r.sent, acc+r.accepted, cpu+r.cpu, wall+r.wall
			lat = append(lat, r.lat...)
		}
		slices.Sort(lat)
		rates[i] = float64(acc) / wall.Seconds()
		perReq := 0.0
		if acc > 0 {
			perReq = float64(cpu.Microseconds()) / float64(acc)
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.2f %% | %.2f | %.2f | %.0f |\n", t.name, rates[i], 100*float64(acc)/float64(max(sent, 1)),
			bench.Ms(bench.Pct(lat, 0.5)), bench.Ms(bench.Pct(lat, 0.99)), perReq)
	}
	if rates[1] > 0 {
		fmt.Fprintf(&b, "\nportald answers %.2f× FreeRADIUS's requests a second here.\n", rates[0]/rates[1])
	}
	b.WriteString("\n")
	fmt.Print(b.String())
	return rates
}
