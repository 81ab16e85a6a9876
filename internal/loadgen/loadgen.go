// Package loadgen is `labhooks bench`'s tooling, kept out of the product's
// code: a fast webhook receiver that notes when each delivery first
// arrives, an emitter that drives the HTTP API, the bare-HTTP baseline, and
// the report.
package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/httpapi"
)

// Secret is the data links' secret in every scenario.
const Secret = "bench-secret-0123456789-abcdefghij"

// Emitter emits events through the API and remembers when each delivery was
// asked for.
type Emitter struct {
	Client *httpapi.Client
	// Slow are the partner IDs whose links are slow; their deliveries are
	// left out of the latencies.
	Slow map[string]bool
	// OneSample makes every event about the same sample (Data's), so that
	// every emit raises one entity's sequence: the worst case for it.
	// Otherwise each event is about a sample of its own, as real traffic
	// is (the sequence's counter rows are then all different).
	OneSample bool
	samples   atomic.Int64
	mu        sync.Mutex
	emitted   map[string]time.Time // delivery ID → emit start
	slowIDs   map[string]bool
	n         int
	err       atomic.Pointer[error]
}

// Data is the sampleReceived event every scenario emits.
var Data = json.RawMessage(`{"dashboardUrl":"https://dashboard.daslab.app/labs/1/samples/123","sampleId":123,"appointmentId":45,"locationId":6}`)

func (em *Emitter) emitOne(ctx context.Context, partnerID string) {
	data := Data
	if !em.OneSample {
		// Data with a sample of its own, 123 + n: the same size to a few
		// bytes.
		n := 123 + em.samples.Add(1)
		data = json.RawMessage(`{"dashboardUrl":"https://dashboard.daslab.app/labs/1/samples/` + strconv.FormatInt(n, 10) +
			`","sampleId":` + strconv.FormatInt(n, 10) + `,"appointmentId":45,"locationId":6}`)
	}
	body := map[string]any{"eventName": "sampleReceived", "data": data}
	if partnerID != "" {
		body["partnerId"] = partnerID
	}
	started := time.Now()
	var out struct {
		Deliveries []struct{ ID string } `json:"deliveries"`
	}
	if err := em.Client.Do(ctx, "POST", "/v1/events", body, &out, nil); err != nil {
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
		if em.Slow[partnerID] {
			em.slowIDs[d.ID] = true
		}
	}
}

// Err is the first emit that failed, if any.
func (em *Emitter) Err() error {
	if p := em.err.Load(); p != nil {
		return *p
	}
	return nil
}

// FlatOut emits n events as fast as concurrency allows, round-robin over
// targets (partner IDs; "" for every partner).
func (em *Emitter) FlatOut(ctx context.Context, n, concurrency int, targets []string, progress *Progress, label string) {
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
					progress.Show(label, i, n)
				}
			}
		})
	}
	wg.Wait()
}

// Steady emits rate events a second for d and returns how many it emitted.
func (em *Emitter) Steady(ctx context.Context, rate int, d time.Duration, concurrency int, targets []string, progress *Progress) int {
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
			progress.Show("emitting", i, total)
		}
	}
	wg.Wait()
	return em.Events()
}

// ResetTimes makes every delivery asked for at t: drain measures the
// engine from when it starts.
func (em *Emitter) ResetTimes(t time.Time) {
	em.mu.Lock()
	defer em.mu.Unlock()
	for id := range em.emitted {
		em.emitted[id] = t
	}
}

// Events is how many events were accepted.
func (em *Emitter) Events() int {
	em.mu.Lock()
	defer em.mu.Unlock()
	return em.n
}

// Deliveries is how many deliveries the accepted events made.
func (em *Emitter) Deliveries() int {
	em.mu.Lock()
	defer em.mu.Unlock()
	return len(em.emitted)
}

// SlowDeliveries is how many of them go to slow links.
func (em *Emitter) SlowDeliveries() int {
	em.mu.Lock()
	defer em.mu.Unlock()
	return len(em.slowIDs)
}

