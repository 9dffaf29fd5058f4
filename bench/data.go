package bench

import "github.com/google/uuid"

// Data describes the generated dataset: what benchdata writes and the load
// generator reads.
type Data struct {
	Property      uuid.UUID   `json:"property"`
	PagingProp    uuid.UUID   `json:"pagingProperty"`
	ManagerKey    string      `json:"managerKey"`
	PagingKey     string      `json:"pagingKey"`
	Units         []uuid.UUID `json:"units"`
	PortalSecrets []string    `json:"portalSecrets"`
	// Users holds one user of each listed unit.
	Users     []uuid.UUID    `json:"users"`
	DeepAfter string         `json:"deepAfter"`
	Counts    map[string]int `json:"counts"`
}

// The benchmark's GraphQL reads: the resident's unit with its first 100
// users and their devices, and a manager's property with its first 50
// units, their first 20 users each and their devices. The floor serves
// the same data (bench/cmd/floor, checked by its test).
const (
	ResidentQuery = `query($p: ID!) { unit(propertyId: $p) { id number users(first: 100) { edges { node { id userName type passphrase devices { macAddress displayName osType } } } } } }`
	ManagerQuery  = `query($p: ID!) { property(propertyId: $p) { name units(first: 50) { edges { node { id number users(first: 20) { edges { node { id userName type passphrase devices { macAddress displayName osType } } } } } } } } }`
)
