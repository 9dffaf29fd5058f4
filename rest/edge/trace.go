package edge

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/residentportal/bff/graph/model"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// TracerName names the spans of the HTTP edge.
const TracerName = "github.com/residentportal/bff/rest/edge"

// Trace starts a server span per request (subscription streams aside), the child of the client's span
// when its traceparent is well formed (a malformed one is ignored: a new
// trace starts), named "METHOD /route/{template}" unless a layer below
// names it (and says so in the request's model.RequestInfo: SpanNamed). Its attributes carry the method, the route, the
// path (ids, never secrets) and the status; never the query string,
// headers or bodies. tp nil: no spans, no cost.
func Trace(tp trace.TracerProvider, prop propagation.TextMapPropagator) func(http.Handler) http.Handler {
	if tp == nil {
		return func(next http.Handler) http.Handler { return next }
	}
	tracer := tp.Tracer(TracerName)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if Streaming(r) {
				// A subscription stream lasts minutes and carries many
				// events: not one request's trace.
				next.ServeHTTP(w, r)
				return
			}
			ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
			ctx, span := tracer.Start(ctx, r.Method, serverKind)
			defer span.End()
			if !span.IsRecording() {
				// Sampled out: the context still carries the span's
				// context (so that what this request sends on says
				// "not sampled"), and nothing else is built.
				next.ServeHTTP(w, r.WithContext(ctx))
				return
			}
			span.SetAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path))
			rec := &statusRecorder{ResponseWriter: w}
			next.ServeHTTP(rec, r.WithContext(ctx))
			route := RoutePattern(r)
			if info := model.RequestInfoFrom(ctx); info == nil || !info.SpanNamed {
				span.SetName(r.Method + " " + route)
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			span.SetAttributes(attribute.String("http.route", route), attribute.Int("http.response.status_code", status))
			if status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
		})
	}
}

var serverKind = trace.WithSpanKind(trace.SpanKindServer)

// TraceLog adds the trace_id and span_id of the span in a record's context
// to every log line written inside a recorded trace.
func TraceLog(h slog.Handler) slog.Handler { return traceLog{h} }

type traceLog struct{ slog.Handler }

func (t traceLog) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return t.Handler.Handle(ctx, r)
}

func (t traceLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceLog{t.Handler.WithAttrs(attrs)}
}
func (t traceLog) WithGroup(name string) slog.Handler { return traceLog{t.Handler.WithGroup(name)} }
