package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/delivery"
)

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fail records one failed attempt of a delivery of d, started at at.
func (b *bundle) fail(t *testing.T, d *labhooks.DataLink, at time.Time) {
	t.Helper()
	ctx := t.Context()
	if _, err := b.app.Emit(ctx, admin, app.EmitInput{EventName: "sampleReceived", Data: sampleReceived, PartnerID: d.PartnerID}); err != nil {
		t.Fatal(err)
	}
	jobs, err := b.store.ClaimDeliveries(ctx, labhooks.ClaimParams{Owner: "t", Now: time.Now(), Lease: time.Minute, Limit: 10})
	if err != nil || len(jobs) == 0 {
		t.Fatalf("claim: %v, %v", jobs, err)
	}
	var rs []labhooks.AttemptResult
	for _, j := range jobs {
		rs = append(rs, labhooks.AttemptResult{LeaseToken: j.LeaseToken, DataLinkID: j.DataLinkID, Status: labhooks.DeliveryFailed,
			Attempt: labhooks.Attempt{DeliveryID: j.DeliveryID, StartedAt: at, StatusCode: 500}})
	}
	if err := b.store.RecordAttempts(ctx, rs); err != nil {
		t.Fatal(err)
	}
}

// TestDisableFailing follows SPEC §4: a link whose every attempt has failed
// for DisableAfter is disabled and says why; one failing for less, one that
// is not among the links the engine saw fail, and one enabled by hand are
// left as they are.
func TestDisableFailing(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	b := setup(t, func(c *app.Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	ctx := t.Context()
	now := time.Now()
	long, short, unseen := b.partner(t, "Long", labhooks.RoleLab), b.partner(t, "Short", labhooks.RoleLab), b.partner(t, "Unseen", labhooks.RoleLab)
	dLong, dShort, dUnseen := b.link(t, long, "http://127.0.0.1:9/long"), b.link(t, short, "http://127.0.0.1:9/short"), b.link(t, unseen, "http://127.0.0.1:9/unseen")
	b.fail(t, dLong, now.Add(-6*24*time.Hour))
	b.fail(t, dShort, now.Add(-4*24*time.Hour))
	b.fail(t, dUnseen, now.Add(-6*24*time.Hour))

	err := b.app.DisableFailing(ctx, []delivery.FailingLink{
		{DataLinkID: dLong.ID, LastStatus: 502, LastError: "HTTP 502"},
		{DataLinkID: dShort.ID, LastStatus: 502},
		{DataLinkID: "dl_gone", LastError: "connection refused"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := b.store.DataLink(ctx, dLong.ID)
	if got.Enabled || !strings.Contains(got.DisabledReason, "every delivery attempt has failed since") || !strings.Contains(got.DisabledReason, "(last: HTTP 502)") {
		t.Fatalf("the link failing for six days: %+v", got)
	}
	if !strings.Contains(logs.String(), `level=WARN msg="disabled a failing data link" datalinkId=`+dLong.ID) {
		t.Fatalf("no warning in the log:\n%s", logs.String())
	}
	for _, d := range []*labhooks.DataLink{dShort, dUnseen} {
		if got, _ := b.store.DataLink(ctx, d.ID); !got.Enabled {
			t.Fatalf("%s was disabled: %+v", d.URL, got)
		}
	}

	// Enabled again by hand, it starts afresh: the same report disables
	// nothing until it fails for long again.
	on := true
	up, err := b.app.UpdateDataLink(ctx, long, dLong.ID, labhooks.DataLinkUpdate{Enabled: &on})
	if err != nil || !up.Enabled || up.DisabledReason != "" || up.FailingSince != nil {
		t.Fatalf("enabled again: %+v, %v", up, err)
	}
	if err := b.app.DisableFailing(ctx, []delivery.FailingLink{{DataLinkID: dLong.ID, LastStatus: 502}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.store.DataLink(ctx, dLong.ID); !got.Enabled {
		t.Fatalf("disabled again at once after it was enabled: %+v", got)
	}
}

// TestEngineDisablesAndReplayRecovers runs the engine with the application
// layer as its Disabler against a receiver that fails: the link is
// disabled with its last answer; enabled again and replayed from the time
// the dashboard suggests, every delivery arrives.
func TestEngineDisablesAndReplayRecovers(t *testing.T) {
	t.Parallel()
	var working atomic.Bool
	var requests atomic.Int64
	srv := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if !working.Load() {
			w.WriteHeader(500)
			return
		}
		io.WriteString(w, "ok")
	})
	policy := labhooks.RetryPolicy{Schedule: []time.Duration{50 * time.Millisecond, 50 * time.Millisecond}}
	var engine *delivery.Engine
	b := setup(t, func(c *app.Config) {
		c.Policy, c.DisableAfter = policy, 300*time.Millisecond
		c.Wake = func() { engine.Notify() }
	})
	engine = delivery.NewEngine(delivery.EngineConfig{Queue: b.store, Sender: b.cfg.Sender, Policy: policy, Disabler: b.app,
		DisableCheckInterval: 50 * time.Millisecond, PollInterval: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { engine.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	lab := b.partner(t, "Lab", labhooks.RoleLab)
	link := b.link(t, lab, srv.URL+"/hook")
	var ids []string
	for range 2 {
		res, err := b.app.Emit(t.Context(), admin, app.EmitInput{EventName: "sampleReceived", Data: sampleReceived})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Deliveries[0].ID)
	}
	var d *labhooks.DataLink
	waitFor(t, "the failing link to be disabled", func() bool {
		d, _ = b.app.DataLink(t.Context(), lab, link.ID)
		return !d.Enabled
	})
	if d.FailingSince == nil || !strings.Contains(d.DisabledReason, "(last: HTTP 500)") {
		t.Fatalf("disabled link = %+v", d)
	}
	for _, id := range ids {
		waitFor(t, "the deliveries to fail", func() bool {
			got, _ := b.app.Delivery(t.Context(), lab, id)
			return got.Status == labhooks.DeliveryFailed
		})
	}

	working.Store(true)
	on := true
	if _, err := b.app.UpdateDataLink(t.Context(), lab, link.ID, labhooks.DataLinkUpdate{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	since := b.app.ReplaySince(*d.FailingSince)
	n, err := b.app.Replay(t.Context(), lab, link.ID, app.ReplayInput{Since: &since})
	if err != nil || n != len(ids) {
		t.Fatalf("Replay = %d, %v; want %d", n, err, len(ids))
	}
	attempts := 0
	for _, id := range ids {
		var got *labhooks.Delivery
		waitFor(t, "the replayed delivery to succeed", func() bool {
			got, _ = b.app.Delivery(t.Context(), lab, id)
			return got.Status == labhooks.DeliverySucceeded
		})
		attempts += len(got.Attempts)
	}
	if int(requests.Load()) != attempts {
		t.Fatalf("the receiver got %d requests for %d attempts", requests.Load(), attempts)
	}
	if got, _ := b.app.DataLink(t.Context(), lab, link.ID); !got.Enabled || got.FailingSince != nil {
		t.Fatalf("after the replay the link is %+v", got)
	}
}

// TestEngineTriesALinkAgainBeforeDisablingIt starts an engine over a link
// whose failures began long ago while no attempt has been made since (as
// after labhooks was down for days): the link is not disabled until this
// engine has tried it and failed.
func TestEngineTriesALinkAgainBeforeDisablingIt(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	srv := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(500)
	})
	var engine *delivery.Engine
	b := setup(t, func(c *app.Config) {
		c.Wake = func() {
			if engine != nil {
				engine.Notify()
			}
		}
	})
	ctx := t.Context()
	lab := b.partner(t, "Lab", labhooks.RoleLab)
	link := b.link(t, lab, srv.URL+"/hook")
	// A failed attempt six days ago; the retry is due in an hour.
	res, err := b.app.Emit(ctx, admin, app.EmitInput{EventName: "sampleReceived", Data: sampleReceived})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := b.store.ClaimDeliveries(ctx, labhooks.ClaimParams{Owner: "before", Now: time.Now(), Lease: time.Minute, Limit: 1})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v, %v", jobs, err)
	}
	later := time.Now().Add(time.Hour)
	if err := b.store.RecordAttempts(ctx, []labhooks.AttemptResult{{LeaseToken: jobs[0].LeaseToken, DataLinkID: link.ID,
		Status: labhooks.DeliveryPending, NextAttemptAt: &later,
		Attempt: labhooks.Attempt{DeliveryID: res.Deliveries[0].ID, StartedAt: time.Now().Add(-6 * 24 * time.Hour), StatusCode: 500}}}); err != nil {
		t.Fatal(err)
	}

	engine = delivery.NewEngine(delivery.EngineConfig{Queue: b.store, Sender: b.cfg.Sender, Disabler: b.app,
		Policy:               labhooks.RetryPolicy{Schedule: []time.Duration{time.Hour}},
		DisableCheckInterval: 20 * time.Millisecond, PollInterval: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { engine.Run(runCtx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	time.Sleep(200 * time.Millisecond) // ten checks
	if l, _ := b.store.DataLink(ctx, link.ID); !l.Enabled {
		t.Fatalf("disabled before this engine tried it: %+v", l)
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("the receiver got %d requests before the retry was due", n)
	}

	// Due now, tried, failed: disabled.
	if _, err := b.app.RetryDelivery(ctx, lab, res.Deliveries[0].ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the link to be disabled once tried again", func() bool {
		l, _ := b.store.DataLink(ctx, link.ID)
		return !l.Enabled
	})
}

// TestEngineDisablesGoneLinkAtOnce: a receiver that answers 410 Gone has its
// link disabled at its first such answer, long before DisableAfter and with
// no wait for the periodic check, with a reason in plain words; enabling
// the link again clears the reason.
func TestEngineDisablesGoneLinkAtOnce(t *testing.T) {
	t.Parallel()
	var gone atomic.Bool
	gone.Store(true)
	srv := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		if gone.Load() {
			w.WriteHeader(http.StatusGone)
		}
	})
	policy := labhooks.RetryPolicy{Schedule: []time.Duration{time.Hour}}
	var engine *delivery.Engine
	b := setup(t, func(c *app.Config) {
		c.Policy, c.DisableAfter = policy, 7*24*time.Hour
		c.Wake = func() { engine.Notify() }
	})
	engine = delivery.NewEngine(delivery.EngineConfig{Queue: b.store, Sender: b.cfg.Sender, Policy: policy, Disabler: b.app,
		DisableCheckInterval: time.Hour, PollInterval: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { engine.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	lab := b.partner(t, "Lab", labhooks.RoleLab)
	link := b.link(t, lab, srv.URL+"/hook")
	if _, err := b.app.Emit(t.Context(), admin, app.EmitInput{EventName: "sampleReceived", Data: sampleReceived}); err != nil {
		t.Fatal(err)
	}
	var d *labhooks.DataLink
	waitFor(t, "the gone link to be disabled", func() bool {
		d, _ = b.app.DataLink(t.Context(), lab, link.ID)
		return !d.Enabled
	})
	if !strings.Contains(d.DisabledReason, "answered 410 Gone") || !strings.Contains(d.DisabledReason, "enable it") {
		t.Fatalf("disabled reason = %q", d.DisabledReason)
	}
	on := true
	up, err := b.app.UpdateDataLink(t.Context(), lab, link.ID, labhooks.DataLinkUpdate{Enabled: &on})
	if err != nil || !up.Enabled || up.DisabledReason != "" {
		t.Fatalf("enabled again: %+v, %v; want enabled with no reason", up, err)
	}
}
