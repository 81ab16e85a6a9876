package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
	"github.com/labhooks/labhooks/signature"
	"github.com/labhooks/labhooks/sqlite"
)

// engineBundle is what each engine test starts from: a real SQLite store.
type engineBundle struct {
	store labhooks.Store
	seq   int
	links map[string][]*labhooks.DataLink // by partner
}

func setupEngine(t *testing.T) *engineBundle {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &engineBundle{store: s, links: map[string][]*labhooks.DataLink{}}
}

func (b *engineBundle) partner(t *testing.T) *labhooks.Partner {
	t.Helper()
	b.seq++
	now := time.Now()
	p := &labhooks.Partner{ID: id.New(id.Partner), Name: fmt.Sprintf("sampler %d", b.seq), Role: labhooks.RoleSampler, CreatedAt: now, UpdatedAt: now}
	p.KeyHash = []byte("hash-" + p.ID)
	if err := b.store.CreatePartner(context.Background(), p); err != nil {
		t.Fatalf("CreatePartner: %v", err)
	}
	return p
}

func (b *engineBundle) link(t *testing.T, p *labhooks.Partner, url string) *labhooks.DataLink {
	t.Helper()
	now := time.Now()
	d := &labhooks.DataLink{ID: id.New(id.DataLink), PartnerID: p.ID, URL: url, Secret: labhooks.GenerateSecret(), Enabled: true, CreatedAt: now, UpdatedAt: now}
	if err := b.store.CreateDataLink(context.Background(), d); err != nil {
		t.Fatalf("CreateDataLink: %v", err)
	}
	b.links[p.ID] = append(b.links[p.ID], d)
	return d
}

// emit stores an appointmentCreated event for p; it has one delivery per
// data link of p.
func (b *engineBundle) emit(t *testing.T, p *labhooks.Partner, n int) []*labhooks.Delivery {
	t.Helper()
	return b.emitAt(t, p, n, time.Now())
}

// emitAt is emit with deliveries that become due at now.
func (b *engineBundle) emitAt(t *testing.T, p *labhooks.Partner, n int, now time.Time) []*labhooks.Delivery {
	t.Helper()
	e := &labhooks.Event{ID: id.New(id.Event), EventName: "appointmentCreated", PartnerID: p.ID,
		Data: json.RawMessage(fmt.Sprintf(`{"appointmentId":%d,"locationId":2}`, n)), CreatedAt: now}
	var to []labhooks.AudienceLink
	for _, l := range b.links[p.ID] {
		// As the application reads an audience: the link as it is now.
		cur, err := b.store.DataLink(context.Background(), l.ID)
		if err != nil {
			t.Fatalf("DataLink: %v", err)
		}
		to = append(to, labhooks.AudienceLink{ID: l.ID, PartnerID: p.ID, Ordered: cur.Ordered})
	}
	deliveries := e.Deliver(to, now, func() string { return id.New(id.Delivery) })
	r, err := b.store.CreateEvent(context.Background(), labhooks.CreateEventParams{Event: e, Deliveries: deliveries})
	if err != nil {
		t.Fatalf("CreateEvent: %v", err)
	}
	return r.Deliveries
}

func (b *engineBundle) delivery(t *testing.T, id string) *labhooks.Delivery {
	t.Helper()
	d, err := b.store.Delivery(context.Background(), id)
	if err != nil {
		t.Fatalf("Delivery(%s): %v", id, err)
	}
	return d
}

// waitStatus polls until the delivery has the status, and returns it.
func (b *engineBundle) waitStatus(t *testing.T, id string, want labhooks.DeliveryStatus) *labhooks.Delivery {
	t.Helper()
	var d *labhooks.Delivery
	waitFor(t, fmt.Sprintf("delivery %s to be %s", id, want), func() bool {
		d = b.delivery(t, id)
		return d.Status == want
	})
	return d
}

// waitFor polls cond every 20ms for up to 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// running is an engine started by start.
type running struct {
	e      *Engine
	cancel context.CancelFunc
	done   chan struct{}
}

