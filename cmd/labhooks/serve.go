package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/internal/remote"
	"github.com/labhooks/labhooks/notify"
	"github.com/labhooks/labhooks/postgres"
	"github.com/labhooks/labhooks/sealing"
	"github.com/labhooks/labhooks/sqlite"
	"github.com/labhooks/labhooks/tracing"
)

const serveUsage = `Usage: labhooks serve [flags]

Runs the HTTP API and the delivery workers in one process, on the embedded
SQLite database by default (created if missing). With --db postgres://…,
any number of serve and worker processes share one database; --workers 0
runs the API only.

The admin key comes from --admin-key (LABHOOKS_ADMIN_KEY). Without it, the
first start creates one and prints it once; later starts use the stored one.

With --secrets-key (LABHOOKS_SECRETS_KEY), data-link secrets are sealed in
the database; the first start with a key seals those stored before, and a
start without the key on a sealed database is refused.

By default labhooks refuses to deliver to loopback, private, link-local and
cloud-metadata addresses, checked on every connection; use
--allow-private-targets only for development and tests.

When a data link starts failing (--notify-failing-after), is disabled, or
recovers, labhooks tells the partner's contacts and --notify-operator by
email (with --smtp-url and --smtp-from) and the operator partner's data
links by an operational event, once per change.`

// serveConfig is what serve (and, later, worker) read from flags.
type serveConfig struct {
	addr          string
	db            string
	adminKey      string
	allowPrivate  bool
	retrySchedule string
	timeout       time.Duration
	workers       int
	perDataLink   int
	disableAfter  time.Duration
	sessionKey    string
	dashboardDir  string
	secretsKey    string
	logLevel      string
	// logFormat is text or json; otelEndpoint the OTLP/HTTP collector
	// (see package tracing), and tracerProvider, when set (tests, bench),
	// the tracer provider to use instead.
	logFormat      string
	otelEndpoint   string
	tracerProvider trace.TracerProvider
	// trustedProxies are the peers whose X-Forwarded-For the audit log
	// believes; auditRetention is how long audit entries are kept.
	trustedProxies string
	auditRetention longDuration
	// retention, history, erasureDeadline and purgeInterval: see
	// README "Retention and erasure".
	retention, history, erasureDeadline longDuration
	purgeInterval                       time.Duration
	// Notifications: see README "Notifications and operational events".
	smtpURL, smtpFrom, notifyOperator, publicURL string
	notifyFailingAfter, notifyInterval           time.Duration
}

