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
// WIFISYNC_CONSUMER (wifisync: the durable consumers are named it, a dash
// and each property's id, and read that property's subjects only, so
// deployments sharing a NATS never take each other's changes), PORTAL_GRAPHQL_URL
// (http://localhost:8080/graphql), WIFISYNC_KEYS (propertyId=managerKey,
// comma-separated), MAX_DELIVER (5), RETRY_DELAY (2s).
//
// WIFISYNC_SINK picks where changes go: stdout (default: one JSON line
// each) or hostapd-psk-file (SPEC §9.7, OpenWrt without RADIUS: the
// wpa_psk_file HOSTAPD_PSK_FILE for the one property of WIFISYNC_KEYS and
// the SSID HOSTAPD_SSID, then RELOAD_COMMAND, default
// "hostapd_cli -i <HOSTAPD_INTERFACE, wlan0> reload_wpa_psk", split on
// spaces, no shell). That sink writes the file once at start.
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
	"github.com/residentportal/bff/cmd/internal/version"
	"github.com/residentportal/bff/resolvers/delivery/consumer"
)

func main() {
	if version.Asked(os.Args[1:]) {
		fmt.Println(version.String("portal-wifisync"))
		return
	}
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
	if len(keys) == 0 {
		return fmt.Errorf("WIFISYNC_KEYS: no property: name each as propertyId=managerKey")
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
	api := &consumer.API{URL: env(getenv, "PORTAL_GRAPHQL_URL", "http://localhost:8080/graphql"), Keys: keys,
		Client: &http.Client{Timeout: 10 * time.Second}}
	stream, prefix := env(getenv, "NATS_STREAM", "PORTAL_CHANGES"), env(getenv, "NATS_SUBJECT_PREFIX", "portal.changes")
	var sink consumer.Sink = consumer.StdoutSink{W: os.Stdout}
	switch kind := env(getenv, "WIFISYNC_SINK", "stdout"); kind {
	case "stdout":
	case "hostapd-psk-file":
		if len(keys) != 1 {
			return fmt.Errorf("WIFISYNC_SINK=hostapd-psk-file: WIFISYNC_KEYS must name exactly one property (the file is one property's)")
		}
		var property uuid.UUID
		for p := range keys {
			property = p
		}
		path, ssid := env(getenv, "HOSTAPD_PSK_FILE", ""), env(getenv, "HOSTAPD_SSID", "")
		if path == "" || ssid == "" {
			return fmt.Errorf("WIFISYNC_SINK=hostapd-psk-file needs HOSTAPD_PSK_FILE and HOSTAPD_SSID")
		}
		reload := strings.Fields(env(getenv, "RELOAD_COMMAND", "hostapd_cli -i "+env(getenv, "HOSTAPD_INTERFACE", "wlan0")+" reload_wpa_psk"))
		h := &consumer.HostapdSink{API: api, Property: property, SSID: ssid, Path: path, Reload: reload}
		if err := h.Sync(ctx); err != nil {
			log.Warn("the hostapd file could not be written at start; the next change tries again", "error", err.Error())
		}
		sink = h
	default:
		return fmt.Errorf("WIFISYNC_SINK: %q is not stdout or hostapd-psk-file", kind)
	}
	c := &consumer.Consumer{API: api, Sink: sink, Log: log, MaxDeliver: maxDeliver, RetryDelay: retry}
	var conss []jetstream.Consumer
	for { // the portal's relay makes the stream; wait for it
		conss, err = c.Durables(ctx, js, stream, prefix, env(getenv, "WIFISYNC_CONSUMER", "wifisync"), jetstream.ConsumerConfig{
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
	return c.RunAll(ctx, conss)
}