// Latencies returns emit→delivered times of the fast links' deliveries, and
// how many deliveries arrived more than once.
func (em *Emitter) Latencies(rc *Receiver) ([]time.Duration, int) {
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

// Receiver is a fast webhook receiver on 127.0.0.1 that notes when each
// webhook-id first arrives. Paths under /slow/ answer after 5 s; those
// under /baseline/ are not counted.
type Receiver struct {
	// URL is its root, such as http://127.0.0.1:40123.
	URL   string
	srv   *http.Server
	mu    sync.Mutex
	first map[string]time.Time
	dups  int
	fast  atomic.Int64
	// gate, while set, holds every request until it is closed (Hold,
	// Release).
	gate atomic.Pointer[chan struct{}]
}

// Hold makes the receiver hold every request, unanswered and uncounted,
// until Release.
func (rc *Receiver) Hold() {
	ch := make(chan struct{})
	rc.gate.Store(&ch)
}

// Release answers the requests held since Hold, and those after at once.
func (rc *Receiver) Release() {
	if ch := rc.gate.Swap(nil); ch != nil {
		close(*ch)
	}
}

// NewReceiver starts a Receiver.
func NewReceiver() (*Receiver, error) {
	rc := &Receiver{first: map[string]time.Time{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc.URL = "http://" + ln.Addr().String()
	rc.srv = &http.Server{Handler: http.HandlerFunc(rc.serve), ReadHeaderTimeout: 10 * time.Second}
	go rc.srv.Serve(ln)
	return rc, nil
}

func (rc *Receiver) serve(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	if ch := rc.gate.Load(); ch != nil {
		select {
		case <-*ch:
		case <-r.Context().Done():
			return // given up by the sender: not received
		}
	}
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

// Duplicates is how many deliveries arrived more than once.
func (rc *Receiver) Duplicates() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.dups
}

// FastReceived is how many distinct deliveries reached fast paths.
func (rc *Receiver) FastReceived() int { return int(rc.fast.Load()) }

// Close stops the receiver.
func (rc *Receiver) Close() { rc.srv.Close() }

// Baseline measures a plain Go HTTP client posting the same body, with the
// same key header, at the given concurrency: the ceiling for labhooks'
// delivery, in requests a second.
func Baseline(ctx context.Context, url string, concurrency, n int) float64 {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency, MaxIdleConns: concurrency}}
	body := (&labhooks.Event{EventName: "sampleReceived", Data: Data}).Body()
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Go(func() {
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("x-api-key", Secret)
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

// Percentile returns the p-th percentile of ds in milliseconds.
func Percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(float64(len(ds)-1) * p / 100)
	return float64(ds[i].Microseconds()) / 1000
}

// PeakRSS is the process's high-water resident set size, from /proc.
func PeakRSS() int64 { return ProcMemory("self").HWM }

// Memory is a process's resident memory as /proc/PID/status reports it,
// in bytes.
type Memory struct {
	// HWM is the peak resident set size (VmHWM) since the process began,
	// RSS the current one (VmRSS), of which Anon is anonymous memory
	// (RssAnon: the Go heap, stacks) and File file-backed pages (RssFile:
	// the binary, memory-mapped files).
	HWM, RSS, Anon, File int64
}

// ProcMemory reads /proc/PID/status; pid "self" is this process. A field
// it cannot read is 0.
func ProcMemory(pid string) Memory {
	var m Memory
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return m
	}
	defer f.Close()
	fields := map[string]*int64{"VmHWM:": &m.HWM, "VmRSS:": &m.RSS, "RssAnon:": &m.Anon, "RssFile:": &m.File}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, v, _ := strings.Cut(sc.Text(), "\t")
		if p, ok := fields[strings.TrimSpace(name)]; ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			*p = kb * 1024
		}
	}
	return m
}

