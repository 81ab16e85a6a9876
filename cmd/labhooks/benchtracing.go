package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/labhooks/labhooks/internal/loadgen"
)

// otlpSink is an OTLP/HTTP collector on 127.0.0.1 that takes every export
// and keeps only its count and size: bench's tracing-on runs export their
// spans through the real exporter, over HTTP, to it.
type otlpSink struct {
	srv             *http.Server
	url             string
	exports, nbytes atomic.Int64
}

func startOTLPSink() (*otlpSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &otlpSink{url: "http://" + ln.Addr().String()}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		s.exports.Add(1)
		s.nbytes.Add(n)
		// An empty ExportTraceServiceResponse: everything accepted.
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})}
	go s.srv.Serve(ln)
	return s, nil
}

func (s *otlpSink) Close() { s.srv.Close() }

// benchTracing runs the scenario --tracing-runs times each with tracing
// off and on, alternating (off, on, off, on, …) so that drift in the
// machine falls on both, and reports the last on run with the medians of
// both series.
func benchTracing(ctx context.Context, cfg benchConfig, progress *loadgen.Progress) (*loadgen.Report, error) {
	sink, err := startOTLPSink()
	if err != nil {
		return nil, err
	}
	defer sink.Close()
	var off, on []*loadgen.Report
	for range cfg.tracingRuns {
		cfg.otelEndpoint = ""
		rep, err := benchRun(ctx, cfg, cfg.scenario, 0, 0, progress)
		if err != nil {
			return nil, err
		}
		off = append(off, rep)
		cfg.otelEndpoint = sink.url
		if rep, err = benchRun(ctx, cfg, cfg.scenario, 0, 0, progress); err != nil {
			return nil, err
		}
		on = append(on, rep)
	}
	rep := on[len(on)-1]
	rep.Tracing = &loadgen.TracingComparison{Runs: cfg.tracingRuns, Exports: sink.exports.Load(), ExportedBytes: sink.nbytes.Load()}
	for _, r := range off {
		rep.Tracing.OffPerSec = append(rep.Tracing.OffPerSec, r.DeliveredPerSec)
		rep.Tracing.OffP99Ms = append(rep.Tracing.OffP99Ms, r.P99Ms)
	}
	for _, r := range on {
		rep.Tracing.OnPerSec = append(rep.Tracing.OnPerSec, r.DeliveredPerSec)
		rep.Tracing.OnP99Ms = append(rep.Tracing.OnP99Ms, r.P99Ms)
	}
	return rep, nil
}
