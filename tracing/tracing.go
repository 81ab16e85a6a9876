// Package tracing sets up OpenTelemetry tracing for labhooks and holds what
// its spans share: the span names and attributes, and the W3C traceparent
// kept with each event.
//
// Tracing is off unless an OTLP endpoint is configured (--otel-endpoint, or
// the standard OTEL_* variables); off, every span is a no-op and nothing is
// exported.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Scope is the instrumentation scope of labhooks' spans.
const Scope = "github.com/labhooks/labhooks"

// Span names.
const (
	SpanEmit    = "labhooks.emit"
	SpanClaim   = "labhooks.claim"
	SpanAttempt = "labhooks.attempt"
)

// Attribute keys of labhooks' spans.
const (
	AttrEventID        = attribute.Key("labhooks.event.id")
	AttrEventName      = attribute.Key("labhooks.event.name")
	AttrDeliveryID     = attribute.Key("labhooks.delivery.id")
	AttrDataLinkID     = attribute.Key("labhooks.datalink.id")
	AttrPartnerID      = attribute.Key("labhooks.partner.id")
	AttrRole           = attribute.Key("labhooks.role")
	AttrDeliveries     = attribute.Key("labhooks.deliveries")
	AttrReplayed       = attribute.Key("labhooks.idempotent_replay")
	AttrAttemptNumber  = attribute.Key("labhooks.attempt.number")
	AttrAttemptOutcome = attribute.Key("labhooks.attempt.outcome")
	AttrDurationMs     = attribute.Key("labhooks.attempt.duration_ms")
	AttrStatus         = attribute.Key("labhooks.delivery.status")
	AttrHTTPStatus     = attribute.Key("http.response.status_code")
	AttrClaimLimit     = attribute.Key("labhooks.claim.limit")
	AttrClaimed        = attribute.Key("labhooks.claim.claimed")
)

// Tracer returns the tracer of tp, or nil when tracing is off (tp is nil
// or a no-op provider): callers then skip tracing altogether, so that off
// costs nothing.
func Tracer(tp trace.TracerProvider) trace.Tracer {
	switch tp.(type) {
	case nil, noop.TracerProvider:
		return nil
	}
	return tp.Tracer(Scope)
}

// off is the span of everything traced while tracing is off.
var off = trace.SpanFromContext(context.Background())

// Start starts a span with tracer, or, when tracer is nil (tracing off),
// returns ctx and a span that does nothing, at no cost.
func Start(ctx context.Context, tracer trace.Tracer, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if tracer == nil {
		return ctx, off
	}
	return tracer.Start(ctx, name, opts...)
}

// Format returns sc as a W3C traceparent, "" when sc is invalid.
func Format(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	return fmt.Sprintf("00-%s-%s-%02x", sc.TraceID(), sc.SpanID(), byte(sc.TraceFlags()))
}

// Parse reads a W3C traceparent as a remote span context; invalid when
// traceparent is empty or malformed (it is then ignored, as the W3C
// recommendation says).
func Parse(traceparent string) trace.SpanContext {
	if traceparent == "" {
		return trace.SpanContext{}
	}
	ctx := propagation.TraceContext{}.Extract(context.Background(), carrier(traceparent))
	return trace.SpanContextFromContext(ctx)
}

// carrier is a TextMapCarrier holding just a traceparent.
type carrier string

func (c carrier) Get(key string) string {
	if key == "traceparent" {
		return string(c)
	}
	return ""
}
func (carrier) Set(string, string) {}
func (carrier) Keys() []string     { return []string{"traceparent"} }

// Config says where spans go.
type Config struct {
	// Endpoint is the OTLP/HTTP collector's base URL, such as
	// http://127.0.0.1:4318 (--otel-endpoint). Empty: the standard OTEL_*
	// variables decide.
	Endpoint string
	// Version is labhooks' version, for the service.version attribute.
	Version string
	// Getenv reads the environment; default os.Getenv.
	Getenv func(string) string
}

// Enabled reports whether c turns tracing on: an endpoint, or
// OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT or OTEL_TRACES_EXPORTER=otlp, unless
// OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none.
func (c Config) Enabled() bool {
	env := c.getenv()
	if strings.EqualFold(env("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	if c.Endpoint != "" {
		return true
	}
	switch exp := strings.ToLower(strings.TrimSpace(env("OTEL_TRACES_EXPORTER"))); exp {
	case "none":
		return false
	case "otlp":
		return true
	}
	return env("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

func (c Config) getenv() func(string) string {
	if c.Getenv != nil {
		return c.Getenv
	}
	return os.Getenv
}

// Check reports what is wrong with c, for a clear error at start.
func (c Config) Check() error {
	env := c.getenv()
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("want the collector's OTLP/HTTP base URL, such as http://127.0.0.1:4318")
		}
	}
	if !c.Enabled() {
		return nil
	}
	switch exp := strings.ToLower(strings.TrimSpace(env("OTEL_TRACES_EXPORTER"))); exp {
	case "", "otlp":
	default:
		return fmt.Errorf("OTEL_TRACES_EXPORTER=%s: labhooks exports with otlp only (or none)", exp)
	}
	for _, v := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := env(v); p != "" && p != "http/protobuf" {
			return fmt.Errorf("%s=%s: labhooks exports OTLP over http/protobuf only", v, p)
		}
	}
	return nil
}

// Setup returns the tracer provider c asks for and the function that
// flushes and stops it; a no-op provider when tracing is off.
func Setup(ctx context.Context, c Config) (trace.TracerProvider, func(context.Context) error, error) {
	if !c.Enabled() {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	if err := c.Check(); err != nil {
		return nil, nil, err
	}
	var opts []otlptracehttp.Option
	if c.Endpoint != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(strings.TrimSuffix(c.Endpoint, "/")+"/v1/traces"))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "labhooks"), attribute.String("service.version", c.Version)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, nil, fmt.Errorf("OTel resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return tp, tp.Shutdown, nil
}
