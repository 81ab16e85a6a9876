package main

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/sqlite"
	"github.com/labhooks/labhooks/tracing"
)

// obsInstance runs labhooks as serve wires it over the SQLite file db, with
// a real HTTP server on 127.0.0.1.
type obsInstance struct {
	*instance
	url string
	// shutdown stops the instance, flushing its spans, and closes its store.
	shutdown func()
}

func startObs(t *testing.T, db string, cfg serveConfig, log *slog.Logger) *obsInstance {
	t.Helper()
	store, err := sqlite.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	cfg.allowPrivate, cfg.timeout, cfg.perDataLink, cfg.disableAfter = true, 5*time.Second, 2, labhooks.DefaultDisableAfter
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	in, err := newInstance(t.Context(), cfg, store, nil, labhooks.KeyHash(cliAdminKey), log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(in.handler)
	in.start()
	var once sync.Once
	shutdown := func() { once.Do(func() { srv.Close(); in.stop(); store.Close() }) }
	t.Cleanup(shutdown)
	return &obsInstance{instance: in, url: srv.URL, shutdown: shutdown}
}

// headerRecorder is a receiver on 127.0.0.1 that keeps each request's
// traceparent and answers with the next of codes (the last one repeats).
type headerRecorder struct {
	*httptest.Server
	mu          sync.Mutex
	traceparent []string
}

func newHeaderRecorder(t *testing.T, codes ...int) *headerRecorder {
	rc := &headerRecorder{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		n := len(rc.traceparent)
		rc.traceparent = append(rc.traceparent, r.Header.Get("Traceparent"))
		rc.mu.Unlock()
		w.WriteHeader(codes[min(n, len(codes)-1)])
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *headerRecorder) got() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.traceparent...)
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// emitHTTP POSTs an event to /v1/events with the admin key and headers.
func emitHTTP(t *testing.T, base, body string, header map[string]string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+cliAdminKey)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("emit: %d %s", resp.StatusCode, b)
	}
}

const sampleReceivedBody = `{"eventName":"sampleReceived","data":{"dashboardUrl":"https://dashboard.daslab.app/labs/1/samples/PAYLOAD-MARKER-4711","sampleId":123,"appointmentId":45,"locationId":6}}`

// emitterTraceparent is the trace context of the platform's own span that
// emits the event.
const emitterTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func attr(s sdktrace.ReadOnlySpan, key string) (string, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String(), true
		}
	}
	return "", false
}

