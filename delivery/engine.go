package delivery

import (
	"context"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
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
	// Fresh, when the store can hand deliveries over as it stores them
	// (labhooks.FreshQueue: both stores), gives this engine the deliveries due at
	// insert without a claim. The engine takes those its caps allow
	// (MaxInFlight, PerDataLink and its lowered caps, the partners' shares)
	// and gives the rest back at once for the claims. Default: none.
	Fresh labhooks.FreshQueue
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
	// A link whose attempts time out labhooks.TripAfterTimeouts times in a
	// row gets one slot until it answers again (see linkLimit), and no
	// partner gets more than its share of MaxInFlight (see partnerShare).
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
	// failed for too long (the application layer); and, at once, of a link
	// whose receiver answered 410 Gone, with FailingLink.Gone set. Default:
	// none, no link is disabled.
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
	// Gone says the receiver answered 410 Gone: the link is to be disabled
	// at once, however short its run of failures.
	Gone bool
}

// Disabler disables data links that have failed for too long.
type Disabler interface {
	// DisableFailing considers the links in failing, each of which this
	// engine has just seen fail, and disables those whose run of failures
	// is long enough, and those Gone.
	DisableFailing(ctx context.Context, failing []FailingLink) error
}

// Engine claims due deliveries, attempts them and records the outcomes.
type Engine struct {
	cfg     EngineConfig
	tracer  trace.Tracer
	wake    chan struct{}
	results chan labhooks.AttemptResult
	sent    chan answer   // each attempt whose receiver answered or gave up
	done    chan recorded // what the recorder has written

	// fresh brings the jobs handed over at insert (EngineConfig.Fresh) to
	// the claim loop; freshOpen says whether it still takes them (see
	// offerFresh), under freshMu.
	fresh     chan []*labhooks.Job
	freshMu   sync.Mutex
	freshOpen bool

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
		sent:    make(chan answer, cfg.MaxInFlight),
		done:    make(chan recorded, cfg.MaxInFlight),
		fresh:   make(chan []*labhooks.Job, freshBacklog),
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
	if e.cfg.Fresh != nil {
		e.freshMu.Lock()
		e.freshOpen = e.cfg.Fresh.OfferFresh(e.cfg.Owner, e.cfg.Lease, e.offerFresh)
		e.freshMu.Unlock()
	}
	e.dispatch(ctx, &attempts)
	e.closeFresh()
	checker.Wait()
	attempts.Wait()
	// Every attempt is done; give the recorder a bounded time to write them
	// if the database is down.
	grace := time.AfterFunc(shutdownGrace, cancel)
	defer grace.Stop()
	close(e.results)
	recorder.Wait()
}

// freshBacklog is how many hand-overs (one per group commit) may wait for
// the claim loop; the store releases one that finds no room.
const freshBacklog = 64

// offerFresh is the engine's side of labhooks.FreshQueue.OfferFresh: it
// passes a group commit's jobs to the claim loop without blocking, and
// refuses them (the store releases them) when the loop is behind or the
// engine has stopped.
func (e *Engine) offerFresh(jobs []*labhooks.Job) bool {
	e.freshMu.Lock()
	defer e.freshMu.Unlock()
	if !e.freshOpen {
		return false
	}
	select {
	case e.fresh <- jobs:
		return true
	default:
		return false
	}
}

// closeFresh stops the hand-overs once the claim loop has ended and gives
// back what it had not taken: those deliveries are pending and due in the
// store, for the next claim.
func (e *Engine) closeFresh() {
	if e.cfg.Fresh == nil {
		return
	}
	e.cfg.Fresh.OfferFresh(e.cfg.Owner, e.cfg.Lease, nil)
	e.freshMu.Lock()
	e.freshOpen = false
	e.freshMu.Unlock()
	for {
		select {
		case jobs := <-e.fresh:
			e.cfg.Fresh.Release(jobs)
		default:
			return
		}
	}
}

// answer is what the claim loop learns of an attempt once its receiver has
// answered or it gave up.
type answer struct {
	link, partner string
	// answered: an HTTP answer came back, whatever its status; timedOut:
	// none came within the timeout.
	answered, timedOut bool
}

// linkLimit is the adaptive cap of a data link whose receiver stopped
// answering, like a circuit breaker: after TripAfterTimeouts attempts in a
// row timed out, the link has one slot (each attempt a half-open probe);
// every answer then doubles its slots until it has PerDataLink again. So a
// dead receiver holds one slot, not PerDataLink, and its deliveries are
// still attempted, one at a time, and recorded.
type linkLimit struct {
	cap      int // slots the link may hold now
	timeouts int // attempts in a row that timed out
}

// partnerShare is the most slots a claim lets one partner hold: the pool
// divided by one more than the number of partners holding slots (at least
// two), so that a share is always free for a partner that holds none; and
// never fewer than one data link's cap. A partner alone may take half the
// pool; as others come, each claim gives it less, and the slots it holds
// above its share come back as its attempts end (within the timeout).
func partnerShare(maxInFlight, perDataLink, partners int) int {
	return max(perDataLink, maxInFlight/(max(partners, 1)+1))
}

