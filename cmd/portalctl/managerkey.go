package main

import (
	"time"

	"github.com/residentportal/bff/graph/model"
)

// Manager keys: create, list, revoke.

func cmdManagerKeyCreate(e *env, args []string) (any, error) {
	id, err := propertyFlag("manager-key create", args)
	if err != nil {
		return nil, err
	}
	k, err := e.store.CreateManagerKey(e.ctx, id)
	return map[string]any{"keyId": k.ManagerKey.ID, "key": k.Key}, err
}

func managerKeyJSON(k model.ManagerKey) map[string]any {
	return map[string]any{"keyId": k.ID, "propertyId": k.PropertyID, "hint": k.Hint + "…",
		"createdAt": k.CreatedAt.UTC().Format(time.RFC3339), "revokedAt": timeOrNil(k.RevokedAt)}
}

func timeOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func cmdManagerKeyList(e *env, args []string) (any, error) {
	id, err := propertyFlag("manager-key list", args)
	if err != nil {
		return nil, err
	}
	if _, err := e.store.PropertyByID(e.ctx, id); err != nil {
		return nil, err
	}
	keys, err := e.store.ManagerKeys(e.ctx, id)
	out := make([]map[string]any, 0, len(keys))
	for _, k := range keys {
		out = append(out, managerKeyJSON(k))
	}
	return map[string]any{"keys": out}, err
}

func cmdManagerKeyRevoke(e *env, args []string) (any, error) {
	id, err := idFlag("manager-key revoke", "key-id", args)
	if err != nil {
		return nil, err
	}
	k, err := e.store.RevokeManagerKey(e.ctx, id)
	if err != nil {
		return nil, err
	}
	return managerKeyJSON(k), nil
}
