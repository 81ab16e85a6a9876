package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/internal/loadgen"
)

// backlogHold is how long the backlog scenario's serve holds its backlog
// before the receiver answers: below the default --timeout, so that the
// attempts held meanwhile succeed rather than time out. A variable for
// tests.
var backlogHold = 10 * time.Second

// benchBacklog measures the memory of a `labhooks serve` process alone
// while it holds cfg.events pending deliveries and while it drains them: a
// restart with a backlog. This process stores the events through the
// application layer, as emits do (the engine off, so every delivery stays
// pending and due), and closes the database; then it starts `labhooks
// serve` on it as a child process, with its delivery engine, against the
// receiver, which holds every request for backlogHold and then answers at
// once. The child's memory is read from /proc/PID/status throughout, so
// this process's bookkeeping (the receiver's record of every delivery) is
// not in it.
func benchBacklog(ctx context.Context, cfg benchConfig, progress *loadgen.Progress) (*loadgen.Report, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if cfg.db == "" {
		dir, err := os.MkdirTemp("", "labhooks-bench")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		cfg.db = filepath.Join(dir, "bench.db")
	}
	rc, err := loadgen.NewReceiver()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	rc.Hold()
	defer rc.Release()

	// Store the backlog with this process's engine off.
	seedCfg := cfg
	seedCfg.workers = 0
	inst, err := startBenchInstance(ctx, seedCfg)
	if err != nil {
		return nil, err
	}
	rep := &loadgen.Report{Scenario: "backlog", Store: inst.storeName, DataLinks: cfg.links}
	seedStart := time.Now()
	deliveries, err := seedPending(ctx, inst, rc.URL, cfg, progress)
	inst.close()
	if err != nil {
		return nil, err
	}
	rep.Events, rep.Deliveries = cfg.events, deliveries
	rep.AcceptedPerSec = float64(cfg.events) / time.Since(seedStart).Seconds()

	// Restart on it: serve, in its own process.
	adminKey := labhooks.NewAPIKey(labhooks.AdminKeyPrefix)
	cmd := exec.CommandContext(ctx, exe, "serve", "--db", cfg.db, "--addr", "127.0.0.1:0", "--admin-key", adminKey,
		"--allow-private-targets", "--workers", strconv.Itoa(cfg.workers), "--per-datalink", strconv.Itoa(cfg.perDataLink),
		"--log-level", "warn")
	// serve on its defaults and these flags: none of this environment's
	// LABHOOKS_* settings (its database, its secrets key), nor OTEL_*.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "LABHOOKS_") || strings.HasPrefix(kv, "OTEL_")
	})
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	var logs tailBuffer
	cmd.Stderr = &logs
	listening := &lineWatcher{re: listeningRE, found: make(chan string, 1)}
	cmd.Stdout = listening
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	var exitErr error
	go func() { exitErr = cmd.Wait(); close(exited) }()
	defer func() {
		rc.Release() // so that its attempts in flight end at once
		cmd.Process.Signal(syscall.SIGTERM)
		<-exited
	}()
	pid := strconv.Itoa(cmd.Process.Pid)
	var base string
	select {
	case base = <-listening.found:
	case <-exited:
		return nil, fmt.Errorf("labhooks serve did not start: %v\n%s", exitErr, logs.String())
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s := &loadgen.ServeMemory{PID: cmd.Process.Pid, StartSeconds: time.Since(started).Seconds()}
	rep.Serve = s

	// Sample the child's memory until it is stopped.
	var maxRSS atomic.Int64
	sampleStop := make(chan struct{})
	var sampling sync.WaitGroup
	sampling.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if m := loadgen.ProcMemory(pid); m.RSS > maxRSS.Load() {
				maxRSS.Store(m.RSS)
			}
			select {
			case <-sampleStop:
				return
			case <-t.C:
			}
		}
	})
	stopSampling := sync.OnceFunc(func() { close(sampleStop); sampling.Wait() })
	defer stopSampling()

	// Hold: the engine claims, the receiver holds its requests.
	holdEnd := time.Now().Add(backlogHold)
	if s.PendingAtStart, err = pendingGauge(ctx, base); err != nil {
		return nil, err
	}
	for time.Now().Before(holdEnd) {
		progress.Show("holding the backlog", int(backlogHold-time.Until(holdEnd))/int(time.Millisecond), int(backlogHold/time.Millisecond))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	if rc.FastReceived() != 0 {
		return nil, fmt.Errorf("the receiver counted %d deliveries while it held them", rc.FastReceived())
	}
	m := loadgen.ProcMemory(pid)
	s.HoldSeconds = backlogHold.Seconds()
	s.HoldPeakRssBytes, s.HoldRssFileBytes = m.HWM, m.File
	g, err := gauges(ctx, base)
	if err != nil {
		return nil, err
	}
	s.HoldGoSysBytes, s.HoldGoHeapInuseBytes = g["go_memstats_sys_bytes"], g["go_memstats_heap_inuse_bytes"]

	// Drain.
	maxRSS.Store(0)
	drainStart := time.Now()
	rc.Release()
	for rc.FastReceived() < deliveries {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		select {
		case <-exited:
			return nil, fmt.Errorf("labhooks serve stopped while draining: %v\n%s", exitErr, logs.String())
		default:
		}
		progress.Show("draining", rc.FastReceived(), deliveries)
		time.Sleep(100 * time.Millisecond)
	}
	s.DrainSeconds = time.Since(drainStart).Seconds()
	rep.DeliveredPerSec = float64(deliveries) / s.DrainSeconds
	// The queue is empty once the last attempts are recorded.
	for {
		if s.PendingAtEnd, err = pendingGauge(ctx, base); err != nil || s.PendingAtEnd == 0 || time.Since(drainStart) > time.Duration(s.DrainSeconds*float64(time.Second))+30*time.Second {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		return nil, err
	}
	stopSampling()
	if g, err = gauges(ctx, base); err != nil {
		return nil, err
	}
	s.GoSysBytes = g["go_memstats_sys_bytes"]
	m = loadgen.ProcMemory(pid)
	s.PeakRssBytes, s.RssFileBytes, s.DrainMaxRssBytes = m.HWM, m.File, maxRSS.Load()
	cmd.Process.Signal(syscall.SIGTERM)
	<-exited
	if exitErr != nil {
		return nil, fmt.Errorf("labhooks serve: %v\n%s", exitErr, logs.String())
	}
	rep.Duplicates = rc.Duplicates()

	rep.Concurrency = min(cfg.workers, cfg.perDataLink*rep.DataLinks)
	progress.Show("baseline", 0, 1)
	rep.BaselinePerSec = loadgen.Baseline(ctx, rc.URL+"/baseline/0/0", rep.Concurrency, min(max(deliveries, 5000), 200000))
	if rep.BaselinePerSec > 0 {
		rep.Ratio = rep.DeliveredPerSec / rep.BaselinePerSec
	}
	return rep, nil
}

// seedPending creates cfg.links partners with a data link each to the
// receiver at url and emits cfg.events events through the application
// layer, as the API does, round-robin over the partners; it returns the
// deliveries they made.
func seedPending(ctx context.Context, inst *benchInstance, url string, cfg benchConfig, progress *loadgen.Progress) (int, error) {
	admin := &app.Caller{Admin: true}
	var targets []string
	for i := range cfg.links {
		p, err := inst.app.CreatePartner(ctx, admin, app.PartnerInput{Name: fmt.Sprintf("bench lab %d", i), Role: labhooks.RoleLab})
		if err != nil {
			return 0, err
		}
		if _, err := inst.app.CreateDataLink(ctx, admin, p.ID, app.DataLinkInput{URL: fmt.Sprintf("%s/fast/%d/0", url, i), Secret: loadgen.Secret}); err != nil {
			return 0, err
		}
		targets = append(targets, p.ID)
	}
	var next, deliveries atomic.Int64
	var first atomic.Pointer[error]
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= cfg.events || ctx.Err() != nil || first.Load() != nil {
					return
				}
				res, err := inst.app.Emit(ctx, admin, app.EmitInput{EventName: "sampleReceived", Data: loadgen.Data, PartnerID: targets[i%len(targets)]})
				if err != nil {
					first.CompareAndSwap(nil, &err)
					return
				}
				deliveries.Add(int64(len(res.Deliveries)))
				if i%1000 == 0 {
					progress.Show("storing pending deliveries", i, cfg.events)
				}
			}
		})
	}
	wg.Wait()
	if p := first.Load(); p != nil {
		return 0, fmt.Errorf("storing the backlog: %w", *p)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return int(deliveries.Load()), nil
}

