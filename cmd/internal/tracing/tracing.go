// Package tracing sets up OpenTelemetry tracing for portald from the
// standard OTEL_* environment variables only. With no OTLP endpoint set
// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
// with OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none, there is no
// exporter and no instrumentation at all: Setup returns nil.
//
// Spans leave through a bounded queue (OTEL_BSP_MAX_QUEUE_SIZE, 2,048 by
// default): when the collector is slow or away, spans past it are dropped
// and counted (portal_trace_spans_dropped_total), never waited for.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// Tracing is portald's tracer provider and the W3C trace-context
// propagator (traceparent, tracestate).
type Tracing struct {
	Provider   trace.TracerProvider
	Propagator propagation.TextMapPropagator
	shutdown   func(context.Context) error
}

// Shutdown flushes the spans still queued (within ctx) and stops.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.shutdown == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// Enabled reports whether getenv configures a trace exporter.
func Enabled(getenv func(string) string) bool {
	if v, _ := strconv.ParseBool(getenv("OTEL_SDK_DISABLED")); v {
		return false
	}
	if getenv("OTEL_TRACES_EXPORTER") == "none" {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup returns portald's tracing as getenv configures it (nil when it
// configures none). The OTLP exporter (HTTP/protobuf) reads its endpoint,
// headers, timeout and TLS settings from the OTEL_EXPORTER_OTLP_* variables,
// the sampler comes from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG
// (default parentbased_always_on), the batch from OTEL_BSP_*. Dropped spans
// are counted in reg.
func Setup(ctx context.Context, getenv func(string) string, reg prometheus.Registerer) (*Tracing, error) {
	if !Enabled(getenv) {
		return nil, nil
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
		if p := getenv(name); p != "" && p != "http/protobuf" {
			return nil, fmt.Errorf("%s: %q is not supported; portald exports OTLP over http/protobuf", name, p)
		}
	}
	// The endpoint and timeout as getenv gives them (the exporter reads
	// the other OTEL_EXPORTER_OTLP_* variables itself).
	var opts []otlptracehttp.Option
	endpoint := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if endpoint == "" {
		if base := getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); base != "" {
			endpoint = strings.TrimRight(base, "/") + "/v1/traces"
		}
	}
	opts = append(opts, otlptracehttp.WithEndpointURL(endpoint))
	if ms, err := strconv.Atoi(getenv("OTEL_EXPORTER_OTLP_TIMEOUT")); err == nil && ms > 0 {
		opts = append(opts, otlptracehttp.WithTimeout(time.Duration(ms)*time.Millisecond))
	}
	exporter, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	queue := 2048
	if v, err := strconv.Atoi(getenv("OTEL_BSP_MAX_QUEUE_SIZE")); err == nil && v > 0 {
		queue = v
	}
	dropped := prometheus.NewCounter(prometheus.CounterOpts{Name: "portal_trace_spans_dropped_total",
		Help: "Spans dropped because the export queue was full (the collector slow or unreachable)."})
	failed := prometheus.NewCounter(prometheus.CounterOpts{Name: "portal_trace_spans_export_failed_total",
		Help: "Spans whose export to the collector failed."})
	if err := errors.Join(reg.Register(dropped), reg.Register(failed)); err != nil {
		return nil, err
	}
	counted := &countingExporter{SpanExporter: exporter, failed: failed}
	bounded := &boundedProcessor{SpanProcessor: sdktrace.NewBatchSpanProcessor(counted, sdktrace.WithMaxQueueSize(queue)),
		exporter: counted, max: int64(queue), dropped: dropped}
	res, err := resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceName(serviceName(getenv))))
	if err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(bounded), sdktrace.WithResource(res))
	return &Tracing{Provider: tp, Propagator: propagation.TraceContext{}, shutdown: tp.Shutdown}, nil
}

func serviceName(getenv func(string) string) string {
	if s := getenv("OTEL_SERVICE_NAME"); s != "" {
		return s
	}
	return "portald"
}

// boundedProcessor hands ended spans to the batch processor while fewer
// than max are waiting for export, and drops (and counts) the others: the
// batch processor's own queue drops silently.
type boundedProcessor struct {
	sdktrace.SpanProcessor
	exporter *countingExporter
	max      int64
	dropped  prometheus.Counter
}

func (p *boundedProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	if p.exporter.waiting.Add(1) > p.max {
		p.exporter.waiting.Add(-1)
		p.dropped.Inc()
		return
	}
	p.SpanProcessor.OnEnd(s)
}

// countingExporter counts the spans waiting for export (handed on, not yet
// exported) and the failed exports.
type countingExporter struct {
	sdktrace.SpanExporter
	waiting atomic.Int64
	failed  prometheus.Counter
}

func (e *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	e.waiting.Add(-int64(len(spans)))
	if err != nil {
		e.failed.Add(float64(len(spans)))
	}
	return err
}
