package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/residentportal/bff/db/dbtest"
)

// ctl runs portalctl in-process against one database.
type ctl struct {
	tb  testing.TB
	env map[string]string
}

func newCtl(tb testing.TB) *ctl {
	return &ctl{tb: tb, env: map[string]string{
		"DATABASE_URL":    dbtest.NewURL(tb),
		"SECRET_KEY":      dbtest.TestSecretKey,
		"PUBLIC_BASE_URL": "https://portal.example.com",
	}}
}

// run returns the exit code and the decoded JSON object of stdout (success)
// or stderr (failure).
func (c *ctl) run(args ...string) (int, map[string]any) {
	c.tb.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr, func(k string) string { return c.env[k] })
	out := stdout.Bytes()
	if code != 0 {
		out = stderr.Bytes()
		if stdout.Len() != 0 {
			c.tb.Fatalf("portalctl %v failed but wrote stdout: %s", args, stdout.String())
		}
	} else if stderr.Len() != 0 {
		c.tb.Fatalf("portalctl %v succeeded but wrote stderr: %s", args, stderr.String())
	}
	var obj map[string]any
	if err := json.Unmarshal(out, &obj); err != nil {
		c.tb.Fatalf("portalctl %v: output is not one JSON object: %q", args, out)
	}
	return code, obj
}

// ok runs a command that must succeed and checks the keys of its output.
func (c *ctl) ok(keys []string, args ...string) map[string]any {
	c.tb.Helper()
	code, obj := c.run(args...)
	if code != 0 {
		c.tb.Fatalf("portalctl %v: exit %d: %v", args, code, obj)
	}
	for _, k := range keys {
		if _, present := obj[k]; !present {
			c.tb.Fatalf("portalctl %v: output lacks %q: %v", args, k, obj)
		}
	}
	return obj
}

func (c *ctl) fails(wantCode int, wantText string, args ...string) {
	c.tb.Helper()
	code, obj := c.run(args...)
	msg, _ := obj["error"].(string)
	if code != wantCode || !strings.Contains(msg, wantText) {
		c.tb.Fatalf("portalctl %v: exit %d, error %q; want exit %d with %q", args, code, msg, wantCode, wantText)
	}
}

