package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/residentportal/bff/db/dbtest"
	"github.com/residentportal/bff/resolvers/delivery/relay/relaytest"
)

// An unreachable OTLP collector neither fails nor holds up a request: its
// spans are dropped past the queue and counted. With change delivery and
// Redis on, every metric the dashboard and the alert rules read is one
// portald exposes.
func TestUnreachableCollectorAndMonitoringNames(t *testing.T) {
	js := relaytest.JetStream(t)
	cfg := relaytest.Names(t, js, "monitoring")
	s := start(t, map[string]string{"DATABASE_URL": dbtest.NewURL(t), "NATS_URL": relaytest.URL, "NATS_STREAM": cfg.Stream,
		"NATS_SUBJECT_PREFIX": cfg.SubjectPrefix, "REDIS_URL": "redis://127.0.0.1:6379/0", "RADIUS_ADDR": "127.0.0.1:0",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_BSP_MAX_QUEUE_SIZE": "8", "OTEL_EXPORTER_OTLP_TIMEOUT": "500"}, nil)
	for i := range 300 {
		if resp, body := get(t, s.public+"/healthz"); resp.StatusCode != 200 {
			t.Fatalf("request %d with the collector away: %d %s", i, resp.StatusCode, body)
		}
	}
	dropped := regexp.MustCompile(`(?m)^portal_trace_spans_dropped_total (\S+)$`)
	var metrics string
	for deadline := time.Now().Add(10 * time.Second); ; {
		_, metrics = get(t, s.metrics+"/metrics")
		if m := dropped.FindStringSubmatch(metrics); m != nil {
			if n, _ := strconv.ParseFloat(m[1], 64); n > 0 {
				t.Logf("%v spans dropped", n)
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dropped spans counted:\n%s", dropped.FindString(metrics))
		}
		<-time.After(20 * time.Millisecond)
	}

	exposed := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+) (\S+)$`).FindAllStringSubmatch(metrics, -1) {
		exposed[m[1]] = m[2]
	}
	for _, file := range []string{"../../deploy/grafana/portald.json", "../../deploy/prometheus/alerts.yml"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		names := regexp.MustCompile(`\b(portal_[a-z_]+|process_[a-z_]+|go_[a-z_]+)\b`).FindAllString(string(b), -1)
		if len(names) == 0 {
			t.Fatalf("%s names no metric", file)
		}
		for _, n := range names {
			family := n
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				if base, ok := strings.CutSuffix(n, suffix); ok && exposed[base] == "histogram" {
					family = base
				}
			}
			if _, ok := exposed[family]; !ok {
				t.Errorf("%s reads %s, which portald does not expose", file, n)
			}
		}
	}
}
