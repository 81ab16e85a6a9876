package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/catalog"
	"github.com/labhooks/labhooks/dashboard"
	"github.com/labhooks/labhooks/delivery"
	"github.com/labhooks/labhooks/httpapi"
	"github.com/labhooks/labhooks/internal/remote"
	"github.com/labhooks/labhooks/metrics"
	"github.com/labhooks/labhooks/tracing"
)

// instance is labhooks wired in this process as serve, worker, demo and
// bench run it: the catalog, the application layer, the delivery engine
// (nil with --workers 0), the API and the dashboard, and the metrics.
type instance struct {
	store   labhooks.Store
	app     *app.Service
	engine  *delivery.Engine
	metrics *metrics.Metrics
	// handler serves the API, the dashboard and /metrics.
	handler http.Handler

	// auditRetention is how long audit entries are kept; 0 keeps them.
	auditRetention time.Duration
	// purgeInterval is how often retention and erasure run; 0: never.
	purgeInterval time.Duration
	// notifyInterval is how often notifications are decided and sent.
	notifyInterval time.Duration
	log            *slog.Logger

	// stopTracing flushes and stops the tracer provider newInstance set up.
	stopTracing func(context.Context) error

	stopEngine context.CancelFunc
	running    sync.WaitGroup
	startOnce  sync.Once
}

// newInstance wires labhooks over store; due is the store's wake-ups when it
// has them (PostgreSQL), else nil. adminHash is the admin key's hash. The
// engine does not run until start.
func newInstance(ctx context.Context, cfg serveConfig, store labhooks.Store, due labhooks.DueListener, adminHash []byte, log *slog.Logger) (*instance, error) {
	custom, err := store.EventTypes(ctx)
	if err != nil {
		return nil, err
	}
	cat, err := catalog.New(custom)
	if err != nil {
		return nil, fmt.Errorf("loading the event catalog: %w", err)
	}
	schedule, _ := labhooks.ParseRetrySchedule(cfg.retrySchedule) // checked by serveConfig.check
	policy := labhooks.RetryPolicy{Schedule: schedule, Jitter: labhooks.DefaultJitter}
	sender := delivery.NewSender(delivery.SenderConfig{
		Timeout: cfg.timeout, AllowPrivateTargets: cfg.allowPrivate, UserAgent: "labhooks/" + version,
	})
	in := &instance{store: store, metrics: metrics.New(queueDepth(store)), stopTracing: func(context.Context) error { return nil }}
	tp := cfg.tracerProvider
	if tp == nil {
		if tp, in.stopTracing, err = tracing.Setup(ctx, cfg.tracingConfig()); err != nil {
			return nil, fmt.Errorf("--otel-endpoint (LABHOOKS_OTEL_ENDPOINT): %w", err)
		}
		if cfg.tracingConfig().Enabled() {
			log.Info("tracing on: spans go to the OTLP collector", "endpoint", cmp.Or(cfg.otelEndpoint, "from OTEL_* variables"))
		}
	}
	acfg := app.Config{
		TracerProvider: tp,
		Store:          store, Catalog: cat, Sender: sender, AdminKeyHash: adminHash, Policy: policy,
		DisableAfter: cfg.disableAfter, AllowHTTPTargets: cfg.allowPrivate, OnAccepted: in.metrics.Accepted, Logger: log,
		Retention: time.Duration(cfg.retention), History: time.Duration(cfg.history), ErasureDeadline: time.Duration(cfg.erasureDeadline),
		NotifyOperator: cfg.notifyOperator, NotifyFailingAfter: cfg.notifyFailingAfter, NotifyRetry: cfg.notifyInterval, PublicURL: cfg.publicURL,
	}
	mailer, err := cfg.mailer() // checked by serveConfig.check
	if err != nil {
		return nil, usageError{err}
	}
	if mailer != nil {
		acfg.Mailer = mailer
		log.Info("notification emails go through SMTP", "server", mailer.Address())
	}
	if cfg.workers > 0 && due == nil {
		// Without a store's wake-ups, new deliveries wake this process's
		// engine directly; with them, every process's wake through the
		// store, at a bounded rate.
		acfg.Wake = func() { in.engine.Notify() }
	}
	in.app = app.New(acfg)
	if cfg.workers > 0 {
		// A store that hands deliveries over as it stores them (both do)
		// spares the engine a claim for each.
		fresh, _ := store.(labhooks.FreshQueue)
		in.engine = delivery.NewEngine(delivery.EngineConfig{
			Queue: store, Due: due, Fresh: fresh, Sender: sender, Policy: policy, Disabler: in.app,
			MaxInFlight: cfg.workers, PerDataLink: cfg.perDataLink, OnAttempt: in.attempted, Logger: log,
			DisableCheckInterval: disableCheckInterval(cfg.disableAfter), TracerProvider: tp,
		})
	}
	proxies, _ := remote.ParseProxies(cfg.trustedProxies) // checked by serveConfig.check
	in.auditRetention = time.Duration(cfg.auditRetention)
	in.purgeInterval = cfg.purgeInterval
	in.notifyInterval = cfg.notifyInterval
	api := httpapi.NewServer(httpapi.Config{App: in.app, Logger: log, TrustedProxies: proxies})
	root := http.NewServeMux()
	root.Handle("GET /metrics", in.metrics.Handler())
	for _, p := range httpapi.Paths {
		root.Handle(p, api)
	}
	root.Handle("/", dashboard.New(dashboard.Config{App: in.app, SessionKey: []byte(cfg.sessionKey), Dir: cfg.dashboardDir, Logger: log,
		TrustedProxies: proxies}))
	in.log = log
	in.handler = root
	return in, nil
}

