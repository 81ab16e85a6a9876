package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
)

// Ordered data links (labhooks.DataLink.Ordered): only the head of an
// ordered link is ever due; the rest wait, blocked, and are released one
// at a time in event (ID) order.

// orderedLink stores a data link of a new partner of role, ordered or not.
func (b *bundle) orderedLink(t *testing.T, ordered bool) *labhooks.DataLink {
	t.Helper()
	p := b.partner(t, labhooks.RoleSampler)
	d := &labhooks.DataLink{ID: id.New(id.DataLink), PartnerID: p.ID, URL: "https://example.test/hook", Secret: labhooks.GenerateSecret(),
		EventNames: []string{}, Enabled: true, Ordered: ordered, CreatedAt: b.now, UpdatedAt: b.now}
	if err := b.s.CreateDataLink(b.ctx, d); err != nil {
		t.Fatalf("CreateDataLink: %v", err)
	}
	return d
}

// emitTo emits n events to partner of link, and returns link's deliveries
// of them, oldest first.
func (b *bundle) emitTo(t *testing.T, link *labhooks.DataLink, n int) []string {
	t.Helper()
	var ids []string
	for range n {
		r := b.emit(t, AppointmentCreated, labhooks.Target{PartnerID: link.PartnerID})
		for _, d := range r.Deliveries {
			if d.DataLinkID == link.ID {
				ids = append(ids, d.ID)
			}
		}
	}
	if len(ids) != n || !slices.IsSorted(ids) {
		t.Fatalf("deliveries to %s: %v; want %d in order", link.ID, ids, n)
	}
	return ids
}

// wantQueue checks what a store says of link's order: which deliveries are
// due (have a next attempt) and which wait behind head.
func (b *bundle) wantQueue(t *testing.T, link, head string, waiting ...string) {
	t.Helper()
	q, err := b.s.OrderedQueue(b.ctx, link)
	if err != nil || q.Head != head || q.Waiting != len(waiting) {
		t.Fatalf("OrderedQueue(%s) = %+v, %v; want head %q and %d waiting", link, q, err, head, len(waiting))
	}
	for _, w := range waiting {
		d, err := b.s.Delivery(b.ctx, w)
		if err != nil || d.Status != labhooks.DeliveryPending || d.NextAttemptAt != nil || d.BlockedBehind != head {
			t.Fatalf("delivery %s = %+v, %v; want pending, blocked behind %s", w, d, err, head)
		}
	}
	if head != "" {
		d, err := b.s.Delivery(b.ctx, head)
		if err != nil || d.Status != labhooks.DeliveryPending || d.NextAttemptAt == nil || d.BlockedBehind != "" {
			t.Fatalf("head %s = %+v, %v; want pending with a next attempt", head, d, err)
		}
	}
}

// claimedOf returns the deliveries of link among jobs.
func claimedOf(jobs []*labhooks.Job, link string) []*labhooks.Job {
	var out []*labhooks.Job
	for _, j := range jobs {
		if j.DataLinkID == link {
			out = append(out, j)
		}
	}
	return out
}

