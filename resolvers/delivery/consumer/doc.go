// Package consumer is the Wi-Fi side of change delivery, the library a
// Wi-Fi integrator copies: a JetStream message names a change, the
// consumer reads its current state through portald's GraphQL API with the
// property's manager key (the claim check), hands it to a Sink, and reports
// the result (completeChangeRequest). cmd/portal-wifisync runs it.
package consumer