// Report is what bench prints; with --json, as one object.
type Report struct {
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
	// PurgeControlP99Ms is, for steady with --purge-old, the p99 of a run
	// without a purge; P99Ms is then the p99 while the purge erased
	// PurgeErased payloads and deleted PurgeDeleted events (with their
	// deliveries) in PurgeSeconds.
	PurgeControlP99Ms float64 `json:"purgeControlP99Ms,omitempty"`
	PurgeErased       int     `json:"purgeErased,omitempty"`
	PurgeDeleted      int     `json:"purgeDeleted,omitempty"`
	PurgeSeconds      float64 `json:"purgeSeconds,omitempty"`
	// ControlP50Ms is, for hostile, the fast links' p50 in the clean run.
	ControlP50Ms float64 `json:"controlP50Ms,omitempty"`
	// Hostile is, for hostile, what became of the hostile partner's
	// deliveries.
	Hostile *HostileReport `json:"hostile,omitempty"`
	// Serve is, for backlog, the memory of the serve process that held and
	// drained the backlog.
	Serve *ServeMemory `json:"serve,omitempty"`
	// Tracing compares runs with tracing off and on (--tracing-runs).
	Tracing *TracingComparison `json:"tracing,omitempty"`
	Machine string             `json:"machine"`
}

// ServeMemory is what the backlog scenario measured of its `labhooks
// serve` process, from /proc/PID/status (bytes) and /metrics.
type ServeMemory struct {
	PID int `json:"pid"`
	// StartSeconds is from starting the process to its listening.
	StartSeconds float64 `json:"startSeconds"`
	// PendingAtStart is labhooks_queue_pending as the hold began;
	// PendingAtEnd once every delivery had arrived (and its attempt was
	// recorded: 0).
	PendingAtStart int64 `json:"pendingAtStart"`
	PendingAtEnd   int64 `json:"pendingAtEnd"`
	// HoldPeakRssBytes is VmHWM after HoldSeconds of holding the backlog
	// (the engine running, the receiver holding every request), of which
	// HoldRssFileBytes file-backed.
	HoldSeconds      float64 `json:"holdSeconds"`
	HoldPeakRssBytes int64   `json:"holdPeakRssBytes"`
	HoldRssFileBytes int64   `json:"holdRssFileBytes"`
	// HoldGoSysBytes is what the Go runtime had from the system then
	// (go_memstats_sys_bytes), HoldGoHeapInuseBytes its heap in use: the
	// rest of the anonymous memory is outside Go's heap (SQLite's page
	// caches, which the pure-Go driver allocates itself).
	HoldGoSysBytes       int64 `json:"holdGoSysBytes"`
	HoldGoHeapInuseBytes int64 `json:"holdGoHeapInuseBytes"`
	// DrainSeconds is from the receiver's answering to the last delivery's
	// arrival; DrainMaxRssBytes the highest VmRSS sampled (every 100 ms)
	// meanwhile.
	DrainSeconds     float64 `json:"drainSeconds"`
	DrainMaxRssBytes int64   `json:"drainMaxRssBytes"`
	// PeakRssBytes is VmHWM at the end: the peak over the process's life
	// (Linux updates it lazily: a VmRSS sample can be a few pages above
	// it); RssFileBytes the file-backed part then.
	PeakRssBytes int64 `json:"peakRssBytes"`
	RssFileBytes int64 `json:"rssFileBytes"`
	// GoSysBytes is go_memstats_sys_bytes at the end.
	GoSysBytes int64 `json:"goSysBytes"`
}

// HostileReport is what became of the hostile partner's deliveries by the
// end of a hostile run.
type HostileReport struct {
	DataLinks  int `json:"dataLinks"`
	Deliveries int `json:"deliveries"`
	// Attempted is how many requests reached the hanging receiver;
	// Recorded how many attempts of its deliveries the store holds, and
	// AttemptedDeliveries how many of its deliveries have at least one.
	Attempted           int `json:"attempted"`
	Recorded            int `json:"recorded"`
	AttemptedDeliveries int `json:"attemptedDeliveries"`
	// MaxInFlight is the most of its attempts that were under way at once.
	MaxInFlight int `json:"maxInFlight"`
}

// TracingComparison is the delivered rate and p99 of runs with tracing off
// and on, in the order they ran (alternating), and what the on runs
// exported.
type TracingComparison struct {
	Runs                int       `json:"runs"`
	OffPerSec, OnPerSec []float64 `json:"-"`
	OffP99Ms, OnP99Ms   []float64 `json:"-"`
	Exports             int64     `json:"exports"`
	ExportedBytes       int64     `json:"exportedBytes"`
}