func TestCommands(t *testing.T) {
	c := newCtl(t)
	c.ok([]string{"version"}, "migrate")
	pid := c.ok([]string{"propertyId"}, "property", "create", "--name", "Harbour View", "--ssid", "HV-Res",
		"--ssid", "HV-Guest", "--allow-guest-secret", "--portal-allowed=true")["propertyId"].(string)
	shown := c.ok([]string{"name", "ssids", "allowSeparateGuestSecret", "passphraseLength"}, "property", "show", "--property", pid)
	if shown["name"] != "Harbour View" || len(shown["ssids"].([]any)) != 2 || shown["allowSeparateGuestSecret"] != true {
		t.Fatalf("show = %v", shown)
	}
	upd := c.ok(nil, "property", "update", "--property", pid, "--title", "Welcome", "--main-color", "#112233",
		"--passphrase-length", "16", "--max-units", "2", "--enforce-max-units", "--tenant-set-dpsk")
	if upd["title"] != "Welcome" || upd["mainColor"] != "#112233" || upd["passphraseLength"] != float64(16) ||
		upd["name"] != "Harbour View" || upd["tenantSetDpsk"] != true {
		t.Fatalf("update = %v", upd)
	}

	logo := filepath.Join(t.TempDir(), "logo.png")
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	if err := os.WriteFile(logo, png, 0o600); err != nil {
		t.Fatal(err)
	}
	file := c.ok([]string{"fileName", "contentType"}, "property", "set-file", "--property", pid, "--type", "logo", "--file", logo)
	if file["fileName"] != "logo.png" || file["contentType"] != "image/png" {
		t.Fatalf("set-file = %v", file)
	}

	unit := c.ok([]string{"unitId", "hashedSecret", "portalUrl", "secret", "unitUserId", "guestSecret", "guestUserId"},
		"unit", "create", "--property", pid, "--number", "101", "--contact-name", "Ada", "--email", "ada@example.org")
	if len(unit["secret"].(string)) != 16 {
		t.Fatalf("passphrase length ignores the property: %v", unit["secret"])
	}
	if want := "https://portal.example.com/portal/?propertyId=" + pid + "&auth="; !strings.HasPrefix(unit["portalUrl"].(string), want) {
		t.Fatalf("portalUrl = %v", unit["portalUrl"])
	}
	uid := unit["unitId"].(string)
	if st := c.ok([]string{"status"}, "unit", "disable", "--unit", uid); st["status"] != "DISABLED" {
		t.Fatalf("disable = %v", st)
	}
	if st := c.ok([]string{"status"}, "unit", "enable", "--unit", uid); st["status"] != "ENABLED" {
		t.Fatalf("enable = %v", st)
	}
	reset := c.ok([]string{"hashedSecret", "portalUrl"}, "unit", "reset-access", "--unit", uid)
	if reset["hashedSecret"] == unit["hashedSecret"] {
		t.Fatal("reset-access kept the portal secret")
	}
	user := c.ok([]string{"userId", "passphrase"}, "user", "create", "--unit", uid, "--name", "Office")
	dev := c.ok([]string{"deviceId"}, "device", "add", "--user", user["userId"].(string), "--mac", "aabb.ccdd.eeff", "--name", "Printer")
	if dev["deviceId"] != "AA:BB:CC:DD:EE:FF" {
		t.Fatalf("deviceId = %v", dev["deviceId"])
	}
	key := c.ok([]string{"keyId", "key"}, "manager-key", "create", "--property", pid)
	if !strings.HasPrefix(key["key"].(string), "rpmk_") {
		t.Fatalf("key = %v", key["key"])
	}
	list := c.ok([]string{"keys"}, "manager-key", "list", "--property", pid)
	if ks := list["keys"].([]any); len(ks) != 1 || strings.Contains(ks[0].(map[string]any)["hint"].(string), key["key"].(string)) {
		t.Fatalf("list = %v", list)
	}
	if rv := c.ok([]string{"revokedAt"}, "manager-key", "revoke", "--key-id", key["keyId"].(string)); rv["revokedAt"] == nil {
		t.Fatalf("revoke = %v", rv)
	}

	// Errors of the domain: exit 1 with a clear message.
	t.Run("errors", func(t *testing.T) {
		c.fails(1, "already exists", "unit", "create", "--property", pid, "--number", "101")
		c.ok(nil, "unit", "create", "--property", pid, "--number", "102")
		c.fails(1, "maximum of 2 units", "unit", "create", "--property", pid, "--number", "103")
		c.fails(1, "property not found", "unit", "create", "--property", "00000000-0000-0000-0000-000000000001", "--number", "1")
		c.fails(1, "unit not found", "unit", "disable", "--unit", "00000000-0000-0000-0000-000000000001")
		c.fails(1, "MAC address", "device", "add", "--user", user["userId"].(string), "--mac", "not-a-mac")
		c.fails(1, "already exists", "device", "add", "--user", user["userId"].(string), "--mac", "AA:BB:CC:DD:EE:FF")
		c.fails(1, "at most 255", "user", "create", "--unit", uid, "--name", strings.Repeat("n", 256))
		c.fails(1, "phone", "user", "create", "--unit", uid, "--name", "x", "--phone", "12345678901234567")
		c.fails(1, "colour", "property", "update", "--property", pid, "--accent-color", "red")
		c.fails(1, "between 8 and 63", "property", "update", "--property", pid, "--passphrase-length", "64")
		c.fails(1, "cannot be read", "property", "set-file", "--property", pid, "--type", "logo", "--file", "/nonexistent.png")
		notImage := filepath.Join(t.TempDir(), "notes.txt")
		_ = os.WriteFile(notImage, []byte("hello"), 0o600)
		c.fails(1, "must be a PNG, ICO, JPEG, GIF or WebP", "property", "set-file", "--property", pid, "--type", "favIcon", "--file", notImage)
		// The content decides, not the name: HTML named .png, and SVG
		// (which can carry script and would be served inline), are refused.
		for name, content := range map[string]string{
			"page.png": "<html><script>alert(1)</script></html>",
			"logo.svg": `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`,
		} {
			file := filepath.Join(t.TempDir(), name)
			_ = os.WriteFile(file, []byte(content), 0o600)
			c.fails(1, "must be a PNG, ICO, JPEG, GIF or WebP", "property", "set-file", "--property", pid, "--type", "logo", "--file", file)
		}
		c.fails(1, "manager key not found", "manager-key", "revoke", "--key-id", "00000000-0000-0000-0000-000000000001")
	})
	// Usage errors: exit 2.
	t.Run("usage", func(t *testing.T) {
		c.fails(2, "unknown command", "frobnicate")
		c.fails(2, "a command is needed: portalctl help lists them")
		c.fails(2, "--number is required", "unit", "create", "--property", pid)
		c.fails(2, "is not a UUID", "property", "show", "--property", "nope")
		c.fails(2, "flag provided but not defined", "unit", "create", "--bogus")
		c.fails(2, "--type must be", "property", "set-file", "--property", pid, "--type", "banner", "--file", logo)
		c.fails(2, "at least 32", "rekey", "--new-key", "short")
	})
	t.Run("configuration", func(t *testing.T) {
		bad := &ctl{tb: t, env: map[string]string{"DATABASE_URL": c.env["DATABASE_URL"]}}
		bad.fails(1, "SECRET_KEY", "migrate")
	})
	t.Run("rekey", func(t *testing.T) {
		out := c.ok([]string{"rows"}, "rekey", "--new-key", "another-secret-key-for-the-rekey-test-0123")
		if out["rows"] != float64(2+2+2+1) { // 2 units; UNIT+GUEST each; one LINKED user
			t.Fatalf("rekey = %v", out)
		}
		c.env["SECRET_KEY"] = "another-secret-key-for-the-rekey-test-0123"
		c.ok([]string{"name"}, "property", "show", "--property", pid)
		c.ok([]string{"hashedSecret"}, "unit", "reset-access", "--unit", uid)
	})
	t.Run("rekey in a window", func(t *testing.T) {
		c.fails(2, "--new-key is required", "rekey")
		// The servers' way: SECRET_KEY is the new key, SECRET_KEY_PREVIOUS the old one.
		c.env["SECRET_KEY_PREVIOUS"] = c.env["SECRET_KEY"]
		c.env["SECRET_KEY"] = "a-third-secret-key-for-the-window-test-0123"
		c.ok([]string{"hashedSecret"}, "unit", "show", "--unit", uid)
		if out := c.ok([]string{"rows"}, "rekey"); out["rows"] != float64(7) {
			t.Fatalf("rekey = %v", out)
		}
		delete(c.env, "SECRET_KEY_PREVIOUS")
		c.ok([]string{"hashedSecret"}, "unit", "show", "--unit", uid)
		c.env["SECRET_KEY_PREVIOUS"] = c.env["SECRET_KEY"]
		c.fails(1, "SECRET_KEY_PREVIOUS", "unit", "show", "--unit", uid)
	})
}

