package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labhooks/labhooks/httpapi"
	"github.com/labhooks/labhooks/receiver"
	"github.com/labhooks/labhooks/receiver/store"
)

const receiveSynopsis = `Usage: labhooks receive --secret S [--addr 127.0.0.1:3000] [--db ./events.db | postgres://…] [--latest-only]
       labhooks receive --pull --server U --api-key K --secret S [--db …] [--latest-only]

A ready receiver for labhooks events. It accepts POSTs on any path (/, /hook, …),
checks x-api-key and the signature, and stores each event once, by webhook-id,
in the table received_events of a SQLite file or a PostgreSQL database. It
answers 200 only once the event is stored; 401 for a wrong key, signature or
stale timestamp; 400 for a body that is not an event; 500 when storing fails,
so that labhooks retries. GET /healthz answers 200 while the database does.

During a secret rotation give both secrets: --secret NEW --secret OLD, or
--secret NEW,OLD. A secret may be given raw or in its whsec_ form.

The default address listens on this machine only; use --addr :3000 to listen
on every interface.

A dataDeletionRequest deletes, in the same transaction that stores it, every
stored event whose data.userId is the request's; the request itself is kept
without its userEmail and userPhoneNumber. With --confirm-erasures --api-key K
--server U, receive then confirms the erasure to labhooks (POST
U/v1/erasures/{webhook-id}/confirm with the partner's API key), retrying for a
while if labhooks does not answer. --retention D deletes stored events older
than D (such as 30d), checked every minute.

Each event's labhooks- headers (labhooks-event-id, labhooks-occurred-at,
labhooks-entity, labhooks-sequence) are checked against labhooks-signature and
stored in the columns event_id, occurred_at, entity and sequence; the table
received_latest names the newest event stored about each entity. With
--latest-only, an event older than one already stored about the same entity
(a lower labhooks-sequence: a retry that arrived after a newer event) is
answered 200 "stale" and not stored, so received_events keeps to the newest
state of each entity as it arrives.

With --pull, receive listens on no port: for a partner that takes no inbound
HTTPS, it reads the events of the partner's pull data link from labhooks' feed
(GET U/v1/feed with the partner's API key), every --poll (default 2s), checks
each as it checks a push (--secret is the pull link's), stores it in the same
table, and only then acknowledges it (POST U/v1/feed/ack). Killed between the
two, it gets the event again and finds it stored: every event is stored once.`

func runReceive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("receive", receiveSynopsis, stderr)
	var secrets secretsFlag
	fs.Var(&secrets, "secret", "the data link's `secret`, raw or whsec_; repeat it or separate by commas to accept two during a rotation")
	addr := fs.String("addr", "127.0.0.1:3000", "`address` to listen on (:3000 for every interface)")
	db := fs.String("db", "./events.db", "where to store events: a SQLite `file`, or a postgres:// URL")
	tolerance := fs.Duration("tolerance", receiver.DefaultTolerance, "how far webhook-timestamp may be from this clock")
	maxBody := fs.Int64("max-body", receiver.DefaultMaxBodyBytes, "largest request body accepted, in `bytes`")
	rejectUnknown := fs.Bool("reject-unknown", false, "answer 400 for event names outside the catalog this binary knows\n(by default they are stored, since admins can add event types)")
	confirm := fs.Bool("confirm-erasures", false, "after storing a dataDeletionRequest (and deleting the user's events), confirm the erasure to labhooks; needs --api-key and --server")
	apiKey := fs.String("api-key", "", "the partner's labhooks API `key`, for --confirm-erasures")
	server := fs.String("server", "", "labhooks' `URL`, such as https://labhooks.example.com, for --confirm-erasures")
	latestOnly := fs.Bool("latest-only", false, "drop (answer 200 \"stale\") an event older than one stored about the same entity (labhooks-sequence)")
	pull := fs.Bool("pull", false, "read events from labhooks' feed (needs --server and --api-key) instead of listening for POSTs")
	poll := fs.Duration("poll", 2*time.Second, "with --pull, how long to wait after the feed is empty before reading it again")
	var retention longDuration
	fs.Var(&retention, "retention", "delete stored events received longer ago than this, such as 30d or 720h (default: keep them)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("receive takes no arguments, got %q", fs.Args())}
	}
	var puller *httpapi.Client
	if *pull {
		if *server == "" || *apiKey == "" {
			return usageError{errors.New("--pull needs --server, labhooks' URL (LABHOOKS_RECEIVER_SERVER), and --api-key, the partner's API key (LABHOOKS_RECEIVER_API_KEY)")}
		}
		if *poll <= 0 {
			return usageError{fmt.Errorf("--poll must be positive, got %s", *poll)}
		}
		var err error
		if puller, err = (&clientFlags{server: *server, key: *apiKey}).client(ctx); err != nil {
			return err
		}
	}
	var confirmer *erasureConfirmer
	if *confirm {
		u, err := url.Parse(*server)
		if *server == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageError{errors.New("--confirm-erasures needs --server, labhooks' URL such as https://labhooks.example.com (LABHOOKS_RECEIVER_SERVER)")}
		}
		if *apiKey == "" {
			return usageError{errors.New("--confirm-erasures needs --api-key, the partner's labhooks API key (LABHOOKS_RECEIVER_API_KEY)")}
		}
		confirmer = &erasureConfirmer{server: strings.TrimRight(*server, "/"), key: *apiKey, client: &http.Client{Timeout: 30 * time.Second}}
	}
	v, err := newVerifier(secrets, *tolerance)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()

	log := slog.New(slog.NewTextHandler(stderr, nil))
	h := &receiver.Handler{
		Verifier:      v,
		Store:         st,
		RejectUnknown: *rejectUnknown,
		MaxBodyBytes:  *maxBody,
		Logger:        log,
		LatestOnly:    *latestOnly,
	}
	if confirmer != nil {
		confirmer.log = log
		h.AfterStore = func(_ context.Context, e *receiver.Event, _ string) {
			if e.Name == receiver.DataDeletionRequest {
				// Also on a duplicate: the first confirmation may not
				// have reached labhooks. Confirming is idempotent.
				go confirmer.confirm(ctx, e.ID)
			}
		}
	}
	if retention > 0 {
		go purgeReceived(ctx, st, time.Duration(retention), log)
	}
	where := *db
	if store.IsPostgres(where) {
		where = "PostgreSQL"
	}
	if puller != nil {
		fmt.Fprintf(stdout, "pulling events from %s/v1/feed every %s, storing events in %s\n", puller.BaseURL, *poll, where)
		return pullFeed(ctx, puller, h, *poll, log)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := st.Ping(r.Context()); err != nil {
			log.Error("health check failed", "err", err)
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("/", logRequests(log, h))
	return serveHTTP(ctx, *addr, mux, stdout, "storing events in "+where)
}

// newVerifier checks the --secret flags and builds the verifier of receive
// and listen.
func newVerifier(secrets secretsFlag, tolerance time.Duration) (*receiver.Verifier, error) {
	if len(secrets) == 0 {
		return nil, usageError{errors.New("--secret is required: the secret of the data link that sends here (LABHOOKS_RECEIVER_SECRET)")}
	}
	v, err := receiver.NewVerifier(secrets...)
	if err != nil {
		return nil, usageError{fmt.Errorf("--secret: %w", err)}
	}
	if tolerance <= 0 {
		return nil, usageError{fmt.Errorf("--tolerance must be positive, got %s", tolerance)}
	}
	v.Tolerance = tolerance
	return v, nil
}

// secretsFlag collects --secret, which may be repeated or comma-separated.
type secretsFlag []string

func (s *secretsFlag) String() string {
	if s == nil || len(*s) == 0 {
		return ""
	}
	return fmt.Sprintf("%d secret(s)", len(*s)) // never print a secret
}

func (s *secretsFlag) Set(v string) error {
	for part := range strings.SplitSeq(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*s = append(*s, part)
		}
	}
	return nil
}