var listeningRE = regexp.MustCompile(`listening on (http://\S+)`)

// lineWatcher is a child's output: it sends the first submatch of re in
// the first line that matches to found, and discards the rest.
type lineWatcher struct {
	re    *regexp.Regexp
	found chan string
	line  []byte
	done  bool
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	for i := 0; i < len(p) && !w.done; i++ {
		if p[i] != '\n' {
			w.line = append(w.line, p[i])
			continue
		}
		if m := w.re.FindSubmatch(w.line); m != nil {
			w.found <- string(m[1])
			w.done, w.line = true, nil
		}
		w.line = w.line[:0]
	}
	return len(p), nil
}

// pendingGauge reads labhooks_queue_pending from serve's /metrics.
func pendingGauge(ctx context.Context, base string) (int64, error) {
	g, err := gauges(ctx, base)
	if err != nil {
		return 0, err
	}
	v, ok := g["labhooks_queue_pending"]
	if !ok {
		return 0, fmt.Errorf("%s/metrics: no labhooks_queue_pending", base)
	}
	return v, nil
}

// gauges reads serve's /metrics: every sample without labels.
func gauges(ctx context.Context, base string) (map[string]int64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s/metrics: HTTP %d", base, resp.StatusCode)
	}
	out := map[string]int64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil { // such as 1e+06
			out[name] = int64(f)
		}
	}
	return out, sc.Err()
}

// tailBuffer keeps the last 8 KiB written to it: a child's last words.
type tailBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b.Write(p)
	if n := t.b.Len(); n > 8<<10 {
		t.b.Next(n - 8<<10)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.b.String()
}