// testOrderedBlocking: a failing head holds back the deliveries behind it
// through its retries, and its end, success or failure, releases the next;
// an unordered link beside it has all its deliveries due at once.
func testOrderedBlocking(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	ord, free := b.orderedLink(t, true), b.orderedLink(t, false)
	ds := b.emitTo(t, ord, 3)
	b.emitTo(t, free, 3)
	b.wantQueue(t, ord.ID, ds[0], ds[1], ds[2])
	if l, err := b.s.DataLink(b.ctx, ord.ID); err != nil || !l.Ordered || l.Mode() != labhooks.ModeOrdered {
		t.Fatalf("DataLink = %+v, %v; want ordered", l, err)
	}
	list, _, err := b.s.Deliveries(b.ctx, labhooks.DeliveryFilter{DataLinkID: &ord.ID})
	if err != nil || len(list) != 3 || list[0].BlockedBehind != ds[0] || list[1].BlockedBehind != ds[0] || list[2].BlockedBehind != "" {
		t.Fatalf("Deliveries of the ordered link = %+v, %v; want the two newest blocked behind %s", list, err, ds[0])
	}

	jobs := b.claim(t, b.now, 10)
	if o, f := claimedOf(jobs, ord.ID), claimedOf(jobs, free.ID); len(o) != 1 || o[0].DeliveryID != ds[0] || len(f) != 3 {
		t.Fatalf("claimed %d of the ordered link (%+v) and %d of the other; want its head alone, and 3", len(o), o, len(f))
	}
	head := claimedOf(jobs, ord.ID)[0]
	retry := b.now.Add(time.Second)
	b.record(t, head, b.now, 500, labhooks.DeliveryPending, &retry)
	b.wantQueue(t, ord.ID, ds[0], ds[1], ds[2])
	if jobs := b.claim(t, retry, 10); len(jobs) != 1 || jobs[0].DeliveryID != ds[0] || jobs[0].Try != 2 {
		t.Fatalf("at the retry claimed %+v; want the head's second try alone", jobs)
	} else {
		head = jobs[0]
	}
	// Delivered: the next one is due when the attempt ended.
	b.record(t, head, retry, 200, labhooks.DeliverySucceeded, nil)
	ended := retry.Add(12 * time.Millisecond)
	b.wantQueue(t, ord.ID, ds[1], ds[2])
	if d, _ := b.s.Delivery(b.ctx, ds[1]); !sameTime(d.NextAttemptAt, &ended) {
		t.Fatalf("released delivery due %v, want %v", d.NextAttemptAt, ended)
	}
	if next, ok, err := b.s.NextDue(b.ctx); err != nil || !ok || next.After(ended) {
		t.Fatalf("NextDue = %v, %v, %v; want %v at the latest", next, ok, err, ended)
	}
	jobs = b.claim(t, ended, 10)
	if len(jobs) != 1 || jobs[0].DeliveryID != ds[1] {
		t.Fatalf("claimed %+v; want %s alone", jobs, ds[1])
	}
	// Failed for good: the next is released all the same.
	b.record(t, jobs[0], ended, 500, labhooks.DeliveryFailed, nil)
	b.wantQueue(t, ord.ID, ds[2])
	jobs = b.claim(t, ended.Add(time.Second), 10)
	if len(jobs) != 1 || jobs[0].DeliveryID != ds[2] {
		t.Fatalf("claimed %+v; want %s alone", jobs, ds[2])
	}
	b.record(t, jobs[0], ended.Add(time.Second), 200, labhooks.DeliverySucceeded, nil)
	b.wantQueue(t, ord.ID, "")
	// With nothing pending, a new event's delivery is the head at once.
	fresh := b.emitTo(t, ord, 1)
	b.wantQueue(t, ord.ID, fresh[0])
}

