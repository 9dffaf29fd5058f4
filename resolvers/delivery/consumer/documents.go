package consumer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// The GraphQL documents the consumer sends (the claim check and its
// report), so that portald trusts them under
// GRAPHQL_TRUSTED_DOCUMENTS=enforce as it trusts the resident page's.
const (
	UnitUserQuery = `query UnitUser($p: ID!, $u: ID!) { unitUser(propertyId: $p, userId: $u) { id userName type status passphrase } }`
	UnitQuery     = `query Unit($p: ID!, $u: ID) { unit(propertyId: $p, unitId: $u) { id number status } }`
	// IdentitiesQuery reads a property's identities a page of units at a
	// time (the hostapd file's sink).
	IdentitiesQuery  = `query Identities($p: ID!, $after: String) { property(propertyId: $p) { units(first: 100, after: $after) { pageInfo { hasNextPage endCursor } edges { node { status vlanId users(first: 100) { pageInfo { hasNextPage } edges { node { id status passphrase } } } } } } } }`
	CompleteMutation = `mutation Complete($p: ID!, $id: ID!, $r: ChangeResult!, $d: String) { completeChangeRequest(propertyId: $p, id: $id, result: $r, detail: $d) { status } }`
)

// Manifest returns the documents as an Apollo persisted-query manifest.
func Manifest() []byte {
	type op struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Type string `json:"type"`
		Body string `json:"body"`
	}
	ops := []op{{Name: "UnitUser", Type: "query", Body: UnitUserQuery}, {Name: "Unit", Type: "query", Body: UnitQuery},
		{Name: "Identities", Type: "query", Body: IdentitiesQuery},
		{Name: "Complete", Type: "mutation", Body: CompleteMutation}}
	for i := range ops {
		sum := sha256.Sum256([]byte(ops[i].Body))
		ops[i].ID = hex.EncodeToString(sum[:])
	}
	b, err := json.Marshal(map[string]any{"format": "apollo-persisted-query-manifest", "version": 1, "operations": ops})
	if err != nil {
		panic(err) // unreachable: fixed strings
	}
	return b
}
