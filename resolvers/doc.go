// Package resolvers is the GraphQL side of the resident portal over the
// service layer (package service): gqlgen's resolvers, the per-request
// dataloaders, the bounds, trusted documents and complexity limit, the
// direct executor (the fast path for hot reads) and the GraphQL transports
// (POST, GET, SSE and the WebSocket transport). Every rule lives in the
// service; this package turns GraphQL into service calls and back.
package resolvers
