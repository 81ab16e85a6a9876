package delivery

import (
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/tracing"
)

// BenchmarkAttemptSpan measures what tracing adds to one attempt: off (no
// tracer provider: a no-op span) and on (the SDK, batching to an exporter
// that drops the spans).
func BenchmarkAttemptSpan(b *testing.B) {
	j := &labhooks.Job{DeliveryID: "dlv_1", EventID: "evt_1", EventName: "sampleReceived", DataLinkID: "dl_1", PartnerID: "ptn_1",
		Try: 1, Traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	res := &Result{StartedAt: time.Now(), Duration: 3 * time.Millisecond, StatusCode: 200}
	for _, c := range []struct {
		name string
		tp   trace.TracerProvider
	}{
		{"off", nil},
		{"on", sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))},
	} {
		b.Run(c.name, func(b *testing.B) {
			e := &Engine{tracer: tracing.Tracer(c.tp)}
			b.ReportAllocs()
			for b.Loop() {
				_, span, _ := e.startAttempt(j, trace.SpanContext{})
				endAttempt(span, res, labhooks.DeliverySucceeded)
			}
		})
	}
}

// With tracing off, an attempt sends the event's stored traceparent on
// unchanged; with it on, its own span's, in the event's trace.
func TestAttemptTraceparent(t *testing.T) {
	const emit = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	j := &labhooks.Job{DeliveryID: "dlv_1", Traceparent: emit}
	off := &Engine{tracer: tracing.Tracer(nil)}
	if _, span, tp := off.startAttempt(j, trace.SpanContext{}); tp != emit || span.IsRecording() {
		t.Errorf("tracing off: traceparent %q, recording %v; want %q and a no-op span", tp, span.IsRecording(), emit)
	}
	if _, _, tp := off.startAttempt(&labhooks.Job{}, trace.SpanContext{}); tp != "" {
		t.Errorf("tracing off, no traceparent stored: sent %q", tp)
	}
	exp := tracetest.NewInMemoryExporter()
	on := &Engine{tracer: tracing.Tracer(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)))}
	_, span, tp := on.startAttempt(j, trace.SpanContext{})
	endAttempt(span, &Result{StatusCode: 500}, labhooks.DeliveryPending)
	got := tracing.Parse(tp)
	if got.TraceID() != tracing.Parse(emit).TraceID() || got.SpanID() != span.SpanContext().SpanID() {
		t.Errorf("tracing on: sent %q, want the attempt span %s in the emit's trace", tp, span.SpanContext().SpanID())
	}
	if spans := exp.GetSpans(); len(spans) != 1 || spans[0].Status.Description != "HTTP 500" {
		t.Errorf("spans = %+v, want one attempt marked HTTP 500", spans)
	}
}
