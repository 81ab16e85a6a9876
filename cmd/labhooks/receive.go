package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labhooks/labhooks/receiver"
	"github.com/labhooks/labhooks/receiver/store"
)

const receiveSynopsis = `Usage: labhooks receive --secret S [--addr 127.0.0.1:3000] [--db ./events.db | postgres://…]

A ready receiver for labhooks events. It accepts POSTs on any path (/, /hook, …),
checks x-api-key and the signature, and stores each event once, by webhook-id,
in the table received_events of a SQLite file or a PostgreSQL database. It
answers 200 only once the event is stored; 401 for a wrong key, signature or
stale timestamp; 400 for a body that is not an event; 500 when storing fails,
so that labhooks retries. GET /healthz answers 200 while the database does.

During a secret rotation give both secrets: --secret NEW --secret OLD, or
--secret NEW,OLD. A secret may be given raw or in its whsec_ form.

The default address listens on this machine only; use --addr :3000 to listen
on every interface.`

func runReceive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("receive", receiveSynopsis, stderr)
	var secrets secretsFlag
	fs.Var(&secrets, "secret", "the data link's `secret`, raw or whsec_; repeat it or separate by commas to accept two during a rotation")
	addr := fs.String("addr", "127.0.0.1:3000", "`address` to listen on (:3000 for every interface)")
	db := fs.String("db", "./events.db", "where to store events: a SQLite `file`, or a postgres:// URL")
	tolerance := fs.Duration("tolerance", receiver.DefaultTolerance, "how far webhook-timestamp may be from this clock")
	maxBody := fs.Int64("max-body", receiver.DefaultMaxBodyBytes, "largest request body accepted, in `bytes`")
	rejectUnknown := fs.Bool("reject-unknown", false, "answer 400 for event names outside the catalog this binary knows\n(by default they are stored, since admins can add event types)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("receive takes no arguments, got %q", fs.Args())}
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

	where := *db
	if store.IsPostgres(where) {
		where = "PostgreSQL"
	}
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
