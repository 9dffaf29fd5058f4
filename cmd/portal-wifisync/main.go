// Command portal-wifisync is the reference consumer of the portal's change
// requests, the example a Wi-Fi integrator copies: a durable JetStream pull
// consumer that, for each message, reads what changed through the portal's
// GraphQL API with the property's manager key (the message carries ids
// only), hands it to a Sink, reports APPLIED or FAILED with
// completeChangeRequest, and acknowledges. Delivery is at least once and
// bounded: after MAX_DELIVER failed attempts a change is reported FAILED
// with the reason (visible in `portalctl changes list`) and not retried.
//
// Configuration (environment): NATS_URL (nats://127.0.0.1:4222),
// NATS_STREAM (PORTAL_CHANGES), NATS_SUBJECT_PREFIX (portal.changes),
// WIFISYNC_CONSUMER (durable name, wifisync), PORTAL_GRAPHQL_URL
// (http://localhost:8080/graphql), WIFISYNC_KEYS (propertyId=managerKey,
// comma-separated), MAX_DELIVER (5), RETRY_DELAY (2s).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/residentportal/bff/resolvers/delivery/consumer"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, log); err != nil {
		log.Error("portal-wifisync", "error", err.Error())
		os.Exit(1)
	}
}

func env(getenv func(string) string, name, def string) string {
	if v := strings.TrimSpace(getenv(name)); v != "" {
		return v
	}
	return def
}

// run consumes until ctx ends.
func run(ctx context.Context, getenv func(string) string, log *slog.Logger) error {
	keys := map[uuid.UUID]string{}
	for _, kv := range strings.Split(env(getenv, "WIFISYNC_KEYS", ""), ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		p, k, ok := strings.Cut(kv, "=")
		id, err := uuid.Parse(p)
		if !ok || err != nil || k == "" {
			return fmt.Errorf("WIFISYNC_KEYS: %q is not propertyId=managerKey", p)
		}
		keys[id] = k
	}
	maxDeliver, err := strconv.Atoi(env(getenv, "MAX_DELIVER", "5"))
	if err != nil || maxDeliver < 1 {
		return fmt.Errorf("MAX_DELIVER: not a positive whole number")
	}
	retry, err := time.ParseDuration(env(getenv, "RETRY_DELAY", "2s"))
	if err != nil || retry <= 0 {
		return fmt.Errorf("RETRY_DELAY: not a positive duration")
	}
	nc, err := nats.Connect(env(getenv, "NATS_URL", "nats://127.0.0.1:4222"), nats.Name("portal-wifisync"),
		nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	stream, prefix := env(getenv, "NATS_STREAM", "PORTAL_CHANGES"), env(getenv, "NATS_SUBJECT_PREFIX", "portal.changes")
	var cons jetstream.Consumer
	for { // the portal's relay makes the stream; wait for it
		cons, err = js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
			Durable: env(getenv, "WIFISYNC_CONSUMER", "wifisync"), FilterSubject: prefix + ".>",
			AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxDeliver: maxDeliver + 1,
		})
		if err == nil {
			break
		}
		log.Warn("waiting for the stream", "stream", stream, "error", err.Error())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	c := &consumer.Consumer{API: &consumer.API{URL: env(getenv, "PORTAL_GRAPHQL_URL", "http://localhost:8080/graphql"), Keys: keys,
		Client: &http.Client{Timeout: 10 * time.Second}}, Sink: consumer.StdoutSink{W: os.Stdout}, Log: log, MaxDeliver: maxDeliver, RetryDelay: retry}
	return c.Run(ctx, cons)
}