// testOrderedRequeue: a delivery sent again by hand waits behind the head
// rather than overtaking it or going beside it; with no head it is the
// head; the head itself requeued stays the head.
func testOrderedRequeue(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	ord := b.orderedLink(t, true)
	ds := b.emitTo(t, ord, 3)
	at := b.now
	for i := range ds {
		jobs := b.claim(t, at, 10)
		if len(jobs) != 1 || jobs[0].DeliveryID != ds[i] {
			t.Fatalf("claim %d = %+v; want %s", i, jobs, ds[i])
		}
		status := labhooks.DeliveryFailed
		if i == 2 {
			status = labhooks.DeliverySucceeded
		}
		b.record(t, jobs[0], at, 500, status, nil)
		at = at.Add(time.Second)
		if i == 1 {
			// ds[2] is the head, not yet claimed: ds[0] goes behind it.
			if n, err := b.s.Requeue(b.ctx, labhooks.RequeueParams{DeliveryID: ds[0], Now: at}); err != nil || n != 1 {
				t.Fatalf("Requeue = %d, %v", n, err)
			}
			b.wantQueue(t, ord.ID, ds[2], ds[0])
		}
	}
	// ds[2] succeeded: the requeued ds[0] is the head, on a fresh schedule.
	jobs := b.claim(t, at, 10)
	if len(jobs) != 1 || jobs[0].DeliveryID != ds[0] || jobs[0].Try != 1 {
		t.Fatalf("after the head, claimed %+v; want the requeued %s, try 1", jobs, ds[0])
	}
	// The head requeued by hand stays the head, due at once.
	later := at.Add(time.Hour)
	if n, err := b.s.Requeue(b.ctx, labhooks.RequeueParams{DeliveryID: ds[0], Now: later}); err != nil || n != 1 {
		t.Fatalf("Requeue of the head = %d, %v", n, err)
	}
	b.wantQueue(t, ord.ID, ds[0])
	jobs = b.claim(t, later, 10)
	if len(jobs) != 1 || jobs[0].DeliveryID != ds[0] {
		t.Fatalf("claimed %+v; want the head again", jobs)
	}
	b.record(t, jobs[0], later, 500, labhooks.DeliveryFailed, nil)
	// The failed ones of a period, requeued with no head: the oldest is
	// the head, the others wait behind it in order.
	if n, err := b.s.Requeue(b.ctx, labhooks.RequeueParams{DataLinkID: ord.ID, Since: b.now.Add(-time.Hour), Now: later}); err != nil || n != 2 {
		t.Fatalf("Requeue of the link = %d, %v; want 2", n, err)
	}
	b.wantQueue(t, ord.ID, ds[0], ds[1])
}

// testOrderedDisable: a claim that fails the head of a disabled link fails
// those blocked behind it at once, with the same reason; deleting a link
// fails them all.
func testOrderedDisable(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	ord, gone := b.orderedLink(t, true), b.orderedLink(t, true)
	ds := b.emitTo(t, ord, 3)
	gs := b.emitTo(t, gone, 2)
	b.update(t, ord.ID, b.now, labhooks.DataLinkUpdate{Enabled: new(false)})
	if err := b.s.DeleteDataLink(b.ctx, gone.ID, b.now); err != nil {
		t.Fatal(err)
	}
	if jobs := b.claim(t, b.now, 10); len(jobs) != 0 {
		t.Fatalf("claimed %+v; want none", jobs)
	}
	for _, c := range []struct {
		ids []string
		why string
	}{{ds, "the data link is disabled"}, {gs, "the data link was deleted"}} {
		for _, id := range c.ids {
			d, err := b.s.Delivery(b.ctx, id)
			if err != nil || d.Status != labhooks.DeliveryFailed || d.LastError != c.why {
				t.Fatalf("delivery %s = %+v, %v; want failed: %s", id, d, err, c.why)
			}
		}
	}
	if jobs := b.claim(t, b.now.Add(time.Hour), 10); len(jobs) != 0 {
		t.Fatalf("an hour later claimed %+v; want none", jobs)
	}
}