// The emit's span continues the emitter's trace; after a restart, another
// process's attempt spans are children of that emit span, found through the
// traceparent stored with the event, carry the delivery's IDs, status and
// attempt number, and are linked to their claim's span; the receiver gets
// each attempt's traceparent.
func TestTracingLinksAttemptsToEmitAcrossRestart(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "labhooks.db")
	rc := newHeaderRecorder(t, http.StatusServiceUnavailable, http.StatusOK)

	// The API process: it emits, and delivers nothing (--workers 0).
	emits := tracetest.NewInMemoryExporter()
	api := startObs(t, db, serveConfig{retrySchedule: "50ms", workers: 0,
		tracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSyncer(emits))}, nil)
	admin := &app.Caller{Admin: true}
	lab, err := api.app.CreatePartner(t.Context(), admin, app.PartnerInput{Name: "Central Lab", Role: labhooks.RoleLab})
	if err != nil {
		t.Fatal(err)
	}
	link, err := api.app.CreateDataLink(t.Context(), admin, lab.ID, app.DataLinkInput{URL: rc.URL + "/hook"})
	if err != nil {
		t.Fatal(err)
	}
	emitHTTP(t, api.url, sampleReceivedBody, map[string]string{"Traceparent": emitterTraceparent})
	api.shutdown()

	spans := emits.GetSpans()
	if len(spans) != 1 || spans[0].Name != tracing.SpanEmit {
		t.Fatalf("API process spans = %v, want one %s", spans, tracing.SpanEmit)
	}
	emit := spans[0]
	emitter := tracing.Parse(emitterTraceparent)
	if emit.SpanContext.TraceID() != emitter.TraceID() || emit.Parent.SpanID() != emitter.SpanID() || !emit.Parent.IsRemote() {
		t.Fatalf("emit span %s parent %s: want a child of the emitter's %s", emit.SpanContext.SpanID(), emit.Parent.SpanID(), emitterTraceparent)
	}

	// The worker process, started on the same database after the API
	// process has stopped.
	attempts := tracetest.NewInMemoryExporter()
	worker := startObs(t, db, serveConfig{retrySchedule: "50ms", workers: 4,
		tracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSyncer(attempts))}, nil)
	waitFor(t, "two attempts", func() bool { return len(rc.got()) >= 2 })
	waitFor(t, "the attempts' spans", func() bool {
		n := 0
		for _, s := range attempts.GetSpans() {
			if s.Name == tracing.SpanAttempt {
				n++
			}
		}
		return n >= 2
	})
	worker.shutdown()

	claims := map[trace.SpanID]bool{}
	var tried []tracetest.SpanStub
	for _, s := range attempts.GetSpans() {
		switch s.Name {
		case tracing.SpanClaim:
			claims[s.SpanContext.SpanID()] = true
		case tracing.SpanAttempt:
			tried = append(tried, s)
		}
	}
	if len(tried) != 2 {
		t.Fatalf("%d attempt spans, want 2", len(tried))
	}
	wantEventID, _ := attr(spans.Snapshots()[0], string(tracing.AttrEventID))
	sent := rc.got()
	for i, s := range tried {
		if s.SpanContext.TraceID() != emitter.TraceID() || s.Parent.SpanID() != emit.SpanContext.SpanID() {
			t.Errorf("attempt %d: trace %s parent %s, want a child of the emit span %s in trace %s",
				i+1, s.SpanContext.TraceID(), s.Parent.SpanID(), emit.SpanContext.SpanID(), emitter.TraceID())
		}
		if len(s.Links) != 1 || !claims[s.Links[0].SpanContext.SpanID()] {
			t.Errorf("attempt %d: links %v, want its claim's span", i+1, s.Links)
		}
		ro := tracetest.SpanStubs{s}.Snapshots()[0]
		want := map[string]string{
			string(tracing.AttrDataLinkID): link.ID, string(tracing.AttrPartnerID): lab.ID,
			string(tracing.AttrEventID): wantEventID, string(tracing.AttrEventName): "sampleReceived",
			string(tracing.AttrAttemptNumber): []string{"1", "2"}[i],
			string(tracing.AttrHTTPStatus):    []string{"503", "200"}[i],
			string(tracing.AttrStatus):        []string{"pending", "succeeded"}[i],
		}
		for k, v := range want {
			if got, _ := attr(ro, k); got != v {
				t.Errorf("attempt %d: %s = %q, want %q", i+1, k, got, v)
			}
		}
		for _, k := range []string{string(tracing.AttrDeliveryID), string(tracing.AttrDurationMs)} {
			if got, ok := attr(ro, k); !ok || got == "" {
				t.Errorf("attempt %d: no %s", i+1, k)
			}
		}
		if got := tracing.Format(s.SpanContext); sent[i] != got {
			t.Errorf("receiver got traceparent %q on attempt %d, want the attempt span's %q", sent[i], i+1, got)
		}
	}
	if wantEventID == "" {
		t.Error("the emit span has no event ID")
	}
}

