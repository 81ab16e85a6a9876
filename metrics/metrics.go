// Package metrics exposes labhooks' Prometheus metrics at /metrics: events
// accepted, attempts and their outcomes and durations, deliveries finished
// and their end-to-end latency, attempts in flight, and the queue's depth.
// Other packages report through plain functions (delivery.EngineConfig's
// OnAttempt, app.Config's OnAccepted), so only this package depends on
// the Prometheus client.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/delivery"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds labhooks' collectors, registered on their own registry.
type Metrics struct {
	reg             *prometheus.Registry
	eventsAccepted  *prometheus.CounterVec
	deliveriesMade  prometheus.Counter
	attempts        *prometheus.CounterVec
	attemptDuration prometheus.Histogram
	finished        *prometheus.CounterVec
	latency         prometheus.Histogram
}

// QueueDepth reports how many deliveries are pending; it backs a gauge read
// at each scrape.
type QueueDepth func(ctx context.Context) (int64, error)

// New returns the metrics, with Go runtime and process collectors, and a
// queue-depth gauge read through depth (nil: none).
func New(depth QueueDepth) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		eventsAccepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "labhooks_events_accepted_total", Help: "Events accepted with 202, by event name (idempotent replays not counted).",
		}, []string{"event_name"}),
		deliveriesMade: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "labhooks_deliveries_created_total", Help: "Deliveries created by accepted events.",
		}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "labhooks_attempts_total", Help: "Delivery attempts by outcome class: 2xx, 3xx, 4xx, 5xx, or the failure (timeout, refused, dns, tls, blocked, reset, unreachable, other).",
		}, []string{"outcome"}),
		attemptDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "labhooks_attempt_duration_seconds", Help: "How long receivers took to answer an attempt.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "labhooks_deliveries_finished_total", Help: "Deliveries that ended, by final status (succeeded or failed).",
		}, []string{"status"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "labhooks_delivery_latency_seconds", Help: "From an event's acceptance to its delivery's success.",
			Buckets: prometheus.ExponentialBuckets(0.001, 3, 14),
		}),
	}
	m.reg.MustRegister(m.eventsAccepted, m.deliveriesMade, m.attempts, m.attemptDuration, m.finished, m.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if depth != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "labhooks_queue_pending", Help: "Deliveries pending: waiting for an attempt, in flight, or waiting to retry.",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := depth(ctx)
			if err != nil {
				return -1
			}
			return float64(n)
		}))
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Accepted counts an accepted event and the deliveries it created.
func (m *Metrics) Accepted(e *labhooks.Event, deliveries int) {
	m.eventsAccepted.WithLabelValues(e.EventName).Inc()
	m.deliveriesMade.Add(float64(deliveries))
}

// Attempted counts one attempt, and the delivery's end when it ended.
func (m *Metrics) Attempted(j *labhooks.Job, res *delivery.Result, status labhooks.DeliveryStatus) {
	m.attempts.WithLabelValues(res.Outcome()).Inc()
	m.attemptDuration.Observe(res.Duration.Seconds())
	switch status {
	case labhooks.DeliverySucceeded:
		m.finished.WithLabelValues(string(status)).Inc()
		m.latency.Observe(res.StartedAt.Add(res.Duration).Sub(j.CreatedAt).Seconds())
	case labhooks.DeliveryFailed:
		m.finished.WithLabelValues(string(status)).Inc()
	}
}
