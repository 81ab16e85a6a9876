package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/delivery"
	"github.com/labhooks/labhooks/httpapi"
)

const benchUsage = `Usage: labhooks bench [--scenario drain|e2e|steady|fanout|isolation] [flags]

Starts labhooks in this process (SQLite in a temporary folder unless --db is
given) with a built-in fast receiver on 127.0.0.1, creates partners and data
links, emits events through the real HTTP API, and reports throughput and
emit→delivered latency. It also measures the baseline: the same receiver hit by
a plain Go HTTP client at the same concurrency with the same body.

Scenarios:
  drain      --events are accepted first, then delivered: the delivery engine alone
  e2e        emit and deliver flat out at once
  steady     emit at --rate events/s for --duration, for latency
  fanout     one event to 1,000 data links, --events times
  isolation  10% of the data links answer only after 5 s; compares the fast
             links' latency with a run without slow links

A database given with --db is used as it is: use a fresh one.`

type benchConfig struct {
	scenario    string
	db          string
	events      int
	concurrency int
	rate        int
	duration    time.Duration
	links       int
	workers     int
	perDataLink int
	jsonOut     bool
	cpuProfile  string
	profile     *os.File // open while --cpuprofile is to be written
}

// benchReport is what bench prints; with --json, as one object.
type benchReport struct {
	Scenario        string  `json:"scenario"`
	Store           string  `json:"store"`
	Events          int     `json:"events"`
	Deliveries      int     `json:"deliveries"`
	DataLinks       int     `json:"dataLinks"`
	Concurrency     int     `json:"concurrency"`
	AcceptedPerSec  float64 `json:"acceptedPerSec"`
	DeliveredPerSec float64 `json:"deliveredPerSec"`
	BaselinePerSec  float64 `json:"baselinePerSec"`
	Ratio           float64 `json:"ratio"`
	P50Ms           float64 `json:"p50Ms"`
	P90Ms           float64 `json:"p90Ms"`
	P99Ms           float64 `json:"p99Ms"`
	MaxMs           float64 `json:"maxMs"`
	Duplicates      int     `json:"duplicates"`
	PeakRssBytes    int64   `json:"peakRssBytes"`
	// ControlP99Ms is, for isolation, the fast links' p99 in a run without
	// slow links; P99Ms is then the fast links' p99 beside slow ones.
	ControlP99Ms float64 `json:"controlP99Ms,omitempty"`
	Machine      string  `json:"machine"`
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg benchConfig
	fs := newFlagSet("bench", benchUsage, stderr)
	fs.StringVar(&cfg.scenario, "scenario", "e2e", "drain, e2e, steady, fanout or isolation")
	fs.StringVar(&cfg.db, "db", "", "database; default: SQLite in a temporary folder")
	fs.IntVar(&cfg.events, "events", 20000, "events to emit (drain, e2e; fanout: default 20, each to 1,000 data links)")
	fs.IntVar(&cfg.concurrency, "concurrency", 32, "concurrent emit requests")
	fs.IntVar(&cfg.rate, "rate", 1000, "events per second (steady, isolation)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to emit (steady, isolation)")
	fs.IntVar(&cfg.links, "links", 8, "data links, one partner each (drain, e2e, steady)")
	fs.IntVar(&cfg.workers, "workers", 256, "concurrent deliveries")
	fs.IntVar(&cfg.perDataLink, "per-datalink", 16, "concurrent deliveries to one data link")
	fs.BoolVar(&cfg.jsonOut, "json", false, "print one JSON object")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured phase to this file (go tool pprof); for drain, the delivery phase only")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	eventsGiven := false
	fs.Visit(func(f *flag.Flag) { eventsGiven = eventsGiven || f.Name == "events" })
	if _, env := os.LookupEnv("LABHOOKS_EVENTS"); cfg.scenario == "fanout" && !eventsGiven && !env {
		cfg.events = 20
	}
	switch {
	case !slices.Contains([]string{"drain", "e2e", "steady", "fanout", "isolation"}, cfg.scenario):
		return usageError{fmt.Errorf("--scenario %q: use drain, e2e, steady, fanout or isolation", cfg.scenario)}
	case cfg.events < 1, cfg.concurrency < 1, cfg.rate < 1, cfg.links < 1, cfg.workers < 1, cfg.perDataLink < 1:
		return usageError{errors.New("--events, --concurrency, --rate, --links, --workers and --per-datalink must be positive")}
	case cfg.duration <= 0:
		return usageError{errors.New("--duration must be positive")}
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		cfg.profile = f
		defer pprof.StopCPUProfile()
	}
	progress := newProgress(stderr)
	var rep *benchReport
	var err error
	if cfg.scenario == "isolation" {
		rep, err = benchIsolation(ctx, cfg, progress)
	} else {
		rep, err = benchRun(ctx, cfg, cfg.scenario, 0, progress)
	}
	progress.done()
	if err != nil {
		return err
	}
	rep.PeakRssBytes = peakRSS()
	rep.Machine = fmt.Sprintf("%d cores, %s/%s, %s", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	if cfg.jsonOut {
		return printJSON(stdout, rep)
	}
	printBenchReport(stdout, rep)
	return nil
}

// benchRun runs one scenario; slowLinks of the data links answer after 5 s.
func benchRun(ctx context.Context, cfg benchConfig, scenario string, slowLinks int, progress *progress) (*benchReport, error) {
	rc := newBenchReceiver()
	defer rc.close()
	inst, err := startBenchInstance(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer inst.close()

	// Partners and data links. fanout: 20 partners of 50 links; otherwise
	// one link per partner, each event to one partner in turn.
	partners, links := cfg.links, 1
	if scenario == "fanout" {
		partners, links = 20, 50
	}
	var targets []string
	for i := range partners {
		var p struct{ ID string }
		if err := inst.client.Do(ctx, "POST", "/v1/partners", map[string]string{"name": fmt.Sprintf("bench lab %d", i), "role": "lab"}, &p, nil); err != nil {
			return nil, err
		}
		for j := range links {
			path := fmt.Sprintf("/fast/%d/%d", i, j)
			if i < slowLinks {
				path = fmt.Sprintf("/slow/%d/%d", i, j)
			}
			in := map[string]string{"url": rc.url + path, "secret": "bench-secret-0123456789-abcdefghij"}
			if err := inst.client.Do(ctx, "POST", httpapi.Path("/v1/partners/%s/datalinks", p.ID), in, nil, nil); err != nil {
				return nil, err
			}
		}
		targets = append(targets, p.ID)
	}

	rep := &benchReport{Scenario: scenario, Store: inst.storeName, DataLinks: partners * links}
	em := &emitter{client: inst.client, slow: map[string]bool{}}
	for i := range slowLinks {
		em.slow[targets[i]] = true
	}
	if cfg.profile != nil && scenario != "drain" {
		pprof.StartCPUProfile(cfg.profile)
	}
	start := time.Now()
	switch scenario {
	case "drain":
		em.flatOut(ctx, cfg.events, cfg.concurrency, targets, progress, "accepting")
		rep.AcceptedPerSec = float64(cfg.events) / time.Since(start).Seconds()
		// The clock restarts: drain measures the engine alone.
		if cfg.profile != nil {
			pprof.StartCPUProfile(cfg.profile)
		}
		start = time.Now()
		em.resetTimes(start)
		inst.startEngine()
	case "e2e":
		inst.startEngine()
		em.flatOut(ctx, cfg.events, cfg.concurrency, targets, progress, "emitting")
		rep.AcceptedPerSec = float64(cfg.events) / time.Since(start).Seconds()
	case "fanout":
		inst.startEngine()
		em.flatOut(ctx, cfg.events, 1, []string{""}, progress, "emitting")
		rep.AcceptedPerSec = float64(cfg.events) / time.Since(start).Seconds()
	case "steady", "isolation":
		inst.startEngine()
		n := em.steady(ctx, cfg.rate, cfg.duration, cfg.concurrency, targets, progress)
		rep.AcceptedPerSec = float64(n) / time.Since(start).Seconds()
	}
	if em.err.Load() != nil {
		return nil, fmt.Errorf("emitting: %w", *em.err.Load())
	}
	want := em.count()
	rep.Events, rep.Deliveries = em.events(), want
	// Wait for every delivery to fast links (slow ones are left to finish).
	fast := want - em.slowCount()
	for rc.fastReceived() < fast {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		progress.show("delivering", rc.fastReceived(), fast)
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	pprof.StopCPUProfile()
	rep.DeliveredPerSec = float64(fast) / elapsed.Seconds()
	lat, dups := em.latencies(rc)
	rep.Duplicates = dups
	rep.P50Ms, rep.P90Ms, rep.P99Ms, rep.MaxMs = percentile(lat, 50), percentile(lat, 90), percentile(lat, 99), percentile(lat, 100)
	conc := min(cfg.workers, cfg.perDataLink*rep.DataLinks)
	rep.Concurrency = conc
	progress.show("baseline", 0, 1)
	rep.BaselinePerSec = baseline(ctx, rc.url+"/baseline/0/0", conc, max(fast, 5000))
	if rep.BaselinePerSec > 0 {
		rep.Ratio = rep.DeliveredPerSec / rep.BaselinePerSec
	}
	return rep, nil
}

// benchIsolation runs steady twice: without slow links, then with 10 % slow.
func benchIsolation(ctx context.Context, cfg benchConfig, progress *progress) (*benchReport, error) {
	if cfg.links < 10 {
		cfg.links = 20
	}
	control, err := benchRun(ctx, cfg, "isolation", 0, progress)
	if err != nil {
		return nil, err
	}
	rep, err := benchRun(ctx, cfg, "isolation", cfg.links/10, progress)
	if err != nil {
		return nil, err
	}
	rep.ControlP99Ms = control.P99Ms
	return rep, nil
}

// benchInstance is labhooks running in this process, as serve wires it,
// with its API on a free port of 127.0.0.1.
type benchInstance struct {
	*instance
	storeName string
	client    *httpapi.Client
	srv       *http.Server
	tmp       string
}

func startBenchInstance(ctx context.Context, cfg benchConfig) (*benchInstance, error) {
	inst := &benchInstance{storeName: "sqlite"}
	dsn := cfg.db
	if dsn == "" {
		dir, err := os.MkdirTemp("", "labhooks-bench")
		if err != nil {
			return nil, err
		}
		inst.tmp, dsn = dir, filepath.Join(dir, "bench.db")
	}
	if isPostgres(dsn) {
		inst.storeName = "postgres"
	}
	store, err := openStore(ctx, dsn)
	if err != nil {
		return nil, err
	}
	adminKey := httpapi.NewAPIKey(httpapi.AdminKeyPrefix)
	sc := serveConfig{
		allowPrivate: true, timeout: delivery.DefaultTimeout, retrySchedule: "5s,5m,30m,2h,5h,10h,10h",
		workers: cfg.workers, perDataLink: cfg.perDataLink, disableAfter: delivery.DefaultDisableAfter,
	}
	inst.instance, err = newInstance(ctx, sc, store, httpapi.KeyHash(adminKey), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		store.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		store.Close()
		return nil, err
	}
	inst.srv = &http.Server{Handler: inst.handler, ReadHeaderTimeout: 10 * time.Second}
	go inst.srv.Serve(ln)
	inst.client = &httpapi.Client{BaseURL: "http://" + ln.Addr().String(), Key: adminKey, HTTP: &http.Client{
		Timeout:   time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: 1024, MaxIdleConns: 1024},
	}}
	return inst, nil
}

func (inst *benchInstance) startEngine() { inst.start() }

func (inst *benchInstance) close() {
	inst.srv.Close()
	inst.stop()
	inst.store.Close()
	if inst.tmp != "" {
		os.RemoveAll(inst.tmp)
	}
}

// emitter emits events through the API and remembers when each delivery was
// asked for.
type emitter struct {
	client  *httpapi.Client
	slow    map[string]bool // partner IDs whose links are slow
	mu      sync.Mutex
	emitted map[string]time.Time // delivery ID → emit start
	slowIDs map[string]bool
	n       int
	err     atomic.Pointer[error]
}

var benchData = json.RawMessage(`{"dashboardUrl":"https://dashboard.daslab.app/labs/1/samples/123","sampleId":123,"appointmentId":45,"locationId":6}`)

func (em *emitter) emitOne(ctx context.Context, partnerID string) {
	body := map[string]any{"eventName": "sampleReceived", "data": benchData}
	if partnerID != "" {
		body["partnerId"] = partnerID
	}
	started := time.Now()
	var out struct {
		Deliveries []struct{ ID string } `json:"deliveries"`
	}
	if err := em.client.Do(ctx, "POST", "/v1/events", body, &out, nil); err != nil {
		em.err.CompareAndSwap(nil, &err)
		return
	}
	em.mu.Lock()
	defer em.mu.Unlock()
	if em.emitted == nil {
		em.emitted, em.slowIDs = map[string]time.Time{}, map[string]bool{}
	}
	em.n++
	for _, d := range out.Deliveries {
		em.emitted[d.ID] = started
		if em.slow[partnerID] {
			em.slowIDs[d.ID] = true
		}
	}
}

// flatOut emits n events as fast as concurrency allows, round-robin over targets.
func (em *emitter) flatOut(ctx context.Context, n, concurrency int, targets []string, progress *progress, label string) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil || em.err.Load() != nil {
					return
				}
				em.emitOne(ctx, targets[i%len(targets)])
				if i%100 == 0 {
					progress.show(label, i, n)
				}
			}
		})
	}
	wg.Wait()
}

