package edge

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// The cost Trace adds to a request its sampler leaves out (1 % sampled:
// 99 requests in 100), against no tracing at all.
func BenchmarkTraceUnsampled(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	b.Cleanup(func() { _ = tp.Shutdown(b.Context()) })
	prop := propagation.TraceContext{}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"off", Trace(nil, nil)(ok)}, {"unsampled", Trace(tp, prop)(ok)}} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/residents/properties/x/units/users/y", nil)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				c.h.ServeHTTP(w, req)
			}
		})
	}
}

// A request its sampler leaves out still carries its trace's context, not
// sampled, so that what it sends on (a change request's headers) says so;
// a client's sampled traceparent is followed.
func TestTraceSampledOut(t *testing.T) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	var sc trace.SpanContext
	var recording bool
	h := Trace(tp, propagation.TraceContext{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		span := trace.SpanFromContext(r.Context())
		sc, recording = span.SpanContext(), span.IsRecording()
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil))
	if !sc.IsValid() || sc.IsSampled() || recording {
		t.Fatalf("sampled out: span context %v, recording %v", sc, recording)
	}
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || !sc.IsSampled() || !recording {
		t.Fatalf("client's sampled trace: span context %v, recording %v", sc, recording)
	}
}
