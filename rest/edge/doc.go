// Package edge is the HTTP edge both transports (REST and GraphQL) pass
// through: request ids, structured access logs, panic recovery, Prometheus
// metrics, the request deadline, security headers, CORS and the body limit,
// plus the vendor error body every 4xx/5xx of the REST surface uses.
//
// Everything here is a plain func(http.Handler) http.Handler.
package edge
