package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/delivery"
	"github.com/labhooks/labhooks/metrics"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	return string(body)
}

func TestMetricsCountWhatHappened(t *testing.T) {
	m := metrics.New(func(context.Context) (int64, error) { return 42, nil })
	m.Accepted(&labhooks.Event{EventName: "sampleReceived"}, 3)
	m.Accepted(&labhooks.Event{EventName: "sampleReceived"}, 2)
	created := time.Now().Add(-2 * time.Second)
	job := &labhooks.Job{CreatedAt: created}
	m.Attempted(job, &delivery.Result{StartedAt: created, Duration: 30 * time.Millisecond, StatusCode: 500}, labhooks.DeliveryPending)
	m.Attempted(job, &delivery.Result{StartedAt: created.Add(time.Second), Duration: 20 * time.Millisecond, StatusCode: 204}, labhooks.DeliverySucceeded)
	m.Attempted(job, &delivery.Result{StartedAt: created, Err: errors.New("boom")}, labhooks.DeliveryFailed)
	out := scrape(t, m)
	for _, want := range []string{
		`labhooks_events_accepted_total{event_name="sampleReceived"} 2`,
		`labhooks_deliveries_created_total 5`,
		`labhooks_attempts_total{outcome="5xx"} 1`,
		`labhooks_attempts_total{outcome="2xx"} 1`,
		`labhooks_attempts_total{outcome="other"} 1`,
		`labhooks_deliveries_finished_total{status="succeeded"} 1`,
		`labhooks_deliveries_finished_total{status="failed"} 1`,
		`labhooks_delivery_latency_seconds_count 1`,
		`labhooks_attempt_duration_seconds_count 3`,
		`labhooks_queue_pending 42`,
		`go_goroutines`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestQueueDepthErrorShowsAsMinusOne(t *testing.T) {
	m := metrics.New(func(context.Context) (int64, error) { return 0, errors.New("database down") })
	if out := scrape(t, m); !strings.Contains(out, "labhooks_queue_pending -1") {
		t.Error("an unreadable queue depth should read -1")
	}
}
