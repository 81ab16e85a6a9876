package tracing

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func env(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }

// Tracing is on only when asked for, by flag or by the standard variables.
func TestEnabled(t *testing.T) {
	for _, c := range []struct {
		endpoint string
		vars     map[string]string
		want     bool
	}{
		{"", nil, false},
		{"http://127.0.0.1:4318", nil, true},
		{"", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true},
		{"", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true},
		{"", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true},
		{"", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"}, false},
		{"http://127.0.0.1:4318", map[string]string{"OTEL_SDK_DISABLED": "true"}, false},
	} {
		if got := (Config{Endpoint: c.endpoint, Getenv: env(c.vars)}).Enabled(); got != c.want {
			t.Errorf("Enabled(%q, %v) = %v, want %v", c.endpoint, c.vars, got, c.want)
		}
	}
}

// A configuration labhooks cannot honour is refused with a clear error.
func TestCheck(t *testing.T) {
	for _, c := range []Config{
		{Endpoint: "127.0.0.1:4318"},
		{Endpoint: "grpc://collector:4317"},
		{Getenv: env(map[string]string{"OTEL_TRACES_EXPORTER": "zipkin", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})},
		{Endpoint: "http://127.0.0.1:4318", Getenv: env(map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})},
	} {
		if c.Getenv == nil {
			c.Getenv = env(nil)
		}
		if err := c.Check(); err == nil {
			t.Errorf("Check(%+v) = nil, want an error", c)
		}
		if _, _, err := Setup(context.Background(), c); err == nil && c.Enabled() {
			t.Errorf("Setup(%+v) started", c)
		}
	}
	if err := (Config{Endpoint: "https://otel.example.org", Getenv: env(nil)}).Check(); err != nil {
		t.Errorf("a good endpoint: %v", err)
	}
}

// Setup starts the SDK when asked to, and a no-op provider otherwise;
// nothing is exported before a span ends, so no collector is needed.
func TestSetup(t *testing.T) {
	tp, stop, err := Setup(context.Background(), Config{Getenv: env(nil)})
	if err != nil || Tracer(tp) != nil {
		t.Fatalf("tracing off: %v, tracer %v; want none", err, Tracer(tp))
	}
	if _, ok := tp.(*sdktrace.TracerProvider); ok {
		t.Error("tracing off started the SDK")
	}
	stop(context.Background())
	tp, stop, err = Setup(context.Background(), Config{Endpoint: "http://127.0.0.1:4318", Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tp.(*sdktrace.TracerProvider); !ok || Tracer(tp) == nil {
		t.Errorf("tracing on gave %T", tp)
	}
	if err := stop(context.Background()); err != nil {
		t.Error(err)
	}
}

// Format and Parse are each other's inverse; a malformed traceparent is
// ignored.
func TestTraceparent(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	if got := Format(Parse(tp)); got != tp {
		t.Errorf("Format(Parse(%q)) = %q", tp, got)
	}
	for _, bad := range []string{"", "00-zz", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "garbage"} {
		if Parse(bad).IsValid() || Format(Parse(bad)) != "" {
			t.Errorf("Parse(%q) is valid", bad)
		}
	}
}