// steady emits rate events a second for d and returns how many it emitted.
func (em *emitter) steady(ctx context.Context, rate int, d time.Duration, concurrency int, targets []string, progress *progress) int {
	total := int(float64(rate) * d.Seconds())
	interval := time.Second / time.Duration(rate)
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range total {
		if due := start.Add(time.Duration(i) * interval); time.Until(due) > 0 {
			time.Sleep(time.Until(due))
		}
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			em.emitOne(ctx, targets[i%len(targets)])
		})
		if i%100 == 0 {
			progress.show("emitting", i, total)
		}
	}
	wg.Wait()
	return em.events()
}

func (em *emitter) resetTimes(t time.Time) {
	em.mu.Lock()
	defer em.mu.Unlock()
	for id := range em.emitted {
		em.emitted[id] = t
	}
}

func (em *emitter) events() int {
	em.mu.Lock()
	defer em.mu.Unlock()
	return em.n
}

func (em *emitter) count() int {
	em.mu.Lock()
	defer em.mu.Unlock()
	return len(em.emitted)
}

func (em *emitter) slowCount() int {
	em.mu.Lock()
	defer em.mu.Unlock()
	return len(em.slowIDs)
}

// latencies returns emit→delivered times of the fast links' deliveries, and
// how many deliveries arrived more than once.
func (em *emitter) latencies(rc *benchReceiver) ([]time.Duration, int) {
	em.mu.Lock()
	defer em.mu.Unlock()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]time.Duration, 0, len(em.emitted))
	for id, t := range em.emitted {
		if got, ok := rc.first[id]; ok && !em.slowIDs[id] {
			out = append(out, got.Sub(t))
		}
	}
	return out, rc.dups
}