func TestDemoIsIdempotent(t *testing.T) {
	c := newCtl(t)
	first := c.ok([]string{"propertyId", "units", "tryIt"}, "demo")
	second := c.ok([]string{"propertyId", "units", "tryIt"}, "demo")
	a, _ := json.Marshal(first)
	b, _ := json.Marshal(second)
	if !bytes.Equal(a, b) {
		t.Fatalf("demo changed on the second run:\n%s\n%s", a, b)
	}
	units := first["units"].([]any)
	if len(units) != 3 || units[0].(map[string]any)["guestSecret"] == nil {
		t.Fatalf("units = %v", units)
	}
	if !strings.Contains(first["tryIt"].(map[string]any)["login"].(string), units[0].(map[string]any)["hashedSecret"].(string)) {
		t.Fatal("the curl line does not log in with a demo secret")
	}
}

// Errors an operator meets first say what to do, without "internal error".
func TestOperatorErrorsSayTheFix(t *testing.T) {
	c := newCtl(t)
	c.ok(nil, "property", "create", "--name", "Keyed")
	delete(c.env, "SECRET_KEY")
	c.fails(1, "SECRET_KEY: required", "property", "create", "--name", "X")
	code, obj := c.run("property", "create", "--name", "X")
	if msg, _ := obj["error"].(string); code != 1 || strings.Contains(msg, "internal error") || !strings.Contains(msg, ".data/secret_key") {
		t.Fatalf("exit %d: %q", code, msg)
	}
	// Data written under one key, read under another: the fix is named.
	c2 := newCtl(t)
	c2.ok([]string{"propertyId"}, "demo")
	c2.env["SECRET_KEY"] = "another-secret-key-0123456789abcdef-0123456789"
	code, obj = c2.run("demo")
	if msg, _ := obj["error"].(string); code != 1 || !strings.Contains(msg, "another SECRET_KEY") || !strings.Contains(msg, "portalctl rekey") ||
		strings.Contains(msg, "internal error") {
		t.Fatalf("exit %d: %q", code, msg)
	}
}

