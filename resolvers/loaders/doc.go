// Package loaders holds GraphQL's per-request dataloaders — one per
// parent→child edge, each batch one `= ANY($1)` statement over the
// service's store — with the keys and cursors of the connections they page,
// shared by both executors (gqlgen's resolvers and the fast path).
package loaders
