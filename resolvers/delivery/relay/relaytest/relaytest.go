// Package relaytest connects tests to the machine's NATS (127.0.0.1:4222,
// JetStream on) with stream and subject names of each test's own, deleted
// when it ends. Without NATS tests skip, unless CI is set, where they fail.
package relaytest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/residentportal/bff/resolvers/delivery/relay"
)

// URL is the machine's NATS.
const URL = "nats://127.0.0.1:4222"

// JetStream connects to the machine's NATS for tb.
func JetStream(tb testing.TB) jetstream.JetStream {
	tb.Helper()
	nc, err := nats.Connect(URL, nats.Timeout(2*time.Second), nats.ReconnectBufSize(-1))
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("NATS: %v", err)
		}
		tb.Skipf("no NATS on %s: %v", URL, err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	return js
}

// Names returns a relay config with a stream and subject prefix of tb's
// own (tag says whose), the stream deleted when tb ends.
func Names(tb testing.TB, js jetstream.JetStream, tag string) relay.Config {
	tb.Helper()
	id := strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	cfg := relay.Config{Stream: "TEST_" + strings.ToUpper(tag+"_"+id), SubjectPrefix: "test." + tag + "." + id + ".changes"}
	tb.Cleanup(func() { _ = js.DeleteStream(context.Background(), cfg.Stream) })
	return cfg
}