// benchReceiver is a fast webhook receiver that notes when each webhook-id
// first arrives. Paths under /slow/ answer after 5 s.
type benchReceiver struct {
	url   string
	srv   *http.Server
	mu    sync.Mutex
	first map[string]time.Time
	dups  int
	fast  atomic.Int64
}

func newBenchReceiver() *benchReceiver {
	rc := &benchReceiver{first: map[string]time.Time{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	rc.url = "http://" + ln.Addr().String()
	rc.srv = &http.Server{Handler: http.HandlerFunc(rc.serve), ReadHeaderTimeout: 10 * time.Second}
	go rc.srv.Serve(ln)
	return rc
}

func (rc *benchReceiver) serve(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	now := time.Now()
	if strings.HasPrefix(r.URL.Path, "/slow/") {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}
	if id := r.Header.Get("webhook-id"); id != "" && !strings.HasPrefix(r.URL.Path, "/baseline/") {
		rc.mu.Lock()
		if _, seen := rc.first[id]; seen {
			rc.dups++
		} else {
			rc.first[id] = now
			if !strings.HasPrefix(r.URL.Path, "/slow/") {
				rc.fast.Add(1)
			}
		}
		rc.mu.Unlock()
	}
	w.WriteHeader(http.StatusOK)
}

func (rc *benchReceiver) fastReceived() int { return int(rc.fast.Load()) }

func (rc *benchReceiver) close() { rc.srv.Close() }

// baseline measures a plain Go HTTP client posting the same body, signed the
// same way, at the given concurrency: the ceiling for labhooks' delivery.
func baseline(ctx context.Context, url string, concurrency, n int) float64 {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency, MaxIdleConns: concurrency}}
	body := (&labhooks.Event{EventName: "sampleReceived", Data: benchData}).Body()
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Go(func() {
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("x-api-key", "bench-secret-0123456789-abcdefghij")
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(float64(len(ds)-1) * p / 100)
	return float64(ds[i].Microseconds()) / 1000
}

// peakRSS is the process's high-water resident set size, from /proc.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func printBenchReport(w io.Writer, r *benchReport) {
	fmt.Fprintf(w, "labhooks bench: scenario %s on %s (%s)\n", r.Scenario, r.Store, r.Machine)
	fmt.Fprintf(w, "  events %d, deliveries %d, data links %d, delivery concurrency %d\n", r.Events, r.Deliveries, r.DataLinks, r.Concurrency)
	fmt.Fprintf(w, "  accepted   %10.0f events/s\n", r.AcceptedPerSec)
	fmt.Fprintf(w, "  delivered  %10.0f deliveries/s\n", r.DeliveredPerSec)
	fmt.Fprintf(w, "  baseline   %10.0f requests/s (plain Go client, same receiver and body)\n", r.BaselinePerSec)
	fmt.Fprintf(w, "  ratio      %10.2f delivered/baseline\n", r.Ratio)
	fmt.Fprintf(w, "  latency    p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms (emit → delivered)\n", r.P50Ms, r.P90Ms, r.P99Ms, r.MaxMs)
	if r.ControlP99Ms > 0 {
		fmt.Fprintf(w, "  isolation  fast links' p99 %.1f ms beside slow links, %.1f ms without (%.2fx)\n", r.P99Ms, r.ControlP99Ms, r.P99Ms/r.ControlP99Ms)
	}
	fmt.Fprintf(w, "  duplicates %d\n", r.Duplicates)
	fmt.Fprintf(w, "  peak RSS   %.1f MiB\n", float64(r.PeakRssBytes)/(1<<20))
}

// progress draws a one-line progress bar when stderr is a terminal.
type progress struct {
	w    io.Writer
	tty  bool
	mu   sync.Mutex
	last time.Time
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) show(label string, n, total int) {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	const width = 30
	filled := width * min(n, total) / max(total, 1)
	fmt.Fprintf(p.w, "\r%-11s [%s%s] %d/%d   ", label, strings.Repeat("=", filled), strings.Repeat(" ", width-filled), n, total)
}

func (p *progress) done() {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
