package main

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"strings"
	"testing"
)

// Access points: added with a secret shown once, listed and shown without
// it, a new secret on rotation, overlapping addresses and duplicate names
// refused, removed.
func TestNASCommands(t *testing.T) {
	c := newCtl(t)
	c.ok(nil, "migrate")
	pid := c.ok([]string{"propertyId"}, "property", "create", "--name", "Harbour View", "--ssid", "Residents")["propertyId"].(string)
	added := c.ok([]string{"nasId", "secret"}, "nas", "add", "--property", pid, "--name", "lobby", "--address", "192.0.2.10", "--profile", "cisco")
	secret := added["secret"].(string)
	if len(secret) < 32 || added["address"] != "192.0.2.10/32" || added["coaPort"] != float64(3799) {
		t.Fatalf("nas add = %v", added)
	}
	id := added["nasId"].(string)
	for _, out := range []map[string]any{c.ok([]string{"accessPoints"}, "nas", "list", "--property", pid), c.ok([]string{"profile"}, "nas", "show", "--nas", id)} {
		if s := strings.Join(strings.Fields(strings.TrimSpace(toJSON(t, out))), ""); strings.Contains(s, secret) || strings.Contains(s, `"secret"`) {
			t.Fatalf("a listing shows the secret: %v", out)
		}
	}
	rotated := c.ok([]string{"secret"}, "nas", "rotate-secret", "--nas", id)
	if rotated["secret"] == secret {
		t.Fatal("rotate-secret kept the secret")
	}
	c.ok(nil, "nas", "add", "--property", pid, "--name", "garage", "--address", "198.51.100.0/24", "--profile", "hostapd", "--coa-port", "1700")
	c.fails(1, "overlaps", "nas", "add", "--property", pid, "--name", "roof", "--address", "198.51.100.7", "--profile", "mist")
	c.fails(1, "already has an access point of this name", "nas", "add", "--property", pid, "--name", "lobby", "--address", "203.0.113.1", "--profile", "mist")
	c.fails(1, "property not found", "nas", "add", "--property", "00000000-0000-0000-0000-000000000001", "--name", "x", "--address", "203.0.113.1", "--profile", "mist")
	c.fails(2, "--profile: must be one of", "nas", "add", "--property", pid, "--name", "x", "--address", "203.0.113.1", "--profile", "netgear")
	c.fails(2, "--address: must be an IP address", "nas", "add", "--property", pid, "--name", "x", "--address", "lobby", "--profile", "mist")
	c.fails(2, "--coa-port", "nas", "add", "--property", pid, "--name", "x", "--address", "203.0.113.1", "--profile", "mist", "--coa-port", "70000")
	// The property's cap on devices per identity.
	if out := c.ok([]string{"maxDevicesPerIdentity"}, "property", "update", "--property", pid, "--max-devices-per-identity", "5"); out["maxDevicesPerIdentity"] != float64(5) {
		t.Fatalf("property update = %v", out)
	}
	c.fails(1, "0 (no cap) to 1000", "property", "update", "--property", pid, "--max-devices-per-identity", "1001")
	// The VLAN an access point puts a unit's devices on.
	uid := c.ok([]string{"unitId"}, "unit", "create", "--property", pid, "--number", "101")["unitId"].(string)
	if out := c.ok([]string{"vlanId"}, "unit", "set-vlan", "--unit", uid, "--vlan", "120"); out["vlanId"] != float64(120) {
		t.Fatalf("set-vlan = %v", out)
	}
	if out := c.ok([]string{"vlanId"}, "unit", "set-vlan", "--unit", uid, "--vlan", "none"); out["vlanId"] != nil {
		t.Fatalf("set-vlan none = %v", out)
	}
	c.fails(2, "not 1 to 4094", "unit", "set-vlan", "--unit", uid, "--vlan", "4095")
	c.fails(1, "unit not found", "unit", "set-vlan", "--unit", "00000000-0000-0000-0000-000000000001", "--vlan", "7")
	// RadSec certificates: issued (key 0600, pinned), registered from a
	// file, refused for a second access point, unpinned.
	dir := t.TempDir()
	issued := c.ok([]string{"radsecCertSha256", "notAfter"}, "nas", "issue-cert", "--nas", id, "--cert-out", dir+"/lobby.pem", "--key-out", dir+"/lobby.key")
	der, _ := pem.Decode(must(os.ReadFile(dir + "/lobby.pem")))
	if sum := sha256.Sum256(der.Bytes); issued["radsecCertSha256"] != hex.EncodeToString(sum[:]) {
		t.Fatalf("issue-cert pinned %v", issued["radsecCertSha256"])
	}
	if st, err := os.Stat(dir + "/lobby.key"); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the key file: %v %v", st, err)
	}
	if _, err := tls.LoadX509KeyPair(dir+"/lobby.pem", dir+"/lobby.key"); err != nil {
		t.Fatalf("the issued pair: %v", err)
	}
	garage := c.ok([]string{"accessPoints"}, "nas", "list", "--property", pid)["accessPoints"].([]any)[0].(map[string]any)["nasId"].(string)
	c.fails(1, "another access point already has this certificate", "nas", "register-cert", "--nas", garage, "--cert", dir+"/lobby.pem")
	c.fails(2, "no PEM certificate", "nas", "register-cert", "--nas", garage, "--cert", dir+"/lobby.key")
	if out := c.ok([]string{"nasId"}, "nas", "register-cert", "--nas", id, "--cert", "none"); out["radsecCertSha256"] != nil {
		t.Fatalf("unpinned: %v", out)
	}
	if out := c.ok([]string{"nasId"}, "nas", "register-cert", "--nas", garage, "--cert", dir+"/lobby.pem"); out["radsecCertSha256"] != issued["radsecCertSha256"] {
		t.Fatalf("registered: %v", out)
	}
	c.ok([]string{"nasId"}, "nas", "remove", "--nas", id)
	c.fails(1, "access point not found", "nas", "show", "--nas", id)
	if list := c.ok([]string{"accessPoints"}, "nas", "list", "--property", pid)["accessPoints"].([]any); len(list) != 1 {
		t.Fatalf("after remove: %v", list)
	}
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