func TestHelpAndFlagMistakes(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"manager-key", "create", "--help"}, &stdout, &stderr, func(string) string { return "" })
	if code != 0 || !strings.HasPrefix(stdout.String(), "usage: portalctl manager-key create --property P") || stderr.Len() != 0 {
		t.Fatalf("--help: exit %d, %q %q", code, stdout.String(), stderr.String())
	}
	c := newCtl(t)
	c.fails(2, "--propety", "property", "show", "--propety", "x")
	// An empty database (no migrations) names the fix.
	empty := newCtl(t)
	admin := dbtest.Must[*pgx.Conn](t)(pgx.Connect(context.Background(), empty.env["DATABASE_URL"]))
	defer admin.Close(context.Background())
	if _, err := admin.Exec(context.Background(), `DROP TABLE manager_keys, change_requests, devices, unit_users, units, property_files, properties CASCADE`); err != nil {
		t.Fatal(err)
	}
	empty.fails(1, "run portalctl migrate", "property", "show", "--property", uuid.NewString())
}

// After a rekey, a portalctl still run with the old key writes nothing: an
// acknowledged write that could never be read back would be a lost write.
func TestOldKeyRefusedAfterRekey(t *testing.T) {
	c := newCtl(t)
	pid := c.ok([]string{"propertyId"}, "property", "create", "--name", "Rekeyed")["propertyId"].(string)
	c.ok(nil, "unit", "create", "--property", pid, "--number", "1")
	newKey := "the-next-secret-key-0123456789abcdef-0123456789"
	c.ok([]string{"rows"}, "rekey", "--new-key", newKey)
	c.fails(1, "under another SECRET_KEY", "unit", "create", "--property", pid, "--number", "2")
	c.env["SECRET_KEY"] = newKey
	c.ok([]string{"unitId"}, "unit", "create", "--property", pid, "--number", "2")
	if units := c.ok([]string{"units"}, "unit", "list", "--property", pid)["units"].([]any); len(units) != 2 {
		t.Fatalf("units: %v", units)
	}
}

// Without the right DATABASE_URL, portalctl says which database it tried
// (never the password) and how to use the one make run set up.
func TestMissingDatabaseSaysWhatToDo(t *testing.T) {
	c := newCtl(t)
	u := dbtest.NewURL(t)
	c.env["DATABASE_URL"] = u[:strings.LastIndex(u, "/")] + "/no_such_database_here?sslmode=disable"
	c.fails(1, `cannot use the database "no_such_database_here"`, "unit", "list", "--property", "00000000-0000-0000-0000-000000000001")
	c.fails(1, "does not exist. To use the one make run set up in this checkout: . .data/env", "unit", "list", "--property",
		"00000000-0000-0000-0000-000000000001")
}
