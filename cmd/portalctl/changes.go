package main

import (
	"strings"

	"github.com/google/uuid"
	"github.com/residentportal/bff/graph/model"
)

// changeJSON is a change request as portalctl prints it.
func changeJSON(c model.ChangeRequest) map[string]any {
	return map[string]any{"id": c.ID, "kind": c.Kind, "status": c.Status, "propertyId": c.PropertyID, "unitId": c.UnitID,
		"userId": c.UserID, "deviceId": c.DeviceID, "macAddress": c.MACAddress, "createdAt": c.CreatedAt.UTC(),
		"publishedAt": c.PublishedAt, "completedAt": c.CompletedAt, "detail": c.Detail}
}

// changes list --property P [--unit U] [--status S] [--limit N]: newest first.
func cmdChangesList(e *env, args []string) (any, error) {
	f := newFlags("changes list")
	f.String("property", "", "property id")
	unit := f.String("unit", "", "unit id")
	status := f.String("status", "", "PENDING, PUBLISHED, APPLIED or FAILED")
	limit := f.Int("limit", 100, "at most this many (1 to 10000)")
	if err := f.parse(args, "property"); err != nil {
		return nil, err
	}
	pid, err := f.uuid("property")
	if err != nil {
		return nil, err
	}
	var unitID *uuid.UUID
	if *unit != "" {
		id, err := f.uuid("unit")
		if err != nil {
			return nil, err
		}
		unitID = &id
	}
	var st *model.ChangeStatus
	if *status != "" {
		s := model.ChangeStatus(strings.ToUpper(*status))
		if !s.Valid() {
			return nil, usagef("--status must be PENDING, PUBLISHED, APPLIED or FAILED")
		}
		st = &s
	}
	if *limit < 1 || *limit > 10000 {
		return nil, usagef("--limit must be between 1 and 10000")
	}
	if _, err := e.store.PropertyByID(e.ctx, pid); err != nil {
		return nil, err
	}
	rows, err := e.store.ListChangeRequests(e.ctx, pid, unitID, st, *limit)
	out := make([]map[string]any, 0, len(rows))
	for _, c := range rows {
		out = append(out, changeJSON(c))
	}
	return map[string]any{"changes": out}, err
}

// changes retry --id C: a FAILED (or stuck PUBLISHED) request back to PENDING.
func cmdChangesRetry(e *env, args []string) (any, error) {
	id, err := idFlag("changes retry", "id", args)
	if err != nil {
		return nil, err
	}
	c, err := e.store.RetryChangeRequest(e.ctx, id)
	if err != nil {
		return nil, err
	}
	return changeJSON(c), nil
}
