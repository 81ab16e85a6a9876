package delivery

import (
	"context"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/tracing"
)

// EngineConfig configures an Engine. Every field documents its default.
type EngineConfig struct {
	// Queue is where deliveries are claimed and their attempts recorded.
	// Required.
	Queue labhooks.Queue
	// Due, when the store has one, wakes the engine as soon as any process
	// makes deliveries due. Default: none; the engine polls, and Notify
	// wakes it.
	Due labhooks.DueListener
	// Sender makes the POSTs. Required.
	Sender *Sender
	// Policy decides retries. Default labhooks.DefaultRetryPolicy().
	Policy labhooks.RetryPolicy
	// Owner names this process in leases. Default: a random name.
	Owner string
	// MaxInFlight caps the deliveries this process holds at once: being
	// attempted, or attempted and waiting to be recorded. Default
	// labhooks.DefaultWorkers.
	MaxInFlight int
	// PerDataLink caps concurrent attempts to one data link, so a slow or
	// dead receiver cannot take every slot. Default labhooks.DefaultPerDataLink.
	PerDataLink int
	// Lease is how long a claimed delivery stays with this process before
	// another may take it. It must outlast an attempt. Default: the Sender's
	// timeout plus labhooks.LeaseMargin.
	Lease time.Duration
	// PollInterval is the longest the engine sleeps before looking for due
	// deliveries when nothing wakes it. Default labhooks.DefaultPollInterval.
	PollInterval time.Duration
	// Disabler is told, every DisableCheckInterval, of the data links whose
	// latest attempt by this engine failed, and disables those that have
	// failed for too long (the application layer). Default: none, no link
	// is disabled.
	Disabler Disabler
	// DisableCheckInterval is how often the Disabler is called. Default
	// labhooks.DefaultDisableCheckInterval.
	DisableCheckInterval time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Rand drives retry jitter; default math/rand/v2.Float64.
	Rand func() float64
	// Logger receives operational messages; default slog.Default().
	Logger *slog.Logger
	// OnAttempt, if set, is told of every attempt and the delivery's status
	// after it (for metrics). It must not block.
	OnAttempt func(j *labhooks.Job, res *Result, status labhooks.DeliveryStatus)
	// TracerProvider makes the spans of claims and attempts (see trace.go).
	// Default: none, tracing off.
	TracerProvider trace.TracerProvider
}

// FailingLink is a data link whose latest attempt by this engine failed,
// with that attempt's answer.
type FailingLink struct {
	DataLinkID string
	// LastStatus is the HTTP status of the failed attempt, 0 when none came
	// back; LastError then says what happened.
	LastStatus int
	LastError  string
}

// Disabler disables data links that have failed for too long.
type Disabler interface {
	// DisableFailing considers the links in failing, each of which this
	// engine has just seen fail, and disables those whose run of failures
	// is long enough.
	DisableFailing(ctx context.Context, failing []FailingLink) error
}

// Engine claims due deliveries, attempts them and records the outcomes.
type Engine struct {
	cfg     EngineConfig
	tracer  trace.Tracer
	wake    chan struct{}
	results chan labhooks.AttemptResult
	sent    chan string // the data link of each attempt that has its answer
	done    chan int    // how many results the recorder has written

	// failing holds the data links whose latest attempt by this engine
	// failed: only those may be disabled for failing (see disableFailing).
	failing struct {
		sync.Mutex
		links map[string]FailingLink
	}
}