// start runs an engine on the bundle's store until the test ends (or stop).
func (b *engineBundle) start(t *testing.T, cfg EngineConfig) *running {
	t.Helper()
	cfg.Queue = b.store
	if cfg.Sender == nil {
		cfg.Sender = NewSender(SenderConfig{AllowPrivateTargets: true, Timeout: 30 * time.Second})
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 20 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{e: NewEngine(cfg), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.e.Run(ctx)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the engine's context and waits for Run to return.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		t.Fatal("Engine.Run did not return after its context was cancelled")
	}
}

func fastPolicy(delays ...time.Duration) labhooks.RetryPolicy {
	return labhooks.RetryPolicy{Schedule: delays, Jitter: 0}
}

func TestEngineDeliversOnce(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	rc, srv := newReceiver(t, nil)
	p := b.partner(t)
	link := b.link(t, p, srv.URL+"/hook")
	b.start(t, EngineConfig{Policy: fastPolicy(50 * time.Millisecond)})
	ds := b.emit(t, p, 1)
	if len(ds) != 1 {
		t.Fatalf("%d deliveries", len(ds))
	}
	d := b.waitStatus(t, ds[0].ID, labhooks.DeliverySucceeded)
	if d.AttemptCount != 1 || d.LastStatusCode != 200 || d.LastError != "" || d.NextAttemptAt != nil || len(d.Attempts) != 1 {
		t.Fatalf("delivery = %+v", d)
	}
	a := d.Attempts[0]
	if a.Number != 1 || a.StatusCode != 200 || a.Error != "" || a.ResponseBody != "ok" || a.StartedAt.IsZero() {
		t.Fatalf("attempt = %+v", a)
	}
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("the receiver got %d requests, want 1", len(reqs))
	}
	h := reqs[0].Header
	wantBody := `{"eventName":"appointmentCreated","data":{"appointmentId":1,"locationId":2}}`
	if string(reqs[0].Body) != wantBody || reqs[0].Path != "/hook" {
		t.Errorf("request %s body %s, want %s", reqs[0].Path, reqs[0].Body, wantBody)
	}
	if h.Get("Webhook-Id") != d.ID || h.Get("X-Api-Key") != link.Secret {
		t.Errorf("headers = %v", h)
	}
	if err := signature.Verify([]string{link.Secret}, h.Get("Webhook-Id"), h.Get("Webhook-Timestamp"), h.Get("Webhook-Signature"), reqs[0].Body, time.Now(), 0); err != nil {
		t.Errorf("signature: %v", err)
	}
}

func TestEngineRetriesUntilSuccess(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	var calls atomic.Int32
	rc, srv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(500)
			io.WriteString(w, "db down")
			return
		}
		io.WriteString(w, "ok")
	})
	p := b.partner(t)
	b.link(t, p, srv.URL)
	const delay = 50 * time.Millisecond
	b.start(t, EngineConfig{Policy: fastPolicy(delay, delay, delay)})
	ds := b.emit(t, p, 1)
	d := b.waitStatus(t, ds[0].ID, labhooks.DeliverySucceeded)
	if d.AttemptCount != 2 || len(d.Attempts) != 2 || d.LastStatusCode != 200 {
		t.Fatalf("delivery = %+v, want success on attempt 2", d)
	}
	first, second := d.Attempts[0], d.Attempts[1]
	if first.Number != 1 || first.StatusCode != 500 || first.Error != "HTTP 500" || first.ResponseBody != "db down" {
		t.Errorf("attempt 1 = %+v", first)
	}
	if second.Number != 2 || second.StatusCode != 200 || second.Error != "" {
		t.Errorf("attempt 2 = %+v", second)
	}
	// The retry waited for its delay (the store keeps milliseconds).
	if gap := second.StartedAt.Sub(first.StartedAt); gap < delay-5*time.Millisecond {
		t.Errorf("attempt 2 started %v after attempt 1, before the %v delay", gap, delay)
	}
	reqs := rc.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	if reqs[0].Header.Get("Webhook-Id") != d.ID || reqs[1].Header.Get("Webhook-Id") != d.ID || string(reqs[0].Body) != string(reqs[1].Body) {
		t.Error("the retry changed the webhook-id or the body")
	}
}

func TestEngineHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	var calls atomic.Int32
	_, srv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(429)
			return
		}
		io.WriteString(w, "ok")
	})
	p := b.partner(t)
	b.link(t, p, srv.URL)
	policy := fastPolicy(20 * time.Millisecond)
	policy.MaxRetryAfter = 5 * time.Second
	b.start(t, EngineConfig{Policy: policy})
	ds := b.emit(t, p, 1)
	d := b.waitStatus(t, ds[0].ID, labhooks.DeliverySucceeded)
	if len(d.Attempts) != 2 || d.Attempts[0].StatusCode != 429 {
		t.Fatalf("delivery = %+v", d)
	}
	if gap := d.Attempts[1].StartedAt.Sub(d.Attempts[0].StartedAt); gap < time.Second-5*time.Millisecond {
		t.Errorf("attempt 2 started %v after a 429 with Retry-After: 1", gap)
	}
}

func TestEngineGivesUp(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	failing, failSrv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	_, okSrv := newReceiver(t, nil)
	p, q := b.partner(t), b.partner(t)
	b.link(t, p, failSrv.URL)
	b.link(t, q, okSrv.URL)
	policy := fastPolicy(20*time.Millisecond, 20*time.Millisecond, 20*time.Millisecond)
	b.start(t, EngineConfig{Policy: policy})
	ds := b.emit(t, p, 1)
	d := b.waitStatus(t, ds[0].ID, labhooks.DeliveryFailed)
	want := policy.Attempts()
	if d.AttemptCount != want || len(d.Attempts) != want || d.NextAttemptAt != nil || d.LastStatusCode != 500 || d.LastError != "HTTP 500" {
		t.Fatalf("delivery = %+v, want failed after %d attempts", d, want)
	}
	for i, a := range d.Attempts {
		if a.Number != i+1 || a.StatusCode != 500 {
			t.Errorf("attempt %d = %+v", i+1, a)
		}
	}
	// Once failed, it is not tried again: a later delivery goes through
	// while the failed one's receiver sees nothing more.
	later := b.emit(t, q, 2)
	b.waitStatus(t, later[0].ID, labhooks.DeliverySucceeded)
	if n := len(failing.requests()); n != want {
		t.Fatalf("the failing receiver got %d requests, want %d", n, want)
	}
}

func TestEngineRefusesLoopbackByDefault(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	rc, srv := newReceiver(t, nil)
	p := b.partner(t)
	b.link(t, p, srv.URL)
	b.start(t, EngineConfig{Policy: fastPolicy(20 * time.Millisecond), Sender: NewSender(SenderConfig{})})
	ds := b.emit(t, p, 1)
	d := b.waitStatus(t, ds[0].ID, labhooks.DeliveryFailed)
	if len(d.Attempts) != 2 {
		t.Fatalf("delivery = %+v", d)
	}
	for _, a := range d.Attempts {
		if a.StatusCode != 0 || a.Error != "refused to connect to 127.0.0.1: it is a loopback address" {
			t.Errorf("attempt = %+v", a)
		}
	}
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("the loopback receiver got %d requests", n)
	}
}

// blocker is a receiver that holds every request until released.
type blocker struct {
	release   chan struct{}
	once      sync.Once
	arrived   atomic.Int32
	inFlight  atomic.Int32
	maxFlight atomic.Int32
}

func newBlocker() *blocker { return &blocker{release: make(chan struct{})} }

