package app

import (
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/catalog"
	"github.com/labhooks/labhooks/delivery"
	"github.com/labhooks/labhooks/tracing"
)

// Config holds what the application layer works with. Every field documents
// its default.
type Config struct {
	// Store keeps labhooks' state. Required.
	Store labhooks.Store
	// Catalog is the event catalog, built-in and custom types. Required.
	Catalog *catalog.Catalog
	// Sender makes the data link test's POST. Required.
	Sender *delivery.Sender
	// AdminKeyHash is labhooks.KeyHash of the admin key (see InitAdminKey).
	AdminKeyHash []byte
	// Policy is the retry policy the engines run; replay suggestions allow
	// for it. Default labhooks.DefaultRetryPolicy().
	Policy labhooks.RetryPolicy
	// DisableAfter is how long a data link may only fail before
	// DisableFailing disables it. Default labhooks.DefaultDisableAfter.
	DisableAfter time.Duration
	// AllowHTTPTargets accepts plain-http data link URLs (development).
	// Default false.
	AllowHTTPTargets bool
	// Wake tells this process's delivery engine that deliveries are due now.
	// Default: nothing (no engine here, or the store's DueListener wakes it).
	Wake func()
	// OnAccepted, if set, is told of each newly accepted event and how many
	// deliveries it made (for metrics). It must not block.
	OnAccepted func(e *labhooks.Event, deliveries int)
	// Retention is how long an event's payload is kept once its
	// deliveries are final, History how long its rows are kept, and
	// ErasureDeadline how long a partner has to confirm a
	// dataDeletionRequest. Defaults labhooks.DefaultRetention,
	// DefaultHistory and DefaultErasureDeadline.
	Retention, History, ErasureDeadline time.Duration
	// Mailer sends the notification emails; nil sends none (the
	// operational events still go). NotifyOperator is the operator's
	// address, copied on every notification email; empty for none.
	Mailer         Mailer
	NotifyOperator string
	// NotifyFailingAfter is how long a data link must only have failed
	// before its partner and the operator are told. Default
	// labhooks.DefaultNotifyFailingAfter.
	NotifyFailingAfter time.Duration
	// NotifyRetry is how long after a notification's failed attempt it is
	// tried again, doubling with each failure up to
	// labhooks.NotificationMaxBackoff. Default
	// labhooks.DefaultNotifyInterval.
	NotifyRetry time.Duration
	// PublicURL is the dashboard's address as people reach it, such as
	// https://labhooks.example.com, for the links in notifications;
	// empty leaves the links out.
	PublicURL string
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives what the operator should know. Default slog.Default().
	Logger *slog.Logger
	// TracerProvider makes the emit's span. Default: none, tracing off.
	TracerProvider trace.TracerProvider
}

// Service performs labhooks' operations; see the package doc.
type Service struct {
	cfg   Config
	store labhooks.Store
	cat   *catalog.Catalog
	log   *slog.Logger
	// tracer makes the emit's span.
	tracer trace.Tracer
	// limits bound manual sends (test, retry, replay).
	limits manualLimits
}

// New returns the Service for cfg.
func New(cfg Config) *Service {
	if cfg.Policy.Schedule == nil {
		cfg.Policy = labhooks.DefaultRetryPolicy()
	}
	if cfg.DisableAfter <= 0 {
		cfg.DisableAfter = labhooks.DefaultDisableAfter
	}
	if cfg.Wake == nil {
		cfg.Wake = func() {}
	}
	if cfg.OnAccepted == nil {
		cfg.OnAccepted = func(*labhooks.Event, int) {}
	}
	if cfg.Retention <= 0 {
		cfg.Retention = labhooks.DefaultRetention
	}
	if cfg.History <= 0 {
		cfg.History = labhooks.DefaultHistory
	}
	if cfg.ErasureDeadline <= 0 {
		cfg.ErasureDeadline = labhooks.DefaultErasureDeadline
	}
	if cfg.NotifyFailingAfter <= 0 {
		cfg.NotifyFailingAfter = labhooks.DefaultNotifyFailingAfter
	}
	if cfg.NotifyRetry <= 0 {
		cfg.NotifyRetry = labhooks.DefaultNotifyInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{cfg: cfg, store: cfg.Store, cat: cfg.Catalog, log: cfg.Logger, tracer: tracing.Tracer(cfg.TracerProvider), limits: newManualLimits()}
}

// now is the clock's time in UTC, as everything is stored.
func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// Policy is the retry policy the engines run.
func (s *Service) Policy() labhooks.RetryPolicy { return s.cfg.Policy }

// Timeout is how long a receiver has to answer a test.
func (s *Service) Timeout() time.Duration { return s.cfg.Sender.Timeout() }