// With tracing off, the emitter's traceparent still reaches the receiver,
// unchanged, and an emit without one sends none.
func TestTracingOffPassesTraceparentThrough(t *testing.T) {
	t.Parallel()
	rc := newHeaderRecorder(t, http.StatusOK)
	in := startObs(t, filepath.Join(t.TempDir(), "labhooks.db"), serveConfig{retrySchedule: "1h", workers: 2}, nil)
	admin := &app.Caller{Admin: true}
	lab, err := in.app.CreatePartner(t.Context(), admin, app.PartnerInput{Name: "Central Lab", Role: labhooks.RoleLab})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.app.CreateDataLink(t.Context(), admin, lab.ID, app.DataLinkInput{URL: rc.URL + "/hook"}); err != nil {
		t.Fatal(err)
	}
	emitHTTP(t, in.url, sampleReceivedBody, map[string]string{"Traceparent": emitterTraceparent})
	waitFor(t, "the first delivery", func() bool { return len(rc.got()) == 1 })
	emitHTTP(t, in.url, sampleReceivedBody, map[string]string{"Traceparent": "00-not-a-traceparent"})
	waitFor(t, "the second delivery", func() bool { return len(rc.got()) == 2 })
	if got := rc.got(); got[0] != emitterTraceparent || got[1] != "" {
		t.Fatalf("traceparents sent = %q, want [%q, \"\"]", got, emitterTraceparent)
	}
}

// --log-format json: every line is a JSON object; each line about a
// delivery names its delivery, event and data link; no line holds the
// payload, the data link's secret or URL, or the admin key.
func TestJSONLogsOfFailingDeliveries(t *testing.T) {
	t.Parallel()
	rc := newHeaderRecorder(t, http.StatusInternalServerError)
	var out syncBuffer
	cfg := serveConfig{logLevel: "debug", logFormat: "json", retrySchedule: "20ms,20ms", workers: 4}
	in := startObs(t, filepath.Join(t.TempDir(), "labhooks.db"), cfg, cfg.logger(&out))
	admin := &app.Caller{Admin: true}
	lab, err := in.app.CreatePartner(t.Context(), admin, app.PartnerInput{Name: "Central Lab", Role: labhooks.RoleLab})
	if err != nil {
		t.Fatal(err)
	}
	const secret = "whsec_c2VjcmV0LW9mLXRoZS1sYWItbm90LXRvLWJlLWxvZ2dlZA=="
	link, err := in.app.CreateDataLink(t.Context(), admin, lab.ID, app.DataLinkInput{URL: rc.URL + "/hook-path-marker", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		emitHTTP(t, in.url, sampleReceivedBody, nil)
	}
	// 3 events × (1 attempt + 2 retries), all failing.
	waitFor(t, "nine failed attempts", func() bool { return strings.Count(out.String(), `"deliveryId"`) >= 9 })
	in.shutdown()

	log := out.String()
	for _, leak := range []string{"PAYLOAD-MARKER-4711", "sampleId", secret, "c2VjcmV0LW9mLXRoZS1sYWI", "hook-path-marker", cliAdminKey} {
		if strings.Contains(log, leak) {
			t.Errorf("the log holds %q:\n%s", leak, log)
		}
	}
	deliveries, final := map[string]bool{}, 0
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		if _, ok := line["deliveryId"]; !ok {
			continue
		}
		if line["eventId"] == nil || line["eventId"] == "" || line["datalinkId"] != link.ID || line["partnerId"] != lab.ID {
			t.Errorf("a line about delivery %v lacks its IDs: %s", line["deliveryId"], sc.Text())
		}
		if line["statusCode"] != float64(500) || line["error"] != "HTTP 500" {
			t.Errorf("a failed attempt's line does not say what came back: %s", sc.Text())
		}
		deliveries[line["deliveryId"].(string)] = true
		if line["status"] == "failed" {
			final++
			if line["level"] != "WARN" {
				t.Errorf("a delivery failed for good at level %v: %s", line["level"], sc.Text())
			}
		}
	}
	if len(deliveries) != 3 || final != 3 {
		t.Errorf("lines about %d deliveries, %d failed for good; want 3 and 3:\n%s", len(deliveries), final, log)
	}
}