// testOrderedToggle: turning ordering on blocks the pending deliveries not
// in flight (those in flight finish first); turning it off releases all.
func testOrderedToggle(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	link, idle := b.orderedLink(t, false), b.orderedLink(t, false)
	ds := b.emitTo(t, link, 3)
	jobs := claimedOf(b.claim(t, b.now, 10), link.ID)
	if len(jobs) != 3 {
		t.Fatalf("claimed %d of the unordered link, want 3", len(jobs))
	}
	retry := b.now.Add(time.Second)
	b.record(t, jobs[0], b.now, 500, labhooks.DeliveryPending, &retry)
	b.record(t, jobs[1], b.now, 500, labhooks.DeliveryPending, &retry)
	// ds[2] stays in flight; ds[0] and ds[1] wait for their retry.
	on := b.now.Add(100 * time.Millisecond)
	if d := b.update(t, link.ID, on, labhooks.DataLinkUpdate{Ordered: new(true)}); !d.Ordered {
		t.Fatalf("after turning ordering on: %+v", d)
	}
	b.wantQueue(t, link.ID, ds[2], ds[0], ds[1])
	if jobs := claimedOf(b.claim(t, retry, 10), link.ID); len(jobs) != 0 {
		t.Fatalf("claimed %+v behind the delivery in flight", jobs)
	}
	b.record(t, jobs[2], b.now, 200, labhooks.DeliverySucceeded, nil)
	b.wantQueue(t, link.ID, ds[0], ds[1])

	// A backlog with nothing in flight: the oldest is the head.
	is := b.emitTo(t, idle, 3)
	b.update(t, idle.ID, on, labhooks.DataLinkUpdate{Ordered: new(true)})
	b.wantQueue(t, idle.ID, is[0], is[1], is[2])

	off := on.Add(time.Second)
	b.update(t, idle.ID, off, labhooks.DataLinkUpdate{Ordered: new(false)})
	for _, id := range is {
		if d, err := b.s.Delivery(b.ctx, id); err != nil || d.NextAttemptAt == nil || d.NextAttemptAt.After(off) || d.BlockedBehind != "" {
			t.Fatalf("after turning ordering off, %s = %+v, %v; want due by %v", id, d, err, off)
		}
	}
	if jobs := claimedOf(b.claim(t, off, 10), idle.ID); len(jobs) != 3 {
		t.Fatalf("claimed %d after turning ordering off, want 3", len(jobs))
	}
}

// testOrderedConcurrentEmit: events emitted at once to an ordered link
// leave exactly one of its deliveries due, however many writers race (on
// PostgreSQL, the link's lock).
func testOrderedConcurrentEmit(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	ord := b.orderedLink(t, true)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for range 4 {
		wg.Go(func() {
			for range 10 {
				if _, err := b.tryEmit(AppointmentCreated, labhooks.Target{PartnerID: ord.PartnerID}, ""); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ds, _, err := b.s.Deliveries(b.ctx, labhooks.DeliveryFilter{DataLinkID: &ord.ID, Limit: 100})
	if err != nil || len(ds) != 40 {
		t.Fatalf("Deliveries = %d, %v; want 40", len(ds), err)
	}
	var due []string
	for _, d := range ds {
		if d.NextAttemptAt != nil {
			due = append(due, d.ID)
		}
	}
	if len(due) != 1 {
		t.Fatalf("%d deliveries of the ordered link have a next attempt (%v); want 1", len(due), due)
	}
	q, err := b.s.OrderedQueue(b.ctx, ord.ID)
	if err != nil || q.Head != due[0] || q.Waiting != 39 {
		t.Fatalf("OrderedQueue = %+v, %v; want %s and 39 waiting", q, err, due[0])
	}
}

// testOrderedErasure: erasing a user's data fails the pending deliveries
// of their events; when that was an ordered link's head, the next one is
// released.
func testOrderedErasure(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	ord := b.orderedLink(t, true)
	var ds []string
	for _, user := range []string{"u1", "u2", "u3"} {
		e := &labhooks.Event{Data: []byte(`{"appointmentId":1,"userId":"` + user + `"}`), PartnerID: ord.PartnerID, CreatedAt: b.now}
		r, err := Emit(b.ctx, b.s, AppointmentCreated, e)
		if err != nil || len(r.Deliveries) != 1 {
			t.Fatalf("Emit = %+v, %v", r, err)
		}
		ds = append(ds, r.Deliveries[0].ID)
	}
	b.wantQueue(t, ord.ID, ds[0], ds[1], ds[2])
	// The third event stands for the request: u1's earlier events are erased.
	req, err := b.s.Delivery(b.ctx, ds[2])
	if err != nil {
		t.Fatal(err)
	}
	if err := b.s.EraseUser(b.ctx, labhooks.EraseUserParams{EventID: req.EventID, UserID: "u1", Now: b.now}); err != nil {
		t.Fatalf("EraseUser: %v", err)
	}
	if d, err := b.s.Delivery(b.ctx, ds[0]); err != nil || d.Status != labhooks.DeliveryFailed {
		t.Fatalf("the erased event's delivery = %+v, %v; want failed", d, err)
	}
	b.wantQueue(t, ord.ID, ds[1], ds[2])
}
