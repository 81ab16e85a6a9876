package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/labhooks/labhooks/metrics"
)

const workerUsage = `Usage: labhooks worker --db postgres://… [flags]

Runs delivery workers only, with no API: start as many as the load needs,
beside "labhooks serve" processes (which may run with --workers 0), all on
one PostgreSQL database. Workers claim deliveries with leases, so any
process may be stopped or killed at any time: what it held is delivered by
another once the lease (--timeout plus 15 s) runs out.`

// workerFlags registers serveConfig's delivery flags, leaving out those of
// the API, and describes --db as the worker needs it.
type workerFlags struct {
	fs interface {
		StringVar(*string, string, string, string)
		BoolVar(*bool, string, bool, string)
		DurationVar(*time.Duration, string, time.Duration, string)
		IntVar(*int, string, int, string)
		Var(flag.Value, string, string)
	}
}

func (w workerFlags) StringVar(p *string, name, value, usage string) {
	switch name {
	case "addr", "admin-key", "session-key", "dashboard-dir", "trusted-proxies":
		*p = value
	case "db":
		w.fs.StringVar(p, name, "", "the PostgreSQL database shared with the other labhooks processes (postgres://…)")
	default:
		w.fs.StringVar(p, name, value, usage)
	}
}

func (w workerFlags) BoolVar(p *bool, name string, value bool, usage string) {
	w.fs.BoolVar(p, name, value, usage)
}

func (w workerFlags) DurationVar(p *time.Duration, name string, value time.Duration, usage string) {
	w.fs.DurationVar(p, name, value, usage)
}

func (w workerFlags) Var(v flag.Value, name, usage string) { w.fs.Var(v, name, usage) }

func (w workerFlags) IntVar(p *int, name string, value int, usage string) {
	if name == "workers" {
		usage = "concurrent deliveries in this process"
	}
	w.fs.IntVar(p, name, value, usage)
}

func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg serveConfig
	fs := newFlagSet("worker", workerUsage, stderr)
	cfg.flags(workerFlags{fs: fs})
	metricsAddr := fs.String("metrics-addr", "", "serve /metrics and /healthz on this address, such as 127.0.0.1:9090 (default: off)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := cfg.check(); err != nil {
		return err
	}
	switch {
	case cfg.db == "":
		return usageError{fmt.Errorf("--db (LABHOOKS_DB): required, the postgres:// URL of the shared database")}
	case !isPostgres(cfg.db):
		return usageError{fmt.Errorf("--db %s: a worker needs PostgreSQL (postgres://…); a SQLite file belongs to one process, so use labhooks serve", cfg.db)}
	case cfg.workers < 1:
		return usageError{fmt.Errorf("--workers %d: a worker needs 1 or more", cfg.workers)}
	}
	log := cfg.logger(stderr)
	store, due, err := openSealedStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	// A worker serves no API: no key opens anything through it.
	in, err := newInstance(ctx, cfg, store, due, nil, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "labhooks %s worker delivering from %s (%d delivery workers)\n", version, displayDB(cfg.db), cfg.workers)

	// The engine outlives ctx a little: on SIGTERM it stops claiming, then
	// finishes and records the attempts under way.
	in.start()
	defer in.stop()
	if *metricsAddr != "" {
		srv, err := serveMetrics(*metricsAddr, in.metrics, log)
		if err != nil {
			return err
		}
		defer srv.Close()
	}
	<-ctx.Done()
	log.Info("shutting down: finishing deliveries in flight")
	return nil
}

// serveMetrics serves a worker's /metrics and /healthz on addr.
func serveMetrics(addr string, m *metrics.Metrics, log *slog.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go srv.Serve(ln)
	log.Info("serving metrics", "addr", ln.Addr().String())
	return srv, nil
}