// disableCheckInterval is how often the engine looks for links to
// disable: labhooks.DefaultDisableCheckInterval, or a tenth of
// --disable-after when that is shorter, so that a short --disable-after
// (tests, demonstrations) disables on time.
func disableCheckInterval(disableAfter time.Duration) time.Duration {
	return max(min(labhooks.DefaultDisableCheckInterval, disableAfter/10), 10*time.Millisecond)
}

// start runs the engine and the audit log's purge until stop; once.
func (in *instance) start() {
	in.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		in.stopEngine = cancel
		if in.engine != nil {
			in.running.Go(func() { in.engine.Run(ctx) })
		}
		if in.auditRetention > 0 {
			in.running.Go(func() { in.purgeAudit(ctx) })
		}
		if in.purgeInterval > 0 {
			in.running.Go(func() { in.purge(ctx) })
		}
		if in.notifyInterval > 0 {
			in.running.Go(func() { in.notify(ctx) })
		}
	})
}

// purge applies retention and erasure (app.Service.Purge) every
// purgeInterval, the first time one interval after start (a start has
// enough to do), until ctx ends.
func (in *instance) purge(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(in.purgeInterval):
		}
		r, err := in.app.Purge(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			in.log.Error("purging old payloads and history", "err", err)
		case r.Erased > 0 || r.Deleted > 0 || r.Erasures > 0 || r.Notifications > 0:
			in.log.Info("purged", "payloadsErased", r.Erased, "eventsDeleted", r.Deleted, "usersErased", r.Erasures, "notificationsDeleted", r.Notifications)
		}
	}
}

// notify decides and sends notifications (app.Service.ScanNotifications
// and SendNotifications) every notifyInterval, the first time at start
// (notifications a crash left pending go out then), until ctx ends.
func (in *instance) notify(ctx context.Context) {
	for {
		if _, err := in.app.ScanNotifications(ctx); err != nil && ctx.Err() == nil {
			in.log.Error("deciding notifications", "err", err)
		}
		if _, err := in.app.SendNotifications(ctx); err != nil && ctx.Err() == nil {
			in.log.Error("sending notifications", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(in.notifyInterval):
		}
	}
}

// auditPurgeInterval is how often old audit entries are purged.
const auditPurgeInterval = time.Hour

// purgeAudit deletes audit entries older than the retention, at start and
// then hourly, until ctx ends.
func (in *instance) purgeAudit(ctx context.Context) {
	for {
		n, err := in.app.PurgeAudit(ctx, in.auditRetention)
		switch {
		case err != nil && ctx.Err() == nil:
			in.log.Error("purging old audit entries", "err", err)
		case n > 0:
			in.log.Info("purged old audit entries", "deleted", n, "retention", in.auditRetention)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(auditPurgeInterval):
		}
	}
}

// stop stops the engine and waits for the attempts in flight to finish and
// be recorded.
func (in *instance) stop() {
	if in.stopEngine != nil {
		in.stopEngine()
	}
	in.running.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := in.stopTracing(ctx); err != nil {
		in.log.Warn("flushing traces to the OTLP collector", "err", err)
	}
}

// attempted is told of every attempt (delivery.EngineConfig.OnAttempt): it
// counts it in the metrics and logs a failed one with its delivery's, event's
// and data link's IDs, never the payload, the URL or a secret.
func (in *instance) attempted(j *labhooks.Job, res *delivery.Result, status labhooks.DeliveryStatus) {
	in.metrics.Attempted(j, res, status)
	if res.OK() {
		in.log.Debug("delivered", deliveryAttrs(j, res, status)...)
		return
	}
	lvl, msg := slog.LevelInfo, "delivery attempt failed; retrying"
	if status == labhooks.DeliveryFailed {
		lvl, msg = slog.LevelWarn, "delivery failed for good: no retry left"
	}
	in.log.Log(context.Background(), lvl, msg, deliveryAttrs(j, res, status)...)
}

// deliveryAttrs are the log attributes of an attempt of j.
func deliveryAttrs(j *labhooks.Job, res *delivery.Result, status labhooks.DeliveryStatus) []any {
	return []any{"deliveryId", j.DeliveryID, "eventId", j.EventID, "datalinkId", j.DataLinkID, "partnerId", j.PartnerID,
		"eventName", j.EventName, "attempt", j.Try, "statusCode", res.StatusCode, "outcome", res.Outcome(),
		"error", res.Summary(), "durationMs", res.Duration.Milliseconds(), "status", string(status)}
}

// queueDepth reads the number of pending deliveries for the metrics gauge.
func queueDepth(store labhooks.DeliveryStore) metrics.QueueDepth {
	return func(ctx context.Context) (int64, error) {
		h, err := store.Health(ctx, time.Now())
		if err != nil {
			return 0, err
		}
		return int64(h.QueueDepth), nil
	}
}