func (c *serveConfig) flags(fs interface {
	StringVar(*string, string, string, string)
	BoolVar(*bool, string, bool, string)
	DurationVar(*time.Duration, string, time.Duration, string)
	IntVar(*int, string, int, string)
	Var(flag.Value, string, string)
}) {
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "address to serve the API on")
	fs.StringVar(&c.db, "db", "./labhooks.db", "SQLite database file, or a postgres:// URL to share the database with other labhooks processes")
	fs.StringVar(&c.adminKey, "admin-key", "", "the admin API key (at least 24 characters); generated on first start when empty")
	fs.BoolVar(&c.allowPrivate, "allow-private-targets", false, "deliver to loopback and private addresses, and accept http:// URLs (development and tests only)")
	fs.StringVar(&c.retrySchedule, "retry-schedule", labhooks.FormatRetrySchedule(labhooks.DefaultRetrySchedule),
		fmt.Sprintf("delays before each retry; the first attempt is immediate and each delay gets ±%.0f%% jitter", labhooks.DefaultJitter*100))
	fs.DurationVar(&c.timeout, "timeout", labhooks.DefaultTimeout, "how long a receiver has to answer")
	fs.IntVar(&c.workers, "workers", labhooks.DefaultWorkers, "concurrent deliveries in this process, of which one partner gets at most its share (README: Delivery: isolation); 0 runs the API only")
	fs.IntVar(&c.perDataLink, "per-datalink", labhooks.DefaultPerDataLink, "concurrent deliveries to any one data link; 1 while its receiver does not answer (after 3 timeouts in a row)")
	fs.DurationVar(&c.disableAfter, "disable-after", labhooks.DefaultDisableAfter, "disable a data link whose every delivery attempt has failed for this long")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "text", "text (key=value lines) or json (one JSON object a line), both with the delivery, event and data-link IDs on every line about a delivery")
	fs.StringVar(&c.otelEndpoint, "otel-endpoint", "", "send OpenTelemetry traces (emit, claim and attempt spans) over OTLP/HTTP to this collector, such as http://127.0.0.1:4318; the standard OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_TRACES_EXPORTER=otlp turn tracing on too (default: off)")
	fs.StringVar(&c.secretsKey, "secrets-key", "", "seal data-link secrets at rest with this key (at least 32 characters, such as the output of openssl rand -base64 32); every process of one database needs the same one. To change it, give \"new,old\" once: the new key seals, the old one still opens (default: secrets stored unsealed)")
	fs.StringVar(&c.dashboardDir, "dashboard-dir", "", "read the dashboard's templates and assets from this folder (dashboard/web of a checkout) on every request instead of the copy built in: for editing them without rebuilding")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", "", "comma-separated addresses and CIDR prefixes of reverse proxies whose X-Forwarded-For names the client in the audit log, such as 10.0.0.0/8 (default: none; the peer's address is recorded)")
	c.auditRetention = longDuration(labhooks.DefaultAuditRetention)
	fs.Var(&c.auditRetention, "audit-retention", "how long audit entries are kept, such as 2190d or 6y; older ones are purged hourly and the chain stays verifiable from the first one kept")
	c.retention, c.history, c.erasureDeadline = longDuration(labhooks.DefaultRetention), longDuration(labhooks.DefaultHistory), longDuration(labhooks.DefaultErasureDeadline)
	fs.Var(&c.retention, "retention", "erase an event's payload (data, and its attempts' response excerpts) once every delivery is final and the event is older than this, such as 30d or 720h; event types may set a shorter one")
	fs.Var(&c.history, "history", "delete events, deliveries and attempts older than this entirely, such as 90d; at least --retention")
	fs.Var(&c.erasureDeadline, "erasure-deadline", "how long a partner has to confirm a dataDeletionRequest before its erasure is overdue, such as 30d")
	fs.DurationVar(&c.purgeInterval, "purge-interval", labhooks.DefaultPurgeInterval, "how often to apply --retention and --history and erase labhooks' copy of users' data after their dataDeletionRequest")
	fs.StringVar(&c.smtpURL, "smtp-url", "", "send notification emails through this SMTP server: smtp://user:password@host:587 (STARTTLS required), smtps://user:password@host:465 (TLS), or smtp://host:25?tls=none for a relay on this machine (default: no emails; the operational events still go)")
	fs.StringVar(&c.smtpFrom, "smtp-from", "", "the sender address of notification emails, such as labhooks@example.com; required with --smtp-url")
	fs.StringVar(&c.notifyOperator, "notify-operator", "", "the operator's email address, written to about every data link that starts failing, is disabled or recovers, and every overdue erasure (default: only the partners' contacts)")
	fs.DurationVar(&c.notifyFailingAfter, "notify-failing-after", labhooks.DefaultNotifyFailingAfter, "tell a partner's contacts and the operator once a data link's every delivery attempt has failed for this long")
	fs.DurationVar(&c.notifyInterval, "notify-interval", labhooks.DefaultNotifyInterval, "how often to compare the data links' states with the last notified, and send the notifications due")
	fs.StringVar(&c.publicURL, "public-url", "", "the dashboard's address as people reach it, such as https://labhooks.example.com, for the links in notifications (default: no links)")
	fs.StringVar(&c.sessionKey, "session-key", "", "seals the dashboard's sign-in cookies (at least 32 characters); give every API process the same one so sessions survive restarts and work across processes (default: random per start)")
}