func (bl *blocker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := bl.inFlight.Add(1)
	defer bl.inFlight.Add(-1)
	for {
		m := bl.maxFlight.Load()
		if n <= m || bl.maxFlight.CompareAndSwap(m, n) {
			break
		}
	}
	bl.arrived.Add(1)
	select {
	case <-bl.release:
		io.WriteString(w, "finally")
	case <-r.Context().Done():
	}
}

func (bl *blocker) open() { bl.once.Do(func() { close(bl.release) }) }

func TestEngineSlowLinkDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	slow := newBlocker()
	slowSrv := httptestServer(t, slow)
	fast, fastSrv := newReceiver(t, nil)
	p := b.partner(t)
	slowLink := b.link(t, p, slowSrv.URL)
	fastLink := b.link(t, p, fastSrv.URL)
	b.start(t, EngineConfig{Policy: fastPolicy(20 * time.Millisecond), MaxInFlight: 8, PerDataLink: 2})
	t.Cleanup(slow.open) // runs before the engine is stopped

	const events = 12
	var slowIDs, fastIDs []string
	for i := range events {
		for _, d := range b.emit(t, p, i) {
			switch d.DataLinkID {
			case slowLink.ID:
				slowIDs = append(slowIDs, d.ID)
			case fastLink.ID:
				fastIDs = append(fastIDs, d.ID)
			}
		}
	}
	if len(slowIDs) != events || len(fastIDs) != events {
		t.Fatalf("%d slow and %d fast deliveries, want %d each", len(slowIDs), len(fastIDs), events)
	}
	for _, id := range fastIDs {
		b.waitStatus(t, id, labhooks.DeliverySucceeded)
	}
	waitFor(t, "the slow receiver to get a request", func() bool { return slow.arrived.Load() >= 1 })
	// Every fast delivery went through while the slow link still holds
	// its requests.
	if n := len(fast.requests()); n != events {
		t.Errorf("the fast receiver got %d requests, want %d", n, events)
	}
	if n := slow.inFlight.Load(); n < 1 {
		t.Errorf("the slow receiver holds %d requests", n)
	}
	for _, id := range slowIDs {
		if d := b.delivery(t, id); d.Status != labhooks.DeliveryPending || d.AttemptCount != 0 {
			t.Fatalf("slow delivery %s = %+v while its receiver is blocked", id, d)
		}
	}

	slow.open()
	for _, id := range slowIDs {
		d := b.waitStatus(t, id, labhooks.DeliverySucceeded)
		if d.AttemptCount != 1 || d.Attempts[0].ResponseBody != "finally" {
			t.Errorf("slow delivery = %+v", d)
		}
	}
}

// TestEnginePerDataLinkCap checks that a data link never has more than
// PerDataLink attempts in flight, also when new deliveries arrive while some
// are already in flight.
func TestEnginePerDataLinkCap(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	slow := newBlocker()
	slowSrv := httptestServer(t, slow)
	_, fastSrv := newReceiver(t, nil)
	p, q := b.partner(t), b.partner(t)
	b.link(t, p, slowSrv.URL)
	b.link(t, q, fastSrv.URL)
	const perLink = 2
	b.start(t, EngineConfig{Policy: fastPolicy(20 * time.Millisecond), MaxInFlight: 8, PerDataLink: perLink})
	t.Cleanup(slow.open)

	first := b.emit(t, p, 0)
	waitFor(t, "the first slow attempt", func() bool { return slow.arrived.Load() == 1 })
	// Three more for the slow link become due together, while one of its
	// attempts is in flight.
	due := time.Now().Add(300 * time.Millisecond)
	slowIDs := []string{first[0].ID}
	for i := range 3 {
		slowIDs = append(slowIDs, b.emitAt(t, p, i+1, due)[0].ID)
	}
	// The fast delivery is due after the slow ones: once it is through,
	// the engine has had its chance to claim all of them.
	b.waitStatus(t, b.emitAt(t, q, 9, due.Add(time.Millisecond))[0].ID, labhooks.DeliverySucceeded)
	// The blocker holds every attempt it gets: what arrived is what was
	// claimed (leases are in memory, nothing on the rows shows them).
	if claimed := slow.arrived.Load(); claimed > perLink {
		t.Errorf("%d deliveries of one data link claimed at once, more than PerDataLink = %d", claimed, perLink)
	}
	slow.open()
	for _, id := range slowIDs {
		b.waitStatus(t, id, labhooks.DeliverySucceeded)
	}
	if m := slow.maxFlight.Load(); m > perLink {
		t.Errorf("the slow link had %d attempts in flight at once, more than PerDataLink = %d", m, perLink)
	}
}