// MarshalJSON adds the medians and ratios.
func (t *TracingComparison) MarshalJSON() ([]byte, error) {
	type plain TracingComparison
	return json.Marshal(struct {
		*plain
		OffPerSec []float64 `json:"offDeliveredPerSec"`
		OnPerSec  []float64 `json:"onDeliveredPerSec"`
		OffP99Ms  []float64 `json:"offP99Ms"`
		OnP99Ms   []float64 `json:"onP99Ms"`
		RateRatio float64   `json:"rateRatioOnOff"`
		P99Ratio  float64   `json:"p99RatioOnOff"`
	}{(*plain)(t), t.OffPerSec, t.OnPerSec, t.OffP99Ms, t.OnP99Ms, t.RateRatio(), t.P99Ratio()})
}

// RateRatio is the median delivered rate with tracing on over that with it
// off; P99Ratio the same of the p99s.
func (t *TracingComparison) RateRatio() float64 { return median(t.OnPerSec) / median(t.OffPerSec) }
func (t *TracingComparison) P99Ratio() float64  { return median(t.OnP99Ms) / median(t.OffP99Ms) }

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Print writes the report for people.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "labhooks bench: scenario %s on %s (%s)\n", r.Scenario, r.Store, r.Machine)
	fmt.Fprintf(w, "  events %d, deliveries %d, data links %d, delivery concurrency %d\n", r.Events, r.Deliveries, r.DataLinks, r.Concurrency)
	fmt.Fprintf(w, "  accepted   %10.0f events/s\n", r.AcceptedPerSec)
	fmt.Fprintf(w, "  delivered  %10.0f deliveries/s\n", r.DeliveredPerSec)
	fmt.Fprintf(w, "  baseline   %10.0f requests/s (plain Go client, same receiver and body)\n", r.BaselinePerSec)
	fmt.Fprintf(w, "  ratio      %10.2f delivered/baseline\n", r.Ratio)
	if r.Serve == nil {
		fmt.Fprintf(w, "  latency    p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms (emit → delivered)\n", r.P50Ms, r.P90Ms, r.P99Ms, r.MaxMs)
	}
	if h := r.Hostile; h != nil {
		fmt.Fprintf(w, "  hostile    fast links' p50 %.1f ms, p99 %.1f ms beside a hostile partner; %.1f ms, %.1f ms without (p99 %.2fx)\n",
			r.P50Ms, r.P99Ms, r.ControlP50Ms, r.ControlP99Ms, r.P99Ms/r.ControlP99Ms)
		fmt.Fprintf(w, "             hostile partner: %d links, %d deliveries, %d attempted (at most %d at once), %d attempts recorded on %d deliveries\n",
			h.DataLinks, h.Deliveries, h.Attempted, h.MaxInFlight, h.Recorded, h.AttemptedDeliveries)
	} else if r.ControlP99Ms > 0 {
		fmt.Fprintf(w, "  isolation  fast links' p99 %.1f ms beside slow links, %.1f ms without (%.2fx)\n", r.P99Ms, r.ControlP99Ms, r.P99Ms/r.ControlP99Ms)
	}
	if r.PurgeControlP99Ms > 0 {
		fmt.Fprintf(w, "  purge      erased %d payloads and deleted %d old events with their deliveries in %.1f s; p99 %.1f ms during it, %.1f ms without (%.2fx)\n",
			r.PurgeErased, r.PurgeDeleted, r.PurgeSeconds, r.P99Ms, r.PurgeControlP99Ms, r.P99Ms/r.PurgeControlP99Ms)
	}
	if t := r.Tracing; t != nil {
		fmt.Fprintf(w, "  tracing    %d runs each, alternating off/on; the figures above are the last on run's\n", t.Runs)
		fmt.Fprintf(w, "    off      delivered/s %s, p99 ms %s\n", floats(t.OffPerSec, "%.0f"), floats(t.OffP99Ms, "%.1f"))
		fmt.Fprintf(w, "    on       delivered/s %s, p99 ms %s\n", floats(t.OnPerSec, "%.0f"), floats(t.OnP99Ms, "%.1f"))
		fmt.Fprintf(w, "    on/off   delivered/s %.3f, p99 %.3f (medians); %d OTLP exports, %.1f MiB\n",
			t.RateRatio(), t.P99Ratio(), t.Exports, float64(t.ExportedBytes)/(1<<20))
	}
	fmt.Fprintf(w, "  duplicates %d\n", r.Duplicates)
	if s := r.Serve; s != nil {
		mib := func(b int64) float64 { return float64(b) / (1 << 20) }
		fmt.Fprintf(w, "  serve      pid %d, listening after %.1f s; pending %d at the start, %d at the end\n", s.PID, s.StartSeconds, s.PendingAtStart, s.PendingAtEnd)
		fmt.Fprintf(w, "    hold     %.0f s: peak RSS %.1f MiB (%.1f MiB file-backed; the Go runtime had %.1f MiB from the system, %.1f MiB of heap in use)\n",
			s.HoldSeconds, mib(s.HoldPeakRssBytes), mib(s.HoldRssFileBytes), mib(s.HoldGoSysBytes), mib(s.HoldGoHeapInuseBytes))
		fmt.Fprintf(w, "    drain    %.1f s: RSS at most %.1f MiB\n", s.DrainSeconds, mib(s.DrainMaxRssBytes))
		fmt.Fprintf(w, "    overall  peak RSS %.1f MiB (%.1f MiB file-backed at the end; the Go runtime had %.1f MiB from the system)\n", mib(s.PeakRssBytes), mib(s.RssFileBytes), mib(s.GoSysBytes))
		fmt.Fprintf(w, "  peak RSS   %.1f MiB (this process: the seeding, the receiver and its record of every delivery)\n", mib(r.PeakRssBytes))
		return
	}
	fmt.Fprintf(w, "  peak RSS   %.1f MiB\n", float64(r.PeakRssBytes)/(1<<20))
}