func (c *serveConfig) check() error {
	if c.timeout <= 0 || c.timeout > 5*time.Minute {
		return usageError{fmt.Errorf("--timeout %s: must be between 1ms and 5m", c.timeout)}
	}
	if c.workers < 0 {
		return usageError{fmt.Errorf("--workers %d: must be 0 or more", c.workers)}
	}
	if c.perDataLink < 1 {
		return usageError{fmt.Errorf("--per-datalink %d: must be 1 or more", c.perDataLink)}
	}
	if c.dashboardDir != "" {
		if _, err := os.Stat(filepath.Join(c.dashboardDir, "templates", "layout.html")); err != nil {
			return usageError{fmt.Errorf("--dashboard-dir %s: not the dashboard's folder (dashboard/web), which holds templates/layout.html", c.dashboardDir)}
		}
	}
	if c.sessionKey != "" && len(c.sessionKey) < 32 {
		return usageError{fmt.Errorf("--session-key (LABHOOKS_SESSION_KEY): at least 32 characters, such as the output of openssl rand -base64 32")}
	}
	if c.adminKey != "" {
		if err := labhooks.ValidateAdminKey(c.adminKey); err != nil {
			return usageError{fmt.Errorf("--admin-key (LABHOOKS_ADMIN_KEY): %s", labhooks.ErrorMessage(err))}
		}
	}
	if _, err := sealing.NewKeyring(sealing.SplitKeys(c.secretsKey)...); err != nil {
		return usageError{fmt.Errorf("--secrets-key (LABHOOKS_SECRETS_KEY): %w", err)}
	}
	if _, err := remote.ParseProxies(c.trustedProxies); err != nil {
		return usageError{fmt.Errorf("--trusted-proxies (LABHOOKS_TRUSTED_PROXIES): %w", err)}
	}
	if c.auditRetention < longDuration(24*time.Hour) {
		return usageError{fmt.Errorf("--audit-retention %s: at least a day, such as 2190d", c.auditRetention)}
	}
	if c.retention < longDuration(time.Second) {
		return usageError{fmt.Errorf("--retention %s: at least 1s, such as 30d", c.retention)}
	}
	if c.history < c.retention {
		return usageError{fmt.Errorf("--history %s: at least --retention (%s): rows are deleted after their payload is erased", c.history, c.retention)}
	}
	if c.erasureDeadline < longDuration(time.Second) {
		return usageError{fmt.Errorf("--erasure-deadline %s: at least 1s, such as 30d", c.erasureDeadline)}
	}
	if c.purgeInterval < 10*time.Millisecond {
		return usageError{fmt.Errorf("--purge-interval %s: at least 10ms, such as 1m", c.purgeInterval)}
	}
	if c.notifyFailingAfter <= 0 {
		return usageError{fmt.Errorf("--notify-failing-after %s: must be positive, such as 1h", c.notifyFailingAfter)}
	}
	if c.notifyInterval < 10*time.Millisecond {
		return usageError{fmt.Errorf("--notify-interval %s: at least 10ms, such as 30s", c.notifyInterval)}
	}
	if c.smtpURL != "" || c.smtpFrom != "" {
		if _, err := c.mailer(); err != nil {
			return usageError{err}
		}
	}
	if c.notifyOperator != "" {
		if _, err := labhooks.ValidateContacts([]string{c.notifyOperator}); err != nil {
			return usageError{fmt.Errorf("--notify-operator %q: an email address such as ops@example.com", c.notifyOperator)}
		}
	}
	if c.publicURL != "" {
		if u, err := url.Parse(c.publicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return usageError{fmt.Errorf("--public-url %q: the dashboard's address, such as https://labhooks.example.com", c.publicURL)}
		}
	}
	if c.disableAfter <= 0 {
		return usageError{fmt.Errorf("--disable-after %s: must be positive, such as 120h", c.disableAfter)}
	}
	if _, _, err := net.SplitHostPort(c.addr); err != nil {
		return usageError{fmt.Errorf("--addr %q: want host:port, such as 127.0.0.1:8080", c.addr)}
	}
	if _, err := labhooks.ParseRetrySchedule(c.retrySchedule); err != nil {
		return usageError{fmt.Errorf("--retry-schedule: %w", err)}
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.logLevel)); err != nil {
		return usageError{fmt.Errorf("--log-level %q: use debug, info, warn or error", c.logLevel)}
	}
	if c.logFormat != "" && c.logFormat != "text" && c.logFormat != "json" {
		return usageError{fmt.Errorf("--log-format %q: use text or json", c.logFormat)}
	}
	if err := c.tracingConfig().Check(); err != nil {
		return usageError{fmt.Errorf("--otel-endpoint (LABHOOKS_OTEL_ENDPOINT): %w", err)}
	}
	return nil
}

// mailer returns the SMTP sender of --smtp-url, nil without one.
func (c *serveConfig) mailer() (*notify.SMTP, error) {
	switch {
	case c.smtpURL == "" && c.smtpFrom == "":
		return nil, nil
	case c.smtpURL == "":
		return nil, fmt.Errorf("--smtp-from needs --smtp-url (LABHOOKS_SMTP_URL), the SMTP server to send through")
	case c.smtpFrom == "":
		return nil, fmt.Errorf("--smtp-url needs --smtp-from (LABHOOKS_SMTP_FROM), the sender address, such as labhooks@example.com")
	}
	m, err := notify.New(notify.Config{URL: c.smtpURL, From: c.smtpFrom})
	if err != nil {
		return nil, fmt.Errorf("--smtp-url (LABHOOKS_SMTP_URL): %w", err)
	}
	return m, nil
}

// tracingConfig is the tracing --otel-endpoint and the OTEL_* variables ask for.
func (c *serveConfig) tracingConfig() tracing.Config {
	return tracing.Config{Endpoint: c.otelEndpoint, Version: version}
}

