package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// An operator can look things up without rotating anything, and remove a
// device the way the API does (its change request written).
func TestLookups(t *testing.T) {
	c := newCtl(t)
	pid := c.ok([]string{"propertyId"}, "property", "create", "--name", "Lookup Lane", "--allow-guest-secret")["propertyId"].(string)
	created := c.ok([]string{"unitId"}, "unit", "create", "--property", pid, "--number", "7", "--contact-name", "Ada")
	uid := created["unitId"].(string)
	c.ok(nil, "unit", "create", "--property", pid, "--number", "8")
	user := c.ok([]string{"userId"}, "user", "create", "--unit", uid, "--name", "Study")["userId"].(string)
	c.ok(nil, "device", "add", "--user", user, "--mac", "aa-bb-cc-dd-ee-01", "--name", "Laptop")

	if p := c.ok([]string{"units"}, "property", "show", "--property", pid); p["units"] != float64(2) {
		t.Fatalf("property show: %v", p["units"])
	}
	list := c.ok([]string{"units", "total"}, "unit", "list", "--property", pid)
	if units := list["units"].([]any); len(units) != 2 || units[0].(map[string]any)["number"] != "7" || list["total"] != float64(2) {
		t.Fatalf("unit list: %v", list)
	}
	shown := c.ok([]string{"secret", "guestSecret", "hashedSecret", "portalUrl"}, "unit", "show", "--unit", uid)
	// The same portal link as at creation: showing rotates nothing.
	if shown["hashedSecret"] != created["hashedSecret"] || shown["portalUrl"] != created["portalUrl"] || shown["secret"] != created["secret"] {
		t.Fatalf("unit show: %v, created %v", shown, created)
	}
	users := c.ok([]string{"users"}, "user", "list", "--unit", uid)["users"].([]any)
	if len(users) != 3 {
		t.Fatalf("user list: %v", users)
	}
	if u := c.ok([]string{"passphrase"}, "user", "show", "--user", user); u["userName"] != "Study" || u["type"] != "LINKED" {
		t.Fatalf("user show: %v", u)
	}
	devices := c.ok([]string{"devices"}, "device", "list", "--unit", uid)["devices"].([]any)
	if len(devices) != 1 || devices[0].(map[string]any)["macAddress"] != "AA:BB:CC:DD:EE:01" {
		t.Fatalf("device list: %v", devices)
	}
	removed := c.ok([]string{"changeRequestId"}, "device", "remove", "--unit", uid, "--mac", "AA:BB:CC:DD:EE:01")
	changes := c.ok([]string{"changes"}, "changes", "list", "--property", pid, "--unit", uid, "--limit", "1")["changes"].([]any)
	if ch := changes[0].(map[string]any); ch["id"] != removed["changeRequestId"] || ch["kind"] != "DEVICE_REMOVED" {
		t.Fatalf("the removal's change request: %v", ch)
	}
	c.fails(1, "not found", "device", "remove", "--unit", uid, "--mac", "AA:BB:CC:DD:EE:01")
	c.fails(1, "not found", "user", "show", "--user", "00000000-0000-0000-0000-000000000001")
	c.fails(2, "--limit must be", "unit", "list", "--property", pid, "--limit", "0")
}

// -o table prints the same answer for people; JSON stays the default.
func TestTableOutput(t *testing.T) {
	c := newCtl(t)
	pid := c.ok([]string{"propertyId"}, "property", "create", "--name", "Table Terrace")["propertyId"].(string)
	for _, n := range []string{"101", "102"} {
		c.ok(nil, "unit", "create", "--property", pid, "--number", n)
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"unit", "list", "--property", pid, "-o", "table"}, &stdout, &stderr, func(k string) string { return c.env[k] })
	out := stdout.String()
	if code != 0 || stderr.Len() != 0 || !strings.Contains(out, "units (2)") || !strings.Contains(out, "NUMBER") ||
		!strings.Contains(out, "101") || !strings.Contains(out, "102") || !regexp.MustCompile(`(?m)^total\s+2$`).MatchString(out) {
		t.Fatalf("exit %d:\n%s%s", code, out, stderr.String())
	}
	// The rows come first and the total after them; the number and status
	// first, the id last.
	if strings.Index(out, "units (2)") > strings.Index(out, "total") || !regexp.MustCompile(`(?m)^NUMBER\s+STATUS\s+DESCRIPTION\s+UNITID$`).MatchString(out) {
		t.Fatalf("not in a human order:\n%s", out)
	}
	c.fails(2, "is not json or table", "unit", "list", "--property", pid, "-o", "yaml")
}
