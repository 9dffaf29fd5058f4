// Package rest is the REST compatibility layer: the 16 operations of the
// vendor's "Resident Portal REST API (v0)", path for path and field for
// field, each decoding its request, calling the same service.Service
// method the GraphQL resolvers call, and encoding the vendor's wire shape.
// No business rule lives here. NewHandler composes the whole public HTTP
// surface (edge middleware, probes, REST routes and the GraphQL endpoint).
package rest