func (c *serveConfig) logger(w io.Writer) *slog.Logger {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(c.logLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openStore opens a postgres:// URL as the PostgreSQL store, which reports
// its reconnects to log and is also the store's wake-ups, and anything else
// as a SQLite file, which has none.
func openStore(ctx context.Context, dsn string, log *slog.Logger) (labhooks.Store, labhooks.DueListener, error) {
	if isPostgres(dsn) {
		s, err := postgres.Open(ctx, postgres.Config{URL: dsn, Logger: log})
		if err != nil {
			return nil, nil, err
		}
		return s, s, nil
	}
	if err := checkDBPath("--db", dsn); err != nil {
		return nil, nil, usageError{err}
	}
	s, err := sqlite.Open(ctx, dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("--db %s: %w", dsn, err)
	}
	return s, nil, nil
}

// openSealedStore opens cfg.db and checks its data-link secrets against
// --secrets-key: with a key, it seals those stored unsealed or under an older
// key, and returns a store that seals and opens them; without one, it
// refuses a database whose secrets are sealed. due is openStore's.
func openSealedStore(ctx context.Context, cfg serveConfig, log *slog.Logger) (store labhooks.Store, due labhooks.DueListener, err error) {
	keys, err := sealing.NewKeyring(sealing.SplitKeys(cfg.secretsKey)...)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("--secrets-key (LABHOOKS_SECRETS_KEY): %w", err)}
	}
	inner, due, err := openStore(ctx, cfg.db, log)
	if err != nil {
		return nil, nil, err
	}
	store, resealed, err := sealing.Open(ctx, inner, keys)
	if err != nil {
		inner.Close()
		return nil, nil, fmt.Errorf("--secrets-key (LABHOOKS_SECRETS_KEY): %w", err)
	}
	switch {
	case !keys.Enabled():
		log.Warn("data-link secrets are stored unsealed: anyone with a copy of the database can sign webhooks as labhooks; set --secrets-key (LABHOOKS_SECRETS_KEY) to seal them")
	case resealed > 0:
		log.Info("sealed data-link secrets under the first --secrets-key", "datalinks", resealed)
	}
	return store, due, nil
}

// warnReplacedAdminKey logs, loudly, when the configured admin key is not
// the one stored in the database: the stored key then opens nothing while
// the configured one is set. The audit log records it once per configured
// key (actor system, the key's prefix only), not at every start.
func warnReplacedAdminKey(ctx context.Context, store interface {
	labhooks.AdminKeyStore
	labhooks.AuditStore
}, configured string, log *slog.Logger) error {
	if configured == "" {
		return nil
	}
	stored, err := store.AdminKeyHash(ctx)
	if err != nil || stored == nil || subtle.ConstantTimeCompare(stored, labhooks.KeyHash(configured)) == 1 {
		return err
	}
	log.Warn("ADMIN KEY REPLACED: --admin-key (LABHOOKS_ADMIN_KEY) is not the admin key stored in the database; " +
		"the stored key opens nothing while this one is set. If you did not mean to replace it, unset LABHOOKS_ADMIN_KEY and restart.")
	prefix := labhooks.KeyPrefixOf(configured)
	last, _, err := store.Audit(ctx, labhooks.AuditFilter{Action: labhooks.AuditAdminKeyOverride, Limit: 1})
	if err != nil {
		return err
	}
	var seen struct {
		KeyPrefix string `json:"keyPrefix"`
	}
	if len(last) == 1 && json.Unmarshal(last[0].Details, &seen) == nil && seen.KeyPrefix == prefix {
		return nil // this key's override is recorded already
	}
	return store.AppendAudit(ctx, &labhooks.AuditEntry{Time: time.Now().UTC(), Actor: labhooks.AuditActor{Type: labhooks.ActorSystem},
		Action: labhooks.AuditAdminKeyOverride, TargetType: "adminkey",
		Details: labhooks.AuditDetails(nil, map[string]any{"keyPrefix": prefix, "source": "--admin-key (LABHOOKS_ADMIN_KEY)"})})
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// displayDB is dsn without its password, for logs.
func displayDB(dsn string) string {
	if !isPostgres(dsn) {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://…"
	}
	return u.Redacted()
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg serveConfig
	fs := newFlagSet("serve", serveUsage, stderr)
	cfg.flags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := cfg.check(); err != nil {
		return err
	}
	log := cfg.logger(stderr)
	// The port first: a start that cannot serve creates no database and
	// prints no key.
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", cfg.addr, err)
	}
	defer ln.Close()
	store, due, err := openSealedStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := warnReplacedAdminKey(ctx, store, cfg.adminKey, log); err != nil {
		return err
	}
	adminHash, err := app.InitAdminKey(ctx, store, cfg.adminKey, stdout)
	if err != nil {
		return err
	}
	in, err := newInstance(ctx, cfg, store, due, adminHash, log)
	if err != nil {
		return err
	}

	srv := &http.Server{
		Handler:           in.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.timeout + 30*time.Second, // the test button waits for a receiver
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(stdout, "labhooks %s listening on http://%s (database %s, %d delivery workers)\n", version, ln.Addr(), displayDB(cfg.db), cfg.workers)

	in.start()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err = <-serveErr:
	case <-ctx.Done():
		log.Info("shutting down: finishing requests and deliveries in flight")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = srv.Shutdown(shutdownCtx)
		cancel()
	}
	in.stop()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
