package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/receiver"
	"github.com/labhooks/labhooks/sqlite"
)

const demoUsage = `Usage: labhooks demo [--addr 127.0.0.1:8080] [--rate 1]

Runs everything in one process, to look around: labhooks on a fresh SQLite
database in a temporary folder, a sample partner of each role with a data link
to a receiver built in (it verifies key and signature with the receiver kit,
and the lab's fails one request in five, so you see retries), and a stream of
catalog events. It prints the admin key and each partner's key: open the
dashboard and sign in with either. Everything is deleted when it stops.`

// demoPartners are the sample partners, one of each role.
var demoPartners = []struct {
	name string
	role labhooks.Role
}{
	{"Sunrise Sampling", labhooks.RoleSampler},
	{"Central Lab", labhooks.RoleLab},
	{"Riverside Clinic", labhooks.RoleClient},
	{"HealthTrack App", labhooks.RoleProvider},
	{"Quality Checks Ltd", labhooks.RoleChecker},
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", demoUsage, stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address to serve the API and the dashboard on")
	rate := fs.Float64("rate", 1, "events emitted per second")
	logCfg := serveConfig{logLevel: "warn"}
	fs.StringVar(&logCfg.logFormat, "log-format", "text", "text or json, for the warnings and errors printed on stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if logCfg.logFormat != "text" && logCfg.logFormat != "json" {
		return usageError{fmt.Errorf("--log-format %q: use text or json", logCfg.logFormat)}
	}
	if *rate <= 0 || *rate > 1000 {
		return usageError{fmt.Errorf("--rate %v: between 0 and 1000 events per second", *rate)}
	}
	dir, err := os.MkdirTemp("", "labhooks-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	store, err := sqlite.Open(ctx, filepath.Join(dir, "demo.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	log := logCfg.logger(stderr)
	adminKey := labhooks.NewAPIKey(labhooks.AdminKeyPrefix)
	cfg := serveConfig{
		allowPrivate: true, timeout: 5 * time.Second, retrySchedule: "2s,5s,10s,30s",
		workers: 64, perDataLink: 8, disableAfter: labhooks.DefaultDisableAfter,
	}
	in, err := newInstance(ctx, cfg, store, nil, labhooks.KeyHash(adminKey), log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", *addr, err)
	}
	srv := &http.Server{Handler: in.handler, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	in.start()
	defer in.stop()
	base := "http://" + ln.Addr().String()
	admin := &app.Caller{Admin: true}

	rc, err := startDemoReceiver(stdout)
	if err != nil {
		return err
	}
	defer rc.Close()
	fmt.Fprintf(stdout, "labhooks demo: dashboard and API listening on %s\n\n  admin key      %s\n", base, adminKey)
	for _, p := range demoPartners {
		created, err := in.app.CreatePartner(ctx, admin, app.PartnerInput{Name: p.name, Role: p.role})
		if err != nil {
			return err
		}
		link := app.DataLinkInput{URL: fmt.Sprintf("%s/%s", rc.url, p.role), Secret: rc.secret, Description: "the demo's built-in receiver"}
		if _, err := in.app.CreateDataLink(ctx, admin, created.ID, link); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  %-8s key   %s   (%s)\n", p.role, created.APIKey, p.name)
	}
	fmt.Fprintf(stdout, "\nOpen %s and sign in with a key. Events arrive below; Ctrl-C stops the demo.\n\n", base)

	var events []*labhooks.EventType
	for _, t := range in.app.EventTypes(ctx) {
		// Operational events are labhooks' own, not the platform's.
		if t.Status == labhooks.StatusAvailable && !labhooks.IsOperationalEvent(t.Name) {
			events = append(events, t)
		}
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / *rate))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(stdout, "\nlabhooks demo: stopping")
			return nil
		case <-tick.C:
			t := events[rand.IntN(len(events))]
			var example struct {
				Data json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(t.Example, &example); err != nil {
				return fmt.Errorf("the example of %s: %w", t.Name, err)
			}
			if _, err := in.app.Emit(ctx, admin, app.EmitInput{EventName: t.Name, Data: example.Data}); err != nil && ctx.Err() == nil {
				return fmt.Errorf("emitting %s: %w", t.Name, err)
			}
		}
	}
}

// demoReceiver is the demo partners' webhook receiver: the receiver kit's
// Handler with a memory store, printing each event it takes.
type demoReceiver struct {
	*http.Server
	url    string
	secret string
}

func startDemoReceiver(stdout io.Writer) (*demoReceiver, error) {
	secret := labhooks.GenerateSecret()
	v, err := receiver.NewVerifier(secret)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, p := range demoPartners {
		names["/"+string(p.role)] = p.name
	}
	var out sync.Mutex
	say := func(format string, args ...any) {
		out.Lock()
		defer out.Unlock()
		fmt.Fprintf(stdout, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
	var failed sync.Map // webhook-ids the lab's receiver failed once
	mux := http.NewServeMux()
	for path, name := range names {
		kit := &receiver.Handler{Verifier: v, Store: receiver.NewMemoryStore(), OnEvent: func(_ context.Context, e *receiver.Event) error {
			note := ""
			if _, ok := failed.Load(e.ID); ok {
				note = "  (a retry)"
			}
			say("%-18s received %-22s %s%s", name, e.Name, e.ID, note)
			return nil
		}}
		h := http.Handler(kit)
		if path == "/lab" {
			// The lab's receiver fails one request in five, to show retries.
			var n atomic.Int64
			h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1)%5 == 0 {
					id := r.Header.Get(receiver.HeaderID)
					failed.Store(id, true)
					say("%-18s FAILED   %-22s %s  answered 503: labhooks retries it", name, peekName(r), id)
					http.Error(w, "the demo lab's receiver is briefly down", http.StatusServiceUnavailable)
					return
				}
				kit.ServeHTTP(w, r)
			})
		}
		mux.Handle(path, h)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &demoReceiver{Server: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, url: "http://" + ln.Addr().String(), secret: secret}
	go rc.Serve(ln)
	return rc, nil
}

// peekName reads the event name of a request's body, leaving the body as it
// was for whoever reads it next.
func peekName(r *http.Request) string {
	body, _ := io.ReadAll(io.LimitReader(r.Body, receiver.DefaultMaxBodyBytes))
	r.Body = io.NopCloser(bytes.NewReader(body))
	name, _ := peekEvent(body)
	return name
}