// Progress draws a one-line progress bar when its writer is a terminal.
type Progress struct {
	w    io.Writer
	tty  bool
	mu   sync.Mutex
	last time.Time
}

// NewProgress returns a Progress drawing on w.
func NewProgress(w io.Writer) *Progress {
	p := &Progress{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// Show draws label with n of total done.
func (p *Progress) Show(label string, n, total int) {
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

// Done clears the bar.
func (p *Progress) Done() {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// Hanging is a receiver on 127.0.0.1 that accepts connections, reads what
// comes and never answers: the hostile partner's links. It counts the
// requests that reached it.
type Hanging struct {
	// URL is its root, such as http://127.0.0.1:40123.
	URL      string
	ln       net.Listener
	mu       sync.Mutex
	conns    map[net.Conn]bool
	requests atomic.Int64
	open     int // requests held now
	peak     int
}

// NewHanging starts a Hanging receiver.
func NewHanging() (*Hanging, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &Hanging{URL: "http://" + ln.Addr().String(), ln: ln, conns: map[net.Conn]bool{}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns[c] = true
			h.mu.Unlock()
			go h.hold(c)
		}
	}()
	return h, nil
}

// hold reads requests from c and answers none; each request line counts.
func (h *Hanging) hold(c net.Conn) {
	held := 0
	defer func() {
		h.mu.Lock()
		delete(h.conns, c)
		h.open -= held
		h.mu.Unlock()
		c.Close()
	}()
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		if strings.HasPrefix(line, "POST ") {
			h.requests.Add(1)
			h.mu.Lock()
			held++
			h.open++
			h.peak = max(h.peak, h.open)
			h.mu.Unlock()
		}
	}
}

// Peak is the most requests it held unanswered at once.
func (h *Hanging) Peak() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peak
}

// Requests is how many requests reached the receiver.
func (h *Hanging) Requests() int { return int(h.requests.Load()) }

// Close stops accepting and drops every connection held.
func (h *Hanging) Close() {
	h.ln.Close()
	h.mu.Lock()
	for c := range h.conns {
		c.Close()
	}
	h.mu.Unlock()
}

// floats formats xs with format, separated by spaces.
func floats(xs []float64, format string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(parts, " ")
}
