package storetest

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
)

// Claim at insert (labhooks.FreshQueue), which every store of labhooks
// implements: the deliveries an emit stores due at once are leased in the
// insert and handed to the engine after the commit.

// Handed collects what a store hands over at insert (its Offer is the
// engine's side of labhooks.FreshQueue.OfferFresh); Take is what Offer
// answers.
type Handed struct {
	mu   sync.Mutex
	jobs []*labhooks.Job
	Take bool
}

// Offer keeps jobs when Take, and answers Take.
func (h *Handed) Offer(jobs []*labhooks.Job) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.Take {
		h.jobs = append(h.jobs, jobs...)
	}
	return h.Take
}

// Got returns the jobs kept so far.
func (h *Handed) Got() []*labhooks.Job {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*labhooks.Job(nil), h.jobs...)
}

// SetTake sets what Offer answers from now on.
func (h *Handed) SetTake(take bool) {
	h.mu.Lock()
	h.Take = take
	h.mu.Unlock()
}

// fresh sets up b's store to hand over at insert to h.
func (b *bundle) fresh(t *testing.T, take bool) (labhooks.FreshQueue, *Handed) {
	t.Helper()
	fq, ok := b.s.(labhooks.FreshQueue)
	if !ok {
		t.Fatalf("%T does not hand deliveries over at insert (labhooks.FreshQueue)", b.s)
	}
	h := &Handed{Take: take}
	if !fq.OfferFresh("engine", time.Minute, h.Offer) {
		t.Fatalf("%T: OfferFresh = false", b.s)
	}
	t.Cleanup(func() { fq.OfferFresh("engine", time.Minute, nil) })
	return fq, h
}

