package consumer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/pbkdf2"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/delivery/relay"
	"github.com/residentportal/bff/resolvers/delivery/relay/relaytest"
)

// pskLine is one line of a wpa_psk_file as hostapd reads it
// (hostapd/hostapd.wpa_psk and hostapd_config_read_wpa_psk): optional
// keyid=, vlanid=, wps= tokens, a MAC address, then — the rest of the line
// after the spaces that follow the MAC — either 64 hex digits (a PSK) or
// a passphrase of 8 to 63 characters.
type pskLine struct {
	keyID, mac, passphrase, psk string
	vlan                        int
}

// parseWPAPSKFile is a checker written from hostapd's documented format
// (not the sink's code): it refuses what hostapd would refuse.
func parseWPAPSKFile(b []byte) ([]pskLine, error) {
	var out []pskLine
	mac := regexp.MustCompile(`^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$`)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		var l pskLine
		rest := line
		for {
			tok, after, _ := strings.Cut(rest, " ")
			k, v, isOpt := strings.Cut(tok, "=")
			if !isOpt {
				break
			}
			switch k {
			case "keyid":
				if v == "" || len(v) >= 32 { // char keyid[KEYID_LEN], KEYID_LEN 32 (src/ap/ap_config.h)
					return nil, fmt.Errorf("line %d: keyid %q", n, v)
				}
				l.keyID = v
			case "vlanid":
				id, err := strconv.Atoi(v)
				if err != nil || id < 1 || id > 4094 {
					return nil, fmt.Errorf("line %d: vlanid %q", n, v)
				}
				l.vlan = id
			case "wps":
			default:
				return nil, fmt.Errorf("line %d: unknown token %q", n, tok)
			}
			rest = after
		}
		m, after, ok := strings.Cut(rest, " ")
		if !ok || !mac.MatchString(m) {
			return nil, fmt.Errorf("line %d: no MAC address", n)
		}
		l.mac = m
		secret := strings.TrimLeft(after, " ")
		if _, err := hex.DecodeString(secret); err == nil && len(secret) == 64 {
			l.psk = secret
		} else if len(secret) >= 8 && len(secret) <= 63 {
			l.passphrase = secret
		} else {
			return nil, fmt.Errorf("line %d: neither a PSK nor a passphrase of 8–63 characters", n)
		}
		out = append(out, l)
	}
	return out, sc.Err()
}

