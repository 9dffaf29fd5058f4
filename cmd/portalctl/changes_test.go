package main

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/residentportal/bff/db"
	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/graph/model"
)

// portalctl writes the outbox like the server (unit create, disable) and
// lists and retries change requests.
func TestChangesListAndRetry(t *testing.T) {
	c := newCtl(t)
	pid := c.ok([]string{"propertyId"}, "property", "create", "--name", "Outbox Court", "--allow-guest-secret")["propertyId"].(string)
	unit := c.ok([]string{"unitId"}, "unit", "create", "--property", pid, "--number", "9")["unitId"].(string)
	c.ok(nil, "unit", "disable", "--unit", unit)

	list := c.ok([]string{"changes"}, "changes", "list", "--property", pid)["changes"].([]any)
	var kinds []string
	for _, x := range list {
		kinds = append(kinds, x.(map[string]any)["kind"].(string))
	}
	if len(kinds) != 3 || kinds[0] != "UNIT_STATUS_CHANGED" || kinds[1] != "IDENTITY_CREATED" || kinds[2] != "IDENTITY_CREATED" {
		t.Fatalf("kinds, newest first: %v", kinds)
	}
	newest := list[0].(map[string]any)["id"].(string)

	// A request the Wi-Fi side reported FAILED goes back to PENDING.
	store := dbtest.Must[*db.DB](t)(db.Open(context.Background(), c.env["DATABASE_URL"], dbtest.Keys(t), db.Options{}))
	defer store.Close()
	reason := "controller unreachable"
	if _, _, err := store.CompleteChangeRequest(context.Background(), uuid.MustParse(pid), uuid.MustParse(newest), model.ChangeFailed, &reason); err != nil {
		t.Fatal(err)
	}
	failed := c.ok([]string{"changes"}, "changes", "list", "--property", pid, "--unit", unit, "--status", "failed")["changes"].([]any)
	if len(failed) != 1 || failed[0].(map[string]any)["detail"] != reason {
		t.Fatalf("failed: %v", failed)
	}
	retried := c.ok([]string{"id", "status"}, "changes", "retry", "--id", newest)
	if retried["status"] != "PENDING" || retried["detail"] != nil || retried["completedAt"] != nil {
		t.Fatalf("retried: %v", retried)
	}
	c.fails(1, "only a FAILED or PUBLISHED", "changes", "retry", "--id", newest)
	c.fails(1, "not found", "changes", "retry", "--id", uuid.NewString())
	c.fails(2, "--status must be", "changes", "list", "--property", pid, "--status", "DONE")
	c.fails(2, "--property is required", "changes", "list")
	c.fails(1, "not found", "changes", "list", "--property", uuid.NewString())
}