func TestEngineStopRecordsInFlight(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	slow := newBlocker()
	srv := httptestServer(t, slow)
	p := b.partner(t)
	b.link(t, p, srv.URL)
	r := b.start(t, EngineConfig{Policy: fastPolicy(20 * time.Millisecond)})
	t.Cleanup(slow.open)
	ds := b.emit(t, p, 1)
	waitFor(t, "the attempt to reach the receiver", func() bool { return slow.arrived.Load() == 1 })

	r.cancel()
	select {
	case <-r.done:
		t.Fatal("Run returned while an attempt was in flight")
	default:
	}
	slow.open()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return once the attempt in flight finished")
	}
	// The attempt was recorded, not lost to the shutdown.
	d := b.delivery(t, ds[0].ID)
	if d.Status != labhooks.DeliverySucceeded || len(d.Attempts) != 1 || d.Attempts[0].StatusCode != 200 || d.Attempts[0].ResponseBody != "finally" {
		t.Fatalf("delivery after shutdown = %+v", d)
	}
	// A stopped engine claims nothing more.
	more := b.emit(t, p, 2)
	if d := b.delivery(t, more[0].ID); d.Status != labhooks.DeliveryPending || d.AttemptCount != 0 {
		t.Fatalf("a delivery made after Run returned = %+v", d)
	}
	if got := slow.arrived.Load(); got != 1 {
		t.Fatalf("the receiver got %d requests, want 1", got)
	}
}

func TestEngineStopsWhenIdle(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	r := b.start(t, EngineConfig{})
	r.stop(t)
}

func TestEngineNotify(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	_, srv := newReceiver(t, nil)
	p := b.partner(t)
	b.link(t, p, srv.URL)
	// A long poll interval: only Notify makes the engine look soon.
	r := b.start(t, EngineConfig{PollInterval: time.Hour})
	for range 3 {
		r.e.Notify() // never blocks, even when nobody listens yet
	}
	ds := b.emit(t, p, 1)
	r.e.Notify()
	b.waitStatus(t, ds[0].ID, labhooks.DeliverySucceeded)
}

func httptestServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// TestEngineStopRecordsSlowInFlight checks that an attempt still in flight
// more than shutdownGrace after Run's context ends is recorded once it
// finishes, the database being fine all along.
func TestEngineStopRecordsSlowInFlight(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits for shutdownGrace")
	}
	b := setupEngine(t)
	slow := newBlocker()
	srv := httptestServer(t, slow)
	p := b.partner(t)
	b.link(t, p, srv.URL)
	r := b.start(t, EngineConfig{Policy: fastPolicy(time.Hour)}) // the Sender's timeout is 30s
	t.Cleanup(slow.open)
	ds := b.emit(t, p, 1)
	waitFor(t, "the attempt to reach the receiver", func() bool { return slow.arrived.Load() == 1 })
	r.cancel()
	// Setup, not an assertion: the receiver answers after the grace.
	time.Sleep(shutdownGrace + 500*time.Millisecond)
	slow.open()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return once the attempt in flight finished")
	}
	if d := b.delivery(t, ds[0].ID); d.Status != labhooks.DeliverySucceeded || len(d.Attempts) != 1 {
		t.Fatalf("an attempt that finished during shutdown was not recorded: %+v", d)
	}
}

