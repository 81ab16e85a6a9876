package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/catalog"
	"github.com/labhooks/labhooks/delivery"
	"github.com/labhooks/labhooks/httpapi"
	"github.com/labhooks/labhooks/metrics"
)

// instance is labhooks wired in this process as serve, demo and bench run
// it: the catalog, the sender, the delivery engine (nil with --workers 0),
// the API with the dashboard, and the metrics.
type instance struct {
	store   labhooks.Store
	engine  *delivery.Engine
	metrics *metrics.Metrics
	// handler serves the API, the dashboard and /metrics.
	handler http.Handler

	stopEngine context.CancelFunc
	running    sync.WaitGroup
	startOnce  sync.Once
}

// wakeListener is a store that can tell when any process stores deliveries
// due now (the PostgreSQL store), so idle engines wake at once rather than
// at their next poll.
type wakeListener interface {
	Listen(ctx context.Context, notify func()) error
}

// wakeListenerOf returns the wakeListener store is, or wraps.
func wakeListenerOf(store labhooks.Store) (wakeListener, bool) {
	for {
		if l, ok := store.(wakeListener); ok {
			return l, true
		}
		w, ok := store.(interface{ Unwrap() labhooks.Store })
		if !ok {
			return nil, false
		}
		store = w.Unwrap()
	}
}

// newInstance wires labhooks over store. adminHash is the admin key's hash;
// the engine does not run until start.
func newInstance(ctx context.Context, cfg serveConfig, store labhooks.Store, adminHash []byte, log *slog.Logger) (*instance, error) {
	custom, err := store.EventTypes(ctx)
	if err != nil {
		return nil, err
	}
	cat, err := catalog.New(custom)
	if err != nil {
		return nil, fmt.Errorf("loading the event catalog: %w", err)
	}
	in := &instance{store: store, metrics: metrics.New(queueDepth(store))}
	sender := newSender(cfg)
	notify := func() {}
	if cfg.workers > 0 {
		in.engine = newEngine(cfg, store, sender, in.metrics, log)
		notify = in.engine.Notify
		if _, ok := wakeListenerOf(store); ok {
			// This process's new deliveries wake its engine through the
			// store's LISTEN, as every other process's do, at a bounded rate.
			notify = func() {}
		}
	}
	api := httpapi.NewServer(httpapi.Config{
		Store: store, Catalog: cat, Sender: sender, AdminKeyHash: adminHash, Notify: notify,
		AllowHTTPTargets: cfg.allowPrivate, Logger: log, OnAccepted: in.metrics.Accepted, SessionKey: []byte(cfg.sessionKey),
	})
	root := http.NewServeMux()
	root.Handle("GET /metrics", in.metrics.Handler())
	root.Handle("/", api)
	in.handler = root
	return in, nil
}

func newSender(cfg serveConfig) *delivery.Sender {
	return delivery.NewSender(delivery.SenderConfig{
		Timeout: cfg.timeout, AllowPrivateTargets: cfg.allowPrivate, UserAgent: "labhooks/" + version,
	})
}

func newEngine(cfg serveConfig, store labhooks.Store, sender *delivery.Sender, m *metrics.Metrics, log *slog.Logger) *delivery.Engine {
	schedule, _ := labhooks.ParseRetrySchedule(cfg.retrySchedule) // checked by serveConfig.check
	return delivery.NewEngine(delivery.EngineConfig{
		Store: store, Sender: sender, Logger: log, OnAttempt: m.Attempted,
		Policy:      labhooks.RetryPolicy{Schedule: schedule, Jitter: 0.2},
		MaxInFlight: cfg.workers, PerDataLink: cfg.perDataLink, DisableAfter: cfg.disableAfter,
	})
}

// start runs the engine, and the store's wake-ups, until stop; once.
func (in *instance) start() {
	if in.engine == nil {
		return
	}
	in.startOnce.Do(func() {
		in.stopEngine = runEngine(&in.running, in.engine, in.store)
	})
}

// runEngine runs engine, and store's wake-ups if it has them, in wg until
// the returned function is called; attempts in flight then finish and are
// recorded.
func runEngine(wg *sync.WaitGroup, engine *delivery.Engine, store labhooks.Store) context.CancelFunc {
	ctx, cancel := context.WithCancel(context.Background())
	wg.Go(func() { engine.Run(ctx) })
	if l, ok := wakeListenerOf(store); ok {
		wg.Go(func() { l.Listen(ctx, engine.Notify) })
	}
	return cancel
}

// stop stops the engine and waits for the attempts in flight.
func (in *instance) stop() {
	if in.stopEngine != nil {
		in.stopEngine()
	}
	in.running.Wait()
}

// queueDepth reads the number of pending deliveries for the metrics gauge.
func queueDepth(store labhooks.Store) metrics.QueueDepth {
	return func(ctx context.Context) (int64, error) {
		h, err := store.Health(ctx, time.Now())
		if err != nil {
			return 0, err
		}
		return int64(h.QueueDepth), nil
	}
}