// dispatch is the claim loop. It alone owns the in-flight counts: inFlight
// the deliveries claimed and not yet recorded, perLink and perPartner the
// attempts waiting for their receivers' answers, and limits the links whose
// cap is lowered. A data link's slot is free again as soon as its receiver
// has answered, while the result waits for the recorder: the lease keeps
// the delivery from being claimed again meanwhile. Every claimed delivery
// is attempted at once: the claim itself keeps to the caps, so none waits
// for a slot under its lease.
func (e *Engine) dispatch(ctx context.Context, attempts *sync.WaitGroup) {
	inFlight := 0
	perLink, perPartner := map[string]int{}, map[string]int{}
	limits := map[string]*linkLimit{}
	linkCap := func(link string) int {
		if l := limits[link]; l != nil {
			return l.cap
		}
		return e.cfg.PerDataLink
	}
	batch := min(e.cfg.MaxInFlight, 128)
	// A claim costs nearly as much for one delivery as for a hundred, so
	// slots that come back are gathered before claiming again: until half
	// of those in flight are back (refill), or maxClaimDelay has passed since
	// the first, unless new work is announced or due.
	claimNow, freed, refill := true, 0, 1
	var firstFreed time.Time
	// idle: the last claim found nothing due at all, with no link or
	// partner held back by its cap. With a store that announces what
	// becomes due (Due: PostgreSQL's NOTIFY of emits not handed over,
	// releases, requeues, ordered links' next deliveries), slots coming
	// back then are no reason to claim: only an announcement, giving back
	// hand-overs, and the timer are (the next due time, this engine's own
	// retries as they are recorded, or the poll). So an engine fed by
	// hand-overs at insert does not claim, and find nothing, each time
	// half its slots come back.
	idle := false
	// dueAt is when the store said, after the last claim that found
	// nothing, its next delivery falls due; zero: not known.
	var dueAt time.Time
	// done counts a recorded batch back in. Its retries are in the store
	// now, due at their time: the loop claims then, idle or not.
	done := func(r recorded) {
		inFlight -= r.n
		if !r.retryAt.IsZero() && (dueAt.IsZero() || r.retryAt.Before(dueAt)) {
			dueAt = r.retryAt
		}
	}
	answered := func(a answer) {
		if perLink[a.link]--; perLink[a.link] <= 0 {
			delete(perLink, a.link)
		}
		if perPartner[a.partner]--; perPartner[a.partner] <= 0 {
			delete(perPartner, a.partner)
		}
		if freed++; freed == 1 {
			firstFreed = e.cfg.Now()
		}
		l := limits[a.link]
		switch {
		case a.timedOut:
			if l == nil {
				l = &linkLimit{cap: e.cfg.PerDataLink}
				limits[a.link] = l
			}
			if l.timeouts++; l.timeouts >= labhooks.TripAfterTimeouts && l.cap > 1 {
				l.cap = 1
				e.cfg.Logger.Warn("data link's receiver is not answering: one attempt at a time until it does",
					"datalink", a.link, "timeouts", l.timeouts)
			}
		case a.answered && l != nil:
			l.timeouts = 0
			if l.cap = min(2*l.cap, e.cfg.PerDataLink); l.cap >= e.cfg.PerDataLink {
				delete(limits, a.link)
			}
		}
	}
	// take starts the jobs handed over at insert that the caps allow, as a
	// claim would have taken them, and gives the others back to the store.
	take := func(jobs []*labhooks.Job) {
		var refused []*labhooks.Job
		for _, j := range jobs {
			share := partnerShare(e.cfg.MaxInFlight, e.cfg.PerDataLink, len(perPartner)) // as a claim counts
			if ctx.Err() != nil || inFlight >= e.cfg.MaxInFlight || perLink[j.DataLinkID] >= linkCap(j.DataLinkID) || perPartner[j.PartnerID] >= share {
				refused = append(refused, j)
				continue
			}
			inFlight++
			perLink[j.DataLinkID]++
			perPartner[j.PartnerID]++
			attempts.Go(func() { e.attempt(j, trace.SpanContext{}) })
		}
		if len(refused) > 0 {
			// Off the loop: a release waits for the store's write
			// connection.
			go e.cfg.Fresh.Release(refused)
			idle = false
		}
	}
	for ctx.Err() == nil {
		for drained := false; !drained; {
			select {
			case a := <-e.sent:
				answered(a)
			case r := <-e.done:
				done(r)
			case jobs := <-e.fresh:
				take(jobs)
			default:
				drained = true
			}
		}
		claimNow = claimNow || freed >= refill && !idle
		claimed, tried, full := 0, false, false
		if room := e.cfg.MaxInFlight - inFlight; claimNow && room > 0 {
			var saturated, busyPartners []string
			for link, n := range perLink {
				if n >= linkCap(link) {
					saturated = append(saturated, link)
				}
			}
			share := partnerShare(e.cfg.MaxInFlight, e.cfg.PerDataLink, len(perPartner))
			held := 0 // slots of the partners at their share
			for partner, n := range perPartner {
				if n >= share {
					busyPartners = append(busyPartners, partner)
					held += n
				}
			}
			var caps map[string]int
			if len(limits) > 0 {
				caps = make(map[string]int, len(limits))
				for link, l := range limits {
					caps[link] = l.cap
				}
			}
			limit := min(room, batch)
			claim := e.startClaim(limit)
			jobs, err := e.cfg.Queue.ClaimDeliveries(ctx, labhooks.ClaimParams{
				Owner: e.cfg.Owner, Now: e.cfg.Now(), Lease: e.cfg.Lease, Limit: limit,
				PerDataLink: e.cfg.PerDataLink, DataLinkCaps: caps, InFlight: maps.Clone(perLink), ExcludeDataLinks: saturated,
				PerPartner: share, PartnerInFlight: maps.Clone(perPartner), ExcludePartners: busyPartners,
			})
			if err != nil && ctx.Err() == nil {
				e.cfg.Logger.Error("claiming deliveries", "err", err)
			}
			claimSC := e.endClaim(ctx, claim, len(jobs), err)
			for _, j := range jobs {
				inFlight++
				perLink[j.DataLinkID]++
				perPartner[j.PartnerID]++
				attempts.Go(func() { e.attempt(j, claimSC) })
			}
			claimed, tried, full = len(jobs), true, len(jobs) == limit
			idle = e.cfg.Due != nil && err == nil && claimed == 0 && len(saturated) == 0 && len(busyPartners) == 0
			// Slots held by partners at their share (hanging receivers) are
			// not waited for: they may not come back for the whole timeout.
			claimNow, freed, refill = full, 0, max(1, min(batch, (inFlight-held)/2))
		}
		if full {
			continue
		}
		// Sleep until the next delivery falls due. One due already but not
		// claimed belongs to a link with all its slots taken: an answer
		// (e.sent) wakes the loop for it.
		wait := e.cfg.PollInterval
		if tried {
			dueAt = time.Time{}
			if claimed == 0 {
				if next, ok, err := e.cfg.Queue.NextDue(ctx); err == nil && ok {
					dueAt = next
				}
			}
		}
		// Kept while idle: the loop may wake for other reasons (answers,
		// hand-overs) before then, and must still claim at that time.
		if !dueAt.IsZero() {
			if d := dueAt.Sub(e.cfg.Now()); d > 0 {
				wait = min(wait, d)
			} else if idle {
				// Due already, and no cap held anything back: claim it
				// (after the usual short gathering).
				wait = min(wait, maxClaimDelay)
			}
		}
		if freed > 0 && !idle {
			wait = min(wait, max(0, maxClaimDelay-e.cfg.Now().Sub(firstFreed)))
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-e.wake:
			claimNow, idle = true, false
		case a := <-e.sent:
			answered(a)
		case r := <-e.done:
			done(r)
		case jobs := <-e.fresh:
			take(jobs)
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
	res := e.cfg.Sender.Send(ctx, Request{ID: j.DeliveryID, URL: j.URL, Secrets: j.Secrets, Redact: j.Redact, Body: j.Body, Traceparent: traceparent, Meta: JobMeta(j)})
	status, next := e.cfg.Policy.After(j.Try, res.OK(), res.StartedAt.Add(res.Duration), res.RetryAfter, e.cfg.Rand)
	e.sent <- answer{link: j.DataLinkID, partner: j.PartnerID, answered: res.Err == nil, timedOut: res.Outcome() == "timeout"}
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
	if res.StatusCode == http.StatusGone && e.cfg.Disabler != nil {
		// The receiver says it is gone for good: the link is disabled now,
		// and its pending deliveries fail at their next claim.
		ctx, cancel := context.WithTimeout(context.Background(), goneDisableTimeout)
		defer cancel()
		gone := FailingLink{DataLinkID: j.DataLinkID, LastStatus: res.StatusCode, LastError: r.Attempt.Error, Gone: true}
		if err := e.cfg.Disabler.DisableFailing(ctx, []FailingLink{gone}); err != nil {
			e.cfg.Logger.Error("disabling a data link whose receiver is gone", "datalink", j.DataLinkID, "err", err)
		}
	}
}

// goneDisableTimeout bounds the disabling of a link that answered 410 Gone;
// should it fail, the link is disabled for failing in time (DisableAfter).
const goneDisableTimeout = 10 * time.Second

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
		done := recorded{n: len(batch)}
		for _, r := range batch {
			if r.Status == labhooks.DeliveryPending && r.NextAttemptAt != nil && (done.retryAt.IsZero() || r.NextAttemptAt.Before(done.retryAt)) {
				done.retryAt = *r.NextAttemptAt
			}
		}
		e.done <- done
	}
}

// recorded is what one batch of the recorder wrote: n results, the
// earliest of them to be tried again at retryAt (zero: none).
type recorded struct {
	n       int
	retryAt time.Time
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