// TestEngineNearlyFullDoesNotStarve checks SPEC §4's "a slow or dead data
// link never delays deliveries to other data links" when slow links hold all
// but one of the engine's slots. (Each slow link has a partner of its own: a
// partner's share of the slots is smaller than that.)
func TestEngineNearlyFullDoesNotStarve(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	a1, a2, a3, c, f := b.partner(t), b.partner(t), b.partner(t), b.partner(t), b.partner(t)
	var blockers []*blocker
	for _, p := range []*labhooks.Partner{a1, a2, a3, c} {
		bl := newBlocker()
		blockers = append(blockers, bl)
		b.link(t, p, httptestServer(t, bl).URL)
	}
	_, fastSrv := newReceiver(t, nil)
	b.link(t, f, fastSrv.URL)
	b.start(t, EngineConfig{Policy: fastPolicy(20 * time.Millisecond), MaxInFlight: 8, PerDataLink: 2})
	for _, bl := range blockers {
		t.Cleanup(bl.open)
	}
	// 3 links × 2 + 1: seven of the eight slots are held.
	for _, a := range []*labhooks.Partner{a1, a2, a3} {
		b.emit(t, a, 1)
		b.emit(t, a, 2)
	}
	b.emit(t, c, 3)
	waitFor(t, "7 slow attempts in flight", func() bool {
		var n int32
		for _, bl := range blockers {
			n += bl.inFlight.Load()
		}
		return n == 7
	})
	b.waitStatus(t, b.emit(t, f, 4)[0].ID, labhooks.DeliverySucceeded)
}

// disablerFunc is a Disabler made of a function.
type disablerFunc func(ctx context.Context, failing []FailingLink) error

func (f disablerFunc) DisableFailing(ctx context.Context, failing []FailingLink) error {
	return f(ctx, failing)
}

// TestEngineHandsFailingLinksToTheDisabler: the Disabler hears, every
// interval, of the links whose latest attempt by this engine failed, with
// that attempt's answer, and of no other link: one that answers again drops
// out. (That it disables the right ones is the application layer's test.)
func TestEngineHandsFailingLinksToTheDisabler(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	var healthy atomic.Bool
	_, srv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/failing") && !healthy.Load() {
			w.WriteHeader(503)
			return
		}
		io.WriteString(w, "ok")
	})
	p := b.partner(t)
	failing := b.link(t, p, srv.URL+"/failing")
	b.link(t, p, srv.URL+"/fine")
	var mu sync.Mutex
	var heard [][]FailingLink
	b.start(t, EngineConfig{Policy: fastPolicy(time.Hour), DisableCheckInterval: 20 * time.Millisecond,
		Disabler: disablerFunc(func(_ context.Context, f []FailingLink) error {
			mu.Lock()
			defer mu.Unlock()
			heard = append(heard, f)
			return nil
		})})
	last := func() []FailingLink {
		mu.Lock()
		defer mu.Unlock()
		if len(heard) == 0 {
			return nil
		}
		return heard[len(heard)-1]
	}
	ds := b.emit(t, p, 1)
	waitFor(t, "the Disabler to hear of the failing link", func() bool { return len(last()) > 0 })
	if got := last(); len(got) != 1 || got[0] != (FailingLink{DataLinkID: failing.ID, LastStatus: 503, LastError: "HTTP 503"}) {
		t.Fatalf("the Disabler heard %+v", got)
	}

	healthy.Store(true)
	for _, d := range ds {
		if d.DataLinkID == failing.ID {
			if _, err := b.store.Requeue(context.Background(), labhooks.RequeueParams{DeliveryID: d.ID, Now: time.Now()}); err != nil {
				t.Fatal(err)
			}
			b.waitStatus(t, d.ID, labhooks.DeliverySucceeded)
		}
	}
	mu.Lock()
	n := len(heard)
	mu.Unlock()
	time.Sleep(100 * time.Millisecond) // five intervals
	mu.Lock()
	defer mu.Unlock()
	if len(heard) != n {
		t.Fatalf("the Disabler still hears of a link that answers again: %+v", heard[n:])
	}
}
