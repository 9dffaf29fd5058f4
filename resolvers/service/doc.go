// Package service is the resident portal's one service layer — every
// validation, authorisation and orchestration rule — and knows no
// transport: GraphQL (package resolvers), the REST layer (package rest) and
// any transport to come call the same methods, so a value read or written
// through one is the same value through another. The credential reaches it
// as a value in the context (WithCredential, or a transport's
// CredentialHolder), never through a transport's own state; a live
// connection holds it in a Session.
//
// It reads and writes through the small Store interface it declares (the
// db package implements it) and never imports storage itself.
package service
