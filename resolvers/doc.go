// Package resolvers is the resident portal's one service layer — every
// validation, authorisation and orchestration rule — and the GraphQL glue
// over it (gqlgen resolvers and per-request dataloaders). The REST layer
// calls the same Service methods, so a value read or written through either
// transport is the same value.
//
// It reads and writes through the small Store interface it declares (the db
// package implements it) and never imports storage itself.
package resolvers