// emitAt emits a resultAdded about result 1 to every lab, due at at (see
// Emit).
func (b *bundle) emitAt(t *testing.T, at time.Time) *labhooks.CreateEventResult {
	t.Helper()
	res, err := Emit(b.ctx, b.s, ResultAdded, &labhooks.Event{Data: []byte(`{"resultId":1}`), CreatedAt: at, Entity: "result:1"})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (b *bundle) claimAt(t *testing.T, now time.Time) []*labhooks.Job {
	t.Helper()
	jobs, err := b.s.ClaimDeliveries(b.ctx, labhooks.ClaimParams{Owner: "claims", Now: now, Lease: time.Minute, Limit: 100, PerDataLink: 16})
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

// A delivery handed over at insert is leased to the engine: a claim made
// meanwhile does not take it again, NextDue says when its lease ends, and
// its record (by the lease it was handed with) makes it final.
func testFreshHandOver(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	_, h := b.fresh(t, true)
	link := b.link(t, b.partner(t, labhooks.RoleLab))
	now := time.Now()
	var ids []string
	for range 3 {
		ids = append(ids, b.emitAt(t, now).Deliveries[0].ID)
	}
	jobs := h.Got()
	if len(jobs) != 3 {
		t.Fatalf("handed over %d jobs, want 3", len(jobs))
	}
	for i, j := range jobs {
		if j.DeliveryID != ids[i] || j.Try != 1 || j.URL != link.URL || len(j.Secrets) != 1 || j.Secrets[0] != link.Secret ||
			!strings.HasPrefix(j.LeaseToken, "engine:") || !strings.Contains(string(j.Body), `"resultId":1`) || j.DataLinkID != link.ID ||
			j.PartnerID != link.PartnerID || j.Sequence == 0 || j.Entity == "" {
			t.Fatalf("handed job %d = %+v", i, j)
		}
	}
	if again := b.claimAt(t, now); len(again) != 0 {
		t.Fatalf("a claim took %d deliveries that were handed over at insert", len(again))
	}
	if next, ok, err := b.s.NextDue(b.ctx); err != nil || !ok || next.Before(now.Add(50*time.Second)) {
		t.Fatalf("NextDue = %v, %v, %v; want the hand-over's lease end, a minute on", next, ok, err)
	}
	var rs []labhooks.AttemptResult
	for _, j := range jobs {
		rs = append(rs, labhooks.AttemptResult{LeaseToken: j.LeaseToken, DataLinkID: j.DataLinkID, Status: labhooks.DeliverySucceeded,
			Attempt: labhooks.Attempt{DeliveryID: j.DeliveryID, StartedAt: now, StatusCode: 200}})
	}
	if err := b.s.RecordAttempts(b.ctx, rs); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		d, err := b.s.Delivery(b.ctx, id)
		if err != nil || d.Status != labhooks.DeliverySucceeded || d.AttemptCount != 1 || len(d.Attempts) != 1 {
			t.Fatalf("after its record, delivery = %+v, %v", d, err)
		}
	}
	if _, ok, err := b.s.NextDue(b.ctx); ok || err != nil {
		t.Fatalf("NextDue with nothing pending: %v, %v", ok, err)
	}
	if again := b.claimAt(t, now.Add(time.Hour)); len(again) != 0 {
		t.Fatalf("claimed %d deliveries that succeeded", len(again))
	}
}

// What the engine refuses (no room), or gives back, is claimed as usual, at
// once; the lease it was handed with no longer moves it on.
func testFreshRefusedOrReleased(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	fq, h := b.fresh(t, false)
	b.link(t, b.partner(t, labhooks.RoleLab))
	refused := b.emitAt(t, time.Now()).Deliveries[0].ID
	if jobs := b.claimAt(t, time.Now()); len(jobs) != 1 || jobs[0].DeliveryID != refused {
		t.Fatalf("after the engine refused the hand-over, claimed %+v", jobs)
	}
	h.SetTake(true)
	given := b.emitAt(t, time.Now()).Deliveries[0].ID
	jobs := h.Got()
	if len(jobs) != 1 || jobs[0].DeliveryID != given {
		t.Fatalf("handed over %+v", jobs)
	}
	fq.Release(jobs)
	if again := b.claimAt(t, time.Now()); len(again) != 1 || again[0].DeliveryID != given {
		t.Fatalf("after Release, claimed %+v; want the delivery given back", again)
	}
	j := jobs[0]
	stale := labhooks.AttemptResult{LeaseToken: j.LeaseToken, DataLinkID: j.DataLinkID, Status: labhooks.DeliverySucceeded,
		Attempt: labhooks.Attempt{DeliveryID: j.DeliveryID, StartedAt: time.Now(), StatusCode: 200}}
	if err := b.s.RecordAttempts(b.ctx, []labhooks.AttemptResult{stale}); err != nil {
		t.Fatal(err)
	}
	if d, _ := b.s.Delivery(b.ctx, given); d.Status != labhooks.DeliveryPending {
		t.Fatalf("a released lease's record moved the delivery on: %+v", d)
	}
}

// Only deliveries due at insert to ordinary (push) links that are not
// ordered are handed over: one due later waits for its time and a claim;
// an ordered link's and a pull link's are never handed over.
func testFreshOnlyWhatIsDue(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	_, h := b.fresh(t, true)
	lab := b.partner(t, labhooks.RoleLab)
	b.link(t, lab)
	later := time.Now().Add(time.Hour)
	id := b.emitAt(t, later).Deliveries[0].ID
	if jobs := h.Got(); len(jobs) != 0 {
		t.Fatalf("handed over %+v, due in an hour", jobs)
	}
	if jobs := b.claimAt(t, time.Now()); len(jobs) != 0 {
		t.Fatalf("claimed %+v before it was due", jobs)
	}
	if jobs := b.claimAt(t, later); len(jobs) != 1 || jobs[0].DeliveryID != id {
		t.Fatalf("once due, claimed %+v", jobs)
	}

	other := b.partner(t, labhooks.RoleLab)
	ordered := &labhooks.DataLink{ID: "dl_ordered_" + other.ID, PartnerID: other.ID, URL: "https://example.test/ordered",
		Secret: labhooks.GenerateSecret(), Enabled: true, Ordered: true, CreatedAt: b.now, UpdatedAt: b.now}
	if err := b.s.CreateDataLink(b.ctx, ordered); err != nil {
		t.Fatal(err)
	}
	pull := &labhooks.DataLink{ID: "dl_pull_" + other.ID, PartnerID: other.ID, Kind: labhooks.DataLinkPull,
		Secret: labhooks.GenerateSecret(), Enabled: true, CreatedAt: b.now, UpdatedAt: b.now}
	if err := b.s.CreateDataLink(b.ctx, pull); err != nil {
		t.Fatal(err)
	}
	res := b.emitAt(t, time.Now())
	for _, j := range h.Got() {
		if j.DataLinkID == ordered.ID || j.DataLinkID == pull.ID {
			t.Fatalf("handed over %+v, to an ordered or pull link", j)
		}
	}
	if len(res.Deliveries) != 3 || len(h.Got()) != 1 {
		t.Fatalf("an emit to three links (one ordinary, one ordered, one pull) stored %d deliveries and handed over %d; want 3 and 1",
			len(res.Deliveries), len(h.Got()))
	}
}
