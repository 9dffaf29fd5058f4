// Package model is the resident portal's domain: its entities, the one error
// type with its small code set, and every rule that the server and the admin
// tool share (passphrase validation and generation, MAC parsing, portal-secret
// minting, encryption of secrets at rest, the read-modify-write update rules).
//
// It imports only the standard library and google/uuid, so every other
// package (storage, service, transports, commands) can depend on it and it on
// none of them. gqlgen also writes the GraphQL-only models here
// (models_gen.go); everything else in the package is hand-written.
package model