// serveHTTP serves h on addr until ctx is cancelled, then lets requests in
// flight finish. It prints the address it listens on, which tells the port
// when addr asks for any (":0").
func serveHTTP(ctx context.Context, addr string, h http.Handler, stdout io.Writer, what string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	fmt.Fprintf(stdout, "listening on http://%s (POST to any path), %s\n", ln.Addr(), what)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}

// logRequests logs one line per request: what came in and how it was answered.
func logRequests(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		level := slog.LevelInfo
		if sw.status >= 400 {
			level = slog.LevelWarn
		}
		log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "status", sw.status,
			"webhookId", r.Header.Get("webhook-id"), "ms", time.Since(start).Milliseconds(), "answer", strings.TrimSpace(sw.body.String()))
	})
}

// statusWriter remembers the status and the start of the answer, for the log.
type statusWriter struct {
	http.ResponseWriter
	status int
	body   strings.Builder
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if room := 300 - w.body.Len(); room > 0 {
		w.body.Write(b[:min(len(b), room)])
	}
	return w.ResponseWriter.Write(b)
}

// erasureConfirmer tells labhooks that this receiver erased a user's data.
type erasureConfirmer struct {
	server, key string
	client      *http.Client
	log         *slog.Logger
}

// confirmAttempts bounds how often one confirmation is tried, about two
// minutes in all; labhooks sends the request again if it was not answered,
// and that confirms again.
const confirmAttempts = 8

// confirm POSTs the confirmation of the request delivered as webhookID,
// retrying with growing pauses while labhooks does not answer 2xx.
func (c *erasureConfirmer) confirm(ctx context.Context, webhookID string) {
	pause := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		status, err := c.post(ctx, webhookID)
		switch {
		case err == nil && status < 300:
			c.log.Info("confirmed an erasure to labhooks", "webhookId", webhookID)
			return
		case err == nil && status < 500 && status != http.StatusTooManyRequests:
			c.log.Error("labhooks refused the erasure's confirmation", "webhookId", webhookID, "status", status)
			return
		case attempt == confirmAttempts:
			c.log.Error("could not confirm an erasure to labhooks", "webhookId", webhookID, "status", status, "err", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 30*time.Second)
	}
}

func (c *erasureConfirmer) post(ctx context.Context, webhookID string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.server+"/v1/erasures/"+url.PathEscape(webhookID)+"/confirm", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	res, err := c.client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	return res.StatusCode, nil
}

// purgeReceived deletes the events received longer ago than retention, at
// start and then every minute, until ctx ends.
func purgeReceived(ctx context.Context, st *store.Store, retention time.Duration, log *slog.Logger) {
	for {
		n, err := st.DeleteOlderThan(ctx, time.Now().Add(-retention))
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("deleting old events", "err", err)
		case n > 0:
			log.Info("deleted old events", "deleted", n, "retention", retention)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Minute):
		}
	}
}
