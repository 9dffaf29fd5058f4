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