// The hostapd file holds one line per active identity of an enabled unit,
// with its unit's VLAN, readable by hostapd's rules (a passphrase hostapd
// would read otherwise written as its PSK), mode 0600; each write is
// followed by the reload, whose failure fails the change with its output.
func TestHostapdSink(t *testing.T) {
	store, srv := newPortal(t)
	ctx := context.Background()
	p := dbtest.Must[model.Property](t)(store.CreateProperty(ctx, db.PropertyInput{Name: dbtest.Ptr("Harbour"),
		AllowSeparateGuestSecret: dbtest.Ptr(true), TenantSetDpsk: dbtest.Ptr(true)}))
	a := dbtest.Must[db.CreatedUnit](t)(store.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "1"}))
	b := dbtest.Must[db.CreatedUnit](t)(store.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "2"}))
	off := dbtest.Must[db.CreatedUnit](t)(store.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "3"}))
	dbtest.Must[model.Unit](t)(store.SetUnitVLAN(ctx, nil, a.Unit.ID, dbtest.Ptr(120)))
	dbtest.Must[model.Unit](t)(store.SetUnitStatus(ctx, model.PropertyScope(p.ID), off.Unit.ID, model.UnitDisabled))
	// A passphrase hostapd would read without its leading space; a blocked identity.
	spaced := dbtest.Must[model.UnitUserUpdateResult](t)(store.UpdateUnitUser(ctx, model.PropertyScope(p.ID), b.Unit.UnitUserID,
		model.UnitUserUpdate{Passphrase: dbtest.Ptr(" leading space 1")}))
	dbtest.Must[model.UnitUserUpdateResult](t)(store.UpdateUnitUser(ctx, model.PropertyScope(p.ID), *b.Unit.GuestUserID,
		model.UnitUserUpdate{Status: dbtest.Ptr("BLOCKED")}))
	key := dbtest.Must[db.CreatedManagerKey](t)(store.CreateManagerKey(ctx, p.ID)).Key

	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	script := filepath.Join(dir, "hostapd_cli")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$@\" >> "+calls+"\nif [ -e "+dir+"/fail ]; then echo 'Failed to connect to hostapd' >&2; exit 255; fi\necho OK\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "wpa_psk")
	sink := &HostapdSink{API: &API{URL: srv.URL + "/graphql", Keys: map[uuid.UUID]string{p.ID: key}, Client: &http.Client{Timeout: 10 * time.Second}},
		Property: p.ID, SSID: "Harbour Net", Path: path, Reload: []string{script, "-i", "wlan0", "reload_wpa_psk"}}
	if err := sink.Apply(ctx, Change{Message: relay.Message{ID: uuid.New(), PropertyID: p.ID, Kind: model.ChangePassphrase}}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the file: %v, %v", st, err)
	}
	text := dbtest.Must[[]byte](t)(os.ReadFile(path))
	lines, err := parseWPAPSKFile(text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	want := map[string]pskLine{
		KeyID(a.Unit.UnitUserID):   {keyID: KeyID(a.Unit.UnitUserID), mac: "00:00:00:00:00:00", passphrase: a.Unit.Secret, vlan: 120},
		KeyID(*a.Unit.GuestUserID): {keyID: KeyID(*a.Unit.GuestUserID), mac: "00:00:00:00:00:00", passphrase: *a.Unit.GuestSecret, vlan: 120},
		KeyID(b.Unit.UnitUserID): {keyID: KeyID(b.Unit.UnitUserID), mac: "00:00:00:00:00:00",
			psk: hex.EncodeToString(must(pbkdf2.Key(sha1.New, spaced.User.Passphrase, []byte("Harbour Net"), 4096, 32)))},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d (the blocked identity and the disabled unit's left out):\n%s", len(lines), len(want), text)
	}
	for _, l := range lines {
		if w, ok := want[l.keyID]; !ok || w != l {
			t.Errorf("line %+v, want %+v", l, w)
		}
	}
	if got := string(dbtest.Must[[]byte](t)(os.ReadFile(calls))); got != "-i wlan0 reload_wpa_psk\n" {
		t.Fatalf("reload calls %q", got)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".wpa_psk.*")); len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	// The reload fails: the change fails with its output, and the file
	// holds the new state (the next reload picks it up).
	if err := os.WriteFile(filepath.Join(dir, "fail"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err = sink.Apply(ctx, Change{Message: relay.Message{ID: uuid.New(), PropertyID: p.ID, Kind: model.ChangeIdentity}})
	if err == nil || !strings.Contains(err.Error(), "Failed to connect to hostapd") {
		t.Fatalf("a failed reload: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Through the broker, as portal-wifisync runs it: a new passphrase reaches
// the file and the change is APPLIED once hostapd reloaded; a reload that
// fails makes the change FAILED with hostapd_cli's words.
func TestHostapdSinkEndToEnd(t *testing.T) {
	js := relaytest.JetStream(t)
	cfg := relaytest.Names(t, js, "hostapd")
	cfg.Poll = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, srv := newPortal(t)
	p := dbtest.Must[model.Property](t)(store.CreateProperty(ctx, db.PropertyInput{Name: dbtest.Ptr("OpenWrt House")}))
	u := dbtest.Must[db.CreatedUnit](t)(store.CreateUnit(ctx, db.NewUnit{PropertyID: p.ID, Number: "1"}))
	key := dbtest.Must[db.CreatedManagerKey](t)(store.CreateManagerKey(ctx, p.ID)).Key

	dir := t.TempDir()
	script := filepath.Join(dir, "hostapd_cli")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nif [ -e "+dir+"/fail ]; then echo 'Failed to connect to hostapd - wpa_ctrl_open: No such file or directory'; exit 255; fi\necho OK\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "wpa_psk")
	api := &API{URL: srv.URL + "/graphql", Keys: map[uuid.UUID]string{p.ID: key}, Client: http.DefaultClient}
	sink := &HostapdSink{API: api, Property: p.ID, SSID: "OpenWrt", Path: path, Reload: []string{script}}

	r := dbtest.Must[*relay.Relay](t)(relay.New(store, js, cfg, quiet, nil))
	relayDone := make(chan struct{})
	go func() { defer close(relayDone); r.Run(ctx) }()
	defer func() { cancel(); <-relayDone }()
	cons := untilStream(t, func() (jetstream.Consumer, error) {
		return js.CreateOrUpdateConsumer(ctx, cfg.Stream, jetstream.ConsumerConfig{Durable: "hostapd",
			FilterSubject: cfg.SubjectPrefix + "." + p.ID.String() + ".>", AckPolicy: jetstream.AckExplicitPolicy, MaxDeliver: 3})
	})
	c := &Consumer{API: api, Sink: sink, Log: quiet, MaxDeliver: 2, RetryDelay: 50 * time.Millisecond}
	consumed := make(chan error, 1)
	go func() { consumed <- c.Run(ctx, cons) }()
	defer func() { cancel(); <-consumed }()

	settled := func(kind model.ChangeKind) model.ChangeRequest {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; {
			var last model.ChangeRequest
			for _, r := range dbtest.Must[[]model.ChangeRequest](t)(store.ChangeRequestsByUnit(ctx, u.Unit.ID)) {
				if r.Kind == kind {
					last = r
				}
			}
			if last.Status == model.ChangeApplied || last.Status == model.ChangeFailed {
				return last
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still %s", kind, last.Status)
			}
			<-time.After(20 * time.Millisecond)
		}
	}
	res := dbtest.Must[model.UnitUpdateResult](t)(store.UpdateUnit(ctx, model.PropertyScope(p.ID), u.Unit.ID, model.UnitUpdate{Secret: dbtest.Ptr("")}))
	if c := settled(model.ChangePassphrase); c.Status != model.ChangeApplied {
		t.Fatalf("%s %v", c.Status, c.Detail)
	}
	lines := dbtest.Must[[]pskLine](t)(parseWPAPSKFile(dbtest.Must[[]byte](t)(os.ReadFile(path))))
	if len(lines) != 1 || lines[0].passphrase != res.Unit.Secret || lines[0].keyID != KeyID(u.Unit.UnitUserID) {
		t.Fatalf("the file: %+v, want the new passphrase %q", lines, res.Unit.Secret)
	}
	if err := os.WriteFile(filepath.Join(dir, "fail"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	dbtest.Must[model.Unit](t)(store.SetUnitStatus(ctx, model.PropertyScope(p.ID), u.Unit.ID, model.UnitDisabled))
	if c := settled(model.ChangeUnitStatus); c.Status != model.ChangeFailed || c.Detail == nil || !strings.Contains(*c.Detail, "Failed to connect to hostapd") {
		t.Fatalf("a failing reload: %s %v", c.Status, c.Detail)
	}
	// The file already says what the next reload applies: no line for the disabled unit.
	if lines := dbtest.Must[[]pskLine](t)(parseWPAPSKFile(dbtest.Must[[]byte](t)(os.ReadFile(path)))); len(lines) != 0 {
		t.Fatalf("the disabled unit's line stayed: %+v", lines)
	}
}