// NewEngine returns an Engine for cfg.
func NewEngine(cfg EngineConfig) *Engine {
	if cfg.Policy.Schedule == nil {
		cfg.Policy = labhooks.DefaultRetryPolicy()
	}
	if cfg.Owner == "" {
		cfg.Owner = "worker-" + randomName()
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = labhooks.DefaultWorkers
	}
	if cfg.PerDataLink <= 0 {
		cfg.PerDataLink = labhooks.DefaultPerDataLink
	}
	if cfg.Lease <= 0 {
		cfg.Lease = cfg.Sender.Timeout() + labhooks.LeaseMargin
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = labhooks.DefaultPollInterval
	}
	if cfg.DisableCheckInterval <= 0 {
		cfg.DisableCheckInterval = labhooks.DefaultDisableCheckInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	e := &Engine{
		cfg:     cfg,
		tracer:  tracing.Tracer(cfg.TracerProvider),
		wake:    make(chan struct{}, 1),
		results: make(chan labhooks.AttemptResult, cfg.MaxInFlight),
		sent:    make(chan string, cfg.MaxInFlight),
		done:    make(chan int, cfg.MaxInFlight),
	}
	e.failing.links = map[string]FailingLink{}
	return e
}

// Notify tells the engine that deliveries may be due now, so it does not wait
// for its next poll. It never blocks.
func (e *Engine) Notify() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// shutdownGrace is how long, once the last attempt has finished, results keep
// being offered to an unavailable database at shutdown; what is still
// unrecorded then is attempted again once its lease expires.
const shutdownGrace = 10 * time.Second

// Run delivers until ctx is cancelled, then lets attempts in flight finish,
// records them, and returns.
func (e *Engine) Run(ctx context.Context) {
	recordCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var attempts, recorder, checker sync.WaitGroup
	recorder.Go(func() { e.record(recordCtx) })
	if e.cfg.Disabler != nil {
		checker.Go(func() { e.disableFailing(ctx) })
	}
	if e.cfg.Due != nil {
		checker.Go(func() { e.cfg.Due.Listen(ctx, e.Notify) })
	}
	e.dispatch(ctx, &attempts)
	checker.Wait()
	attempts.Wait()
	// Every attempt is done; give the recorder a bounded time to write them
	// if the database is down.
	grace := time.AfterFunc(shutdownGrace, cancel)
	defer grace.Stop()
	close(e.results)
	recorder.Wait()
}

// dispatch is the claim loop. It alone owns the in-flight counts: inFlight
// the deliveries claimed and not yet recorded, perLink the attempts waiting
// for their receivers' answers. A data link's slot is free again as soon as
// its receiver has answered, while the result waits for the recorder: the
// lease keeps the delivery from being claimed again meanwhile.
func (e *Engine) dispatch(ctx context.Context, attempts *sync.WaitGroup) {
	inFlight := 0
	perLink := map[string]int{}
	batch := min(e.cfg.MaxInFlight, 128)
	// A claim costs nearly as much for one delivery as for a hundred, so
	// slots that come back are gathered before claiming again: until half
	// of those in flight are back (refill), or maxClaimDelay has passed since
	// the first, unless new work is announced or due.
	claimNow, freed, refill := true, 0, 1
	var firstFreed time.Time
	answered := func(link string) {
		if perLink[link]--; perLink[link] <= 0 {
			delete(perLink, link)
		}
		if freed++; freed == 1 {
			firstFreed = e.cfg.Now()
		}
	}
	for ctx.Err() == nil {
		for drained := false; !drained; {
			select {
			case link := <-e.sent:
				answered(link)
			case n := <-e.done:
				inFlight -= n
			default:
				drained = true
			}
		}
		claimNow = claimNow || freed >= refill
		claimed, tried, full := 0, false, false
		if room := e.cfg.MaxInFlight - inFlight; claimNow && room > 0 {
			var saturated []string
			for link, n := range perLink {
				if n >= e.cfg.PerDataLink {
					saturated = append(saturated, link)
				}
			}
			limit := min(room, batch)
			claim := e.startClaim(limit)
			jobs, err := e.cfg.Queue.ClaimDeliveries(ctx, labhooks.ClaimParams{
				Owner: e.cfg.Owner, Now: e.cfg.Now(), Lease: e.cfg.Lease,
				Limit: limit, PerDataLink: e.cfg.PerDataLink, InFlight: maps.Clone(perLink), ExcludeDataLinks: saturated,
			})
			if err != nil && ctx.Err() == nil {
				e.cfg.Logger.Error("claiming deliveries", "err", err)
			}
			claimSC := e.endClaim(ctx, claim, len(jobs), err)
			for _, j := range jobs {
				inFlight++
				perLink[j.DataLinkID]++
				attempts.Go(func() { e.attempt(j, claimSC) })
			}
			claimed, tried, full = len(jobs), true, len(jobs) == limit
			claimNow, freed, refill = full, 0, max(1, min(batch, inFlight/2))
		}
		if full {
			continue
		}
		// Sleep until the next delivery falls due. One due already but not
		// claimed belongs to a link with all its slots taken: an answer
		// (e.sent) wakes the loop for it.
		wait := e.cfg.PollInterval
		if tried && claimed == 0 {
			if next, ok, err := e.cfg.Queue.NextDue(ctx); err == nil && ok {
				if d := next.Sub(e.cfg.Now()); d > 0 {
					wait = min(wait, d)
				}
			}
		}
		if freed > 0 {
			wait = min(wait, max(0, maxClaimDelay-e.cfg.Now().Sub(firstFreed)))
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-e.wake:
			claimNow = true
		case link := <-e.sent:
			answered(link)
		case n := <-e.done:
			inFlight -= n
		case <-timer.C:
			claimNow = true
		}
		timer.Stop()
	}
}

const (
	recordLinger   = time.Millisecond
	maxRecordBatch = 256
)

// maxClaimDelay bounds how long a returned slot waits for others before the
// engine claims work for it.
const maxClaimDelay = 2 * time.Millisecond

// attempt sends one job and hands its result to the recorder. It does not
// take the run's context: an attempt under way at shutdown is finished and
// recorded rather than cut off and repeated.
// claim is the span context of the claim that took j, for its span's link.
func (e *Engine) attempt(j *labhooks.Job, claim trace.SpanContext) {
	ctx, span, traceparent := e.startAttempt(j, claim)
	res := e.cfg.Sender.Send(ctx, Request{ID: j.DeliveryID, URL: j.URL, Secrets: j.Secrets, Body: j.Body, Traceparent: traceparent})
	e.sent <- j.DataLinkID
	status, next := e.cfg.Policy.After(j.Try, res.OK(), res.StartedAt.Add(res.Duration), res.RetryAfter, e.cfg.Rand)
	r := labhooks.AttemptResult{
		LeaseToken:    j.LeaseToken,
		DataLinkID:    j.DataLinkID,
		Status:        status,
		NextAttemptAt: next,
		Attempt: labhooks.Attempt{
			DeliveryID:   j.DeliveryID,
			StartedAt:    res.StartedAt,
			StatusCode:   res.StatusCode,
			DurationMs:   res.Duration.Milliseconds(),
			Error:        res.Summary(),
			ResponseBody: res.ResponseBody,
		},
	}
	endAttempt(span, res, status)
	if e.cfg.OnAttempt != nil {
		e.cfg.OnAttempt(j, res, status)
	}
	e.failing.Lock()
	if res.OK() {
		delete(e.failing.links, j.DataLinkID)
	} else {
		e.failing.links[j.DataLinkID] = FailingLink{DataLinkID: j.DataLinkID, LastStatus: res.StatusCode, LastError: r.Attempt.Error}
	}
	e.failing.Unlock()
	e.results <- r
}

// record writes results in batches: one transaction for the results that
// arrive within recordLinger of the first, up to maxRecordBatch.
func (e *Engine) record(ctx context.Context) {
	var batch []labhooks.AttemptResult
	linger := time.NewTimer(0)
	<-linger.C
	for r := range e.results {
		// A transaction costs nearly as much for one result as for many:
		// results that come close together are written together. Waiting
		// holds no data link's slot, as the engine frees it at the answer.
		batch = append(batch[:0], r)
		linger.Reset(recordLinger)
	collect:
		for len(batch) < maxRecordBatch {
			select {
			case r, ok := <-e.results:
				if !ok {
					break collect
				}
				batch = append(batch, r)
			case <-linger.C:
				break collect
			}
		}
		linger.Stop()
		for backoff := 100 * time.Millisecond; ctx.Err() == nil; backoff = min(2*backoff, 5*time.Second) {
			err := e.cfg.Queue.RecordAttempts(ctx, batch)
			if err == nil {
				break
			}
			// Until the database is back, results wait here; their leases
			// may expire meanwhile and the deliveries be sent again, which
			// at-least-once allows.
			e.cfg.Logger.Error("recording attempts; retrying", "err", err, "attempts", len(batch))
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
		}
		e.done <- len(batch)
	}
}

// disableFailing hands the Disabler, every DisableCheckInterval until ctx
// ends, the data links whose latest attempt by this engine failed: a run of
// failures left open while no attempt was made (labhooks down for days)
// does not disable a link before it has been tried again.
func (e *Engine) disableFailing(ctx context.Context) {
	tick := time.NewTicker(e.cfg.DisableCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		e.failing.Lock()
		failing := slices.Collect(maps.Values(e.failing.links))
		e.failing.Unlock()
		if len(failing) == 0 {
			continue
		}
		slices.SortFunc(failing, func(a, b FailingLink) int { return strings.Compare(a.DataLinkID, b.DataLinkID) })
		if err := e.cfg.Disabler.DisableFailing(ctx, failing); err != nil && ctx.Err() == nil {
			e.cfg.Logger.Error("disabling failing data links", "err", err)
		}
	}
}

func randomName() string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 8)
	for i := range b {
		b[i] = letters[rand.IntN(len(letters))]
	}
	return string(b)
}
