package main

import (
	"context"
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
	"sync"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/httpapi"
	"github.com/labhooks/labhooks/internal/loadgen"
)

const benchUsage = `Usage: labhooks bench [--scenario drain|e2e|steady|fanout|isolation|hostile|backlog] [flags]

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
  hostile    --links partners (default 20) with a fast link each get --rate
             events/s, as in steady; beside them one hostile partner with 50
             links to a receiver that accepts and never answers gets
             --hostile-rate events/s, each to all 50 (default 2: 100
             deliveries/s, enough to want every slot of the pool within one
             timeout); compares the fast links' latency with a clean run
             without the hostile partner, and reports how many of the hostile
             partner's deliveries were attempted and recorded
  backlog    a restart with a backlog, for memory: --events are stored, 64
             at once, through the application layer (as emits store them)
             with the engine off, then ` + "`labhooks serve`" + ` is started on that
             database in a process of its own with its delivery engine
             (--workers, --per-datalink, its defaults otherwise); the receiver
             holds every request for 10 s, then answers, and the scenario
             reports that process's peak RSS (VmHWM of /proc/PID/status)
             while it held the backlog and while it drained it, and how long
             the drain took (try --events 1000000)

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
	hostileRate int
	jsonOut     bool
	oneSample   bool
	cpuProfile  string
	profile     *os.File // open while --cpuprofile is to be written
	// purgeOld, seed and during: see benchpurge.go.
	purgeOld int
	// tracingRuns > 0 runs the scenario that many times each with
	// tracing off and on (benchtracing.go); otelEndpoint is a run's
	// collector, empty: tracing off.
	tracingRuns  int
	otelEndpoint string
	seed         func(context.Context, *benchInstance, []string) error
	during       func(context.Context, *benchInstance, *loadgen.Report) func()
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg benchConfig
	fs := newFlagSet("bench", benchUsage, stderr)
	fs.StringVar(&cfg.scenario, "scenario", "e2e", "drain, e2e, steady, fanout, isolation, hostile or backlog")
	fs.StringVar(&cfg.db, "db", "", "database; default: SQLite in a temporary folder")
	fs.IntVar(&cfg.events, "events", 20000, "events to emit (drain, e2e, backlog; fanout: default 20, each to 1,000 data links)")
	fs.IntVar(&cfg.concurrency, "concurrency", 32, "concurrent emit requests")
	fs.IntVar(&cfg.rate, "rate", 1000, "events per second (steady, isolation, hostile)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to emit (steady, isolation, hostile)")
	fs.IntVar(&cfg.links, "links", 8, "data links, one partner each (drain, e2e, steady, backlog; hostile: the fast partners, default 20)")
	fs.IntVar(&cfg.workers, "workers", labhooks.DefaultWorkers, "concurrent deliveries")
	fs.IntVar(&cfg.perDataLink, "per-datalink", labhooks.DefaultPerDataLink, "concurrent deliveries to one data link")
	fs.IntVar(&cfg.hostileRate, "hostile-rate", 2, "events per second to the hostile partner, each to its 50 links (hostile)")
	fs.BoolVar(&cfg.jsonOut, "json", false, "print one JSON object")
	fs.BoolVar(&cfg.oneSample, "one-sample", false, "every event about the same sample, so every emit raises one entity's sequence (the worst case for it); default: each event about a sample of its own, as real traffic is")
	fs.IntVar(&cfg.purgeOld, "purge-old", 0, "steady: store this many deliveries of events 100 days old, then run steady twice, without a purge and while the purge (retention and history) erases and deletes them, and compare the p99s")
	fs.IntVar(&cfg.tracingRuns, "tracing-runs", 0, "run the scenario this many times each with OpenTelemetry tracing off and on (exporting over OTLP/HTTP to a collector stand-in on 127.0.0.1), alternating, and compare them (default 0: once, tracing off)")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured phase to this file (go tool pprof); for drain, the delivery phase only")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	eventsGiven := false
	fs.Visit(func(f *flag.Flag) { eventsGiven = eventsGiven || f.Name == "events" })
	if _, env := os.LookupEnv(envName(fs, "events")); cfg.scenario == "fanout" && !eventsGiven && !env {
		cfg.events = 20
	}
	switch {
	case !slices.Contains([]string{"drain", "e2e", "steady", "fanout", "isolation", "hostile", "backlog"}, cfg.scenario):
		return usageError{fmt.Errorf("--scenario %q: use drain, e2e, steady, fanout, isolation, hostile or backlog", cfg.scenario)}
	case cfg.events < 1, cfg.concurrency < 1, cfg.rate < 1, cfg.links < 1, cfg.workers < 1, cfg.perDataLink < 1, cfg.hostileRate < 1:
		return usageError{errors.New("--events, --concurrency, --rate, --links, --workers, --per-datalink and --hostile-rate must be positive")}
	case cfg.duration <= 0:
		return usageError{errors.New("--duration must be positive")}
	case cfg.tracingRuns < 0 || cfg.tracingRuns > 0 && (cfg.scenario == "isolation" || cfg.scenario == "hostile" || cfg.scenario == "backlog" || cfg.purgeOld > 0):
		return usageError{errors.New("--tracing-runs: 0 or more, and not with isolation, hostile, backlog or --purge-old")}
	case cfg.scenario == "backlog" && (cfg.cpuProfile != "" || cfg.purgeOld > 0):
		return usageError{errors.New("--scenario backlog: not with --cpuprofile (serve runs in a process of its own) or --purge-old")}
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
	progress := loadgen.NewProgress(stderr)
	var rep *loadgen.Report
	var err error
	switch {
	case cfg.scenario == "isolation":
		rep, err = benchIsolation(ctx, cfg, progress)
	case cfg.scenario == "backlog":
		rep, err = benchBacklog(ctx, cfg, progress)
	case cfg.scenario == "hostile":
		linksGiven := false
		fs.Visit(func(f *flag.Flag) { linksGiven = linksGiven || f.Name == "links" })
		if !linksGiven {
			cfg.links = 20
		}
		rep, err = benchHostile(ctx, cfg, progress)
	case cfg.tracingRuns > 0:
		rep, err = benchTracing(ctx, cfg, progress)
	case cfg.purgeOld > 0 && cfg.scenario == "steady":
		rep, err = benchPurge(ctx, cfg, progress)
	default:
		rep, err = benchRun(ctx, cfg, cfg.scenario, 0, 0, progress)
	}
	progress.Done()
	if err != nil {
		return err
	}
	rep.PeakRssBytes = loadgen.PeakRSS()
	rep.Machine = fmt.Sprintf("%d cores, %s/%s, %s", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	if cfg.jsonOut {
		return printJSON(stdout, rep)
	}
	rep.Print(stdout)
	return nil
}

// benchRun runs one scenario; slowLinks of the data links answer after 5 s.
// With hostileLinks, one more partner has that many links to a receiver that
// never answers.
func benchRun(ctx context.Context, cfg benchConfig, scenario string, slowLinks, hostileLinks int, progress *loadgen.Progress) (*loadgen.Report, error) {
	rc, err := loadgen.NewReceiver()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	inst, err := startBenchInstance(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer inst.close()
	var hang *loadgen.Hanging
	if hostileLinks > 0 {
		if hang, err = loadgen.NewHanging(); err != nil {
			return nil, err
		}
		// Closed before the instance stops, so that its attempts end at once.
		defer hang.Close()
	}

	// Partners and data links. fanout: 20 partners of 50 links; otherwise
	// one link per partner, each event to one partner in turn.
	partners, links := cfg.links, 1
	if scenario == "fanout" {
		partners, links = 20, 50
	}
	var targets []string
	admin := &app.Caller{Admin: true}
	for i := range partners {
		p, err := inst.app.CreatePartner(ctx, admin, app.PartnerInput{Name: fmt.Sprintf("bench lab %d", i), Role: labhooks.RoleLab})
		if err != nil {
			return nil, err
		}
		for j := range links {
			path := fmt.Sprintf("/fast/%d/%d", i, j)
			if i < slowLinks {
				path = fmt.Sprintf("/slow/%d/%d", i, j)
			}
			if _, err := inst.app.CreateDataLink(ctx, admin, p.ID, app.DataLinkInput{URL: rc.URL + path, Secret: loadgen.Secret}); err != nil {
				return nil, err
			}
		}
		targets = append(targets, p.ID)
	}
	hostileID := ""
	if hostileLinks > 0 {
		p, err := inst.app.CreatePartner(ctx, admin, app.PartnerInput{Name: "hostile lab", Role: labhooks.RoleLab})
		if err != nil {
			return nil, err
		}
		for j := range hostileLinks {
			if _, err := inst.app.CreateDataLink(ctx, admin, p.ID, app.DataLinkInput{URL: fmt.Sprintf("%s/hang/%d", hang.URL, j), Secret: loadgen.Secret}); err != nil {
				return nil, err
			}
		}
		hostileID = p.ID
	}

	rep := &loadgen.Report{Scenario: scenario, Store: inst.storeName, DataLinks: partners * links}
	if cfg.seed != nil {
		if err := cfg.seed(ctx, inst, targets); err != nil {
			return nil, err
		}
	}
	em := &loadgen.Emitter{Client: inst.client, Slow: map[string]bool{}, OneSample: cfg.oneSample}
	for i := range slowLinks {
		em.Slow[targets[i]] = true
	}
	if hostileID != "" {
		em.Slow[hostileID] = true
	}
	if cfg.profile != nil && scenario != "drain" {
		pprof.StartCPUProfile(cfg.profile)
	}
	start := time.Now()
	switch scenario {
	case "drain":
		em.FlatOut(ctx, cfg.events, cfg.concurrency, targets, progress, "accepting")
		rep.AcceptedPerSec = float64(cfg.events) / time.Since(start).Seconds()
		// The clock restarts: drain measures the engine alone.
		if cfg.profile != nil {
			pprof.StartCPUProfile(cfg.profile)
		}
		start = time.Now()
		em.ResetTimes(start)
		inst.startEngine()
	case "e2e":
		inst.startEngine()
		em.FlatOut(ctx, cfg.events, cfg.concurrency, targets, progress, "emitting")
		rep.AcceptedPerSec = float64(cfg.events) / time.Since(start).Seconds()
	case "fanout":
		inst.startEngine()
		em.FlatOut(ctx, cfg.events, 1, []string{""}, progress, "emitting")
		rep.AcceptedPerSec = float64(cfg.events) / time.Since(start).Seconds()
	case "steady", "isolation", "hostile":
		inst.startEngine()
		if cfg.during != nil {
			defer cfg.during(ctx, inst, rep)()
		}
		var hostile sync.WaitGroup
		if hostileID != "" {
			// Its own emitter, so the fast partners get the same events as in
			// the clean run; the progress bar follows theirs.
			hostile.Go(func() {
				em.Steady(ctx, cfg.hostileRate, cfg.duration, cfg.concurrency, []string{hostileID}, loadgen.NewProgress(io.Discard))
			})
		}
		em.Steady(ctx, cfg.rate, cfg.duration, cfg.concurrency, targets, progress)
		hostile.Wait()
		rep.AcceptedPerSec = float64(em.Events()) / time.Since(start).Seconds()
	}
	if err := em.Err(); err != nil {
		return nil, fmt.Errorf("emitting: %w", err)
	}
	want := em.Deliveries()
	rep.Events, rep.Deliveries = em.Events(), want
	// Wait for every delivery to fast links (slow ones are left to finish).
	fast := want - em.SlowDeliveries()
	for rc.FastReceived() < fast {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		progress.Show("delivering", rc.FastReceived(), fast)
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	pprof.StopCPUProfile()
	if hostileID != "" {
		h, err := hostileOutcome(ctx, inst, hostileID, hostileLinks, em.SlowDeliveries(), hang, progress)
		if err != nil {
			return nil, err
		}
		rep.Hostile = h
	}
	rep.DeliveredPerSec = float64(fast) / elapsed.Seconds()
	lat, dups := em.Latencies(rc)
	rep.Duplicates = dups
	rep.P50Ms, rep.P90Ms, rep.P99Ms, rep.MaxMs = loadgen.Percentile(lat, 50), loadgen.Percentile(lat, 90), loadgen.Percentile(lat, 99), loadgen.Percentile(lat, 100)
	conc := min(cfg.workers, cfg.perDataLink*rep.DataLinks)
	rep.Concurrency = conc
	progress.Show("baseline", 0, 1)
	rep.BaselinePerSec = loadgen.Baseline(ctx, rc.URL+"/baseline/0/0", conc, max(fast, 5000))
	if rep.BaselinePerSec > 0 {
		rep.Ratio = rep.DeliveredPerSec / rep.BaselinePerSec
	}
	return rep, nil
}

// hostileOutcome waits until every hostile link has had an attempt recorded
// (or twice the attempt timeout and the lease has passed), then counts what
// was attempted and recorded of the hostile partner's deliveries.
func hostileOutcome(ctx context.Context, inst *benchInstance, partnerID string, links, deliveries int, hang *loadgen.Hanging, progress *loadgen.Progress) (*loadgen.HostileReport, error) {
	h := &loadgen.HostileReport{DataLinks: links, Deliveries: deliveries}
	count := func() error {
		h.Recorded, h.AttemptedDeliveries = 0, 0
		f := labhooks.DeliveryFilter{PartnerID: &partnerID, Limit: labhooks.MaxLimit}
		for {
			ds, next, err := inst.app.Deliveries(ctx, &app.Caller{Admin: true}, f)
			if err != nil {
				return err
			}
			for _, d := range ds {
				h.Recorded += d.AttemptCount
				if d.AttemptCount > 0 {
					h.AttemptedDeliveries++
				}
			}
			if next == "" {
				return nil
			}
			f.Before = &next
		}
	}
	deadline := time.Now().Add(2*labhooks.DefaultTimeout + labhooks.LeaseMargin)
	for {
		if err := count(); err != nil {
			return nil, err
		}
		if h.Recorded >= links || time.Now().After(deadline) {
			break
		}
		progress.Show("hostile", h.Recorded, links)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	h.Attempted, h.MaxInFlight = hang.Requests(), hang.Peak()
	return h, nil
}

// benchHostile runs steady twice in one invocation: fast partners alone
// (clean), then beside a hostile partner with 50 links that never answer.
func benchHostile(ctx context.Context, cfg benchConfig, progress *loadgen.Progress) (*loadgen.Report, error) {
	cleanCfg := cfg
	cleanCfg.profile = nil // --cpuprofile profiles the run beside the hostile partner
	clean, err := benchRun(ctx, cleanCfg, "hostile", 0, 0, progress)
	if err != nil {
		return nil, err
	}
	rep, err := benchRun(ctx, cfg, "hostile", 0, hostileLinks, progress)
	if err != nil {
		return nil, err
	}
	rep.ControlP50Ms, rep.ControlP99Ms = clean.P50Ms, clean.P99Ms
	return rep, nil
}

// hostileLinks is the hostile partner's number of data links in the hostile
// scenario: the most a partner may have.
const hostileLinks = labhooks.MaxDataLinksPerPartner

// benchIsolation runs steady twice: without slow links, then with 10 % slow.
func benchIsolation(ctx context.Context, cfg benchConfig, progress *loadgen.Progress) (*loadgen.Report, error) {
	if cfg.links < 10 {
		cfg.links = 20
	}
	controlCfg := cfg
	controlCfg.profile = nil // --cpuprofile profiles the run with slow links
	control, err := benchRun(ctx, controlCfg, "isolation", 0, 0, progress)
	if err != nil {
		return nil, err
	}
	rep, err := benchRun(ctx, cfg, "isolation", cfg.links/10, 0, progress)
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
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, due, err := openStore(ctx, dsn, log)
	if err != nil {
		return nil, err
	}
	adminKey := labhooks.NewAPIKey(labhooks.AdminKeyPrefix)
	sc := serveConfig{
		allowPrivate: true, timeout: labhooks.DefaultTimeout, retrySchedule: labhooks.FormatRetrySchedule(labhooks.DefaultRetrySchedule),
		workers: cfg.workers, perDataLink: cfg.perDataLink, disableAfter: labhooks.DefaultDisableAfter,
		otelEndpoint: cfg.otelEndpoint,
	}
	inst.instance, err = newInstance(ctx, sc, store, due, labhooks.KeyHash(adminKey), log)
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
