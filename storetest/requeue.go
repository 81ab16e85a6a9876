package storetest

import (
	"testing"
	"time"

	"github.com/labhooks/labhooks"
)

// testRequeueDelivery sends one delivery again: due at Now, with a fresh
// retry schedule, so that its next claim is the schedule's first try.
func testRequeueDelivery(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	link := b.link(t, b.partner(t, labhooks.RoleSampler))
	b.emit(t, AppointmentCreated, toAll)
	j := b.claim(t, b.now, 1)[0]
	retry := b.now.Add(time.Second)
	b.record(t, j, b.now, 500, labhooks.DeliveryPending, &retry)
	j = b.claim(t, retry, 1)[0]
	if j.Try != 2 {
		t.Fatalf("second claim Try = %d, want 2", j.Try)
	}
	b.record(t, j, retry, 500, labhooks.DeliveryFailed, nil)
	later := b.now.Add(time.Hour)
	n, err := b.s.Requeue(b.ctx, labhooks.RequeueParams{DeliveryID: j.DeliveryID, Now: later})
	if err != nil || n != 1 {
		t.Fatalf("Requeue = %d, %v; want 1", n, err)
	}
	d, err := b.s.Delivery(b.ctx, j.DeliveryID)
	if err != nil || d.Status != labhooks.DeliveryPending || !sameTime(d.NextAttemptAt, &later) || !d.UpdatedAt.Equal(later) || d.AttemptCount != 2 {
		t.Fatalf("after Requeue: %+v, %v", d, err)
	}
	if next, ok, err := b.s.NextDue(b.ctx); err != nil || !ok || next.After(later) {
		t.Fatalf("NextDue after Requeue = %v, %v, %v; want %v at the latest", next, ok, err, later)
	}
	if jobs := b.claim(t, later.Add(-time.Millisecond), 1); len(jobs) != 0 {
		t.Fatalf("claimed %+v before the requeued delivery was due", jobs)
	}
	j2 := b.claim(t, later, 1)
	if len(j2) != 1 || j2[0].DeliveryID != j.DeliveryID || j2[0].Try != 1 {
		t.Fatalf("after Requeue claimed %+v; want Try 1", j2)
	}
	_, err = b.s.Requeue(b.ctx, labhooks.RequeueParams{DeliveryID: "dlv_missing", Now: later})
	wantCode(t, err, labhooks.ENotFound)
	// Whether the link may receive it is the caller's to decide: the store
	// requeues, and the claim fails what cannot be sent.
	b.record(t, j2[0], later, 500, labhooks.DeliveryFailed, nil)
	b.update(t, link.ID, later, labhooks.DataLinkUpdate{Enabled: new(false)})
	if n, err := b.s.Requeue(b.ctx, labhooks.RequeueParams{DeliveryID: j.DeliveryID, Now: later}); err != nil || n != 1 {
		t.Fatalf("Requeue to a disabled link = %d, %v", n, err)
	}
	if jobs := b.claim(t, later, 1); len(jobs) != 0 {
		t.Fatalf("claimed %+v for a disabled link", jobs)
	}
}

// testRequeueAnyStatus requeues deliveries by ID whatever their status: a
// succeeded one is sent again, and a pending one in flight loses its lease,
// so the attempt under way no longer moves it on.
func testRequeueAnyStatus(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	b.link(t, b.partner(t, labhooks.RoleSampler))
	b.emit(t, AppointmentCreated, toAll)
	b.emit(t, AppointmentCreated, toAll)
	jobs := b.claim(t, b.now, 2)
	if len(jobs) != 2 {
		t.Fatalf("claimed %d, want 2", len(jobs))
	}
	done, inFlight := jobs[0], jobs[1]
	b.record(t, done, b.now, 200, labhooks.DeliverySucceeded, nil)
	later := b.now.Add(time.Minute)
	for _, j := range jobs {
		if n, err := b.s.Requeue(b.ctx, labhooks.RequeueParams{DeliveryID: j.DeliveryID, Now: later}); err != nil || n != 1 {
			t.Fatalf("Requeue(%s) = %d, %v", j.DeliveryID, n, err)
		}
	}
	retry := b.now.Add(time.Hour)
	b.record(t, inFlight, b.now, 500, labhooks.DeliveryPending, &retry) // the old lease's outcome
	again := b.claim(t, later, 10)
	if len(again) != 2 {
		t.Fatalf("after requeueing a succeeded and an in-flight delivery, claimed %+v; want both, due at once", again)
	}
	for _, j := range again {
		if j.DeliveryID == done.DeliveryID && j.Try != 1 {
			t.Fatalf("requeued job %+v; want Try 1", j)
		}
	}
}

func testRequeueFailed(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	link := b.link(t, b.partner(t, labhooks.RoleSampler))
	other := b.link(t, b.partner(t, labhooks.RoleSampler))
	b.emit(t, AppointmentCreated, toAll) // at b.now, to both links
	b.now = b.now.Add(time.Hour)
	b.emit(t, AppointmentCreated, toAll) // an hour later
	for _, j := range b.claim(t, b.now, 10) {
		b.record(t, j, b.now, 500, labhooks.DeliveryFailed, nil)
	}
	start := b.now.Add(-time.Hour)
	n, err := b.s.Requeue(b.ctx, labhooks.RequeueParams{DataLinkID: link.ID, Since: start, Until: start.Add(time.Minute), Now: b.now})
	if err != nil || n != 1 {
		t.Fatalf("Requeue(first hour) = %d, %v; want 1", n, err)
	}
	jobs := b.claim(t, b.now, 10)
	if len(jobs) != 1 || jobs[0].DataLinkID != link.ID || jobs[0].Try != 1 {
		t.Fatalf("after requeue claimed %+v", jobs)
	}
	n, _ = b.s.Requeue(b.ctx, labhooks.RequeueParams{DataLinkID: link.ID, Since: start, Now: b.now})
	if n != 1 {
		t.Fatalf("Requeue(open range) = %d, want the 1 still failed", n)
	}
	failed := labhooks.DeliveryFailed
	if ds, _, _ := b.s.Deliveries(b.ctx, labhooks.DeliveryFilter{DataLinkID: &other.ID, Status: &failed}); len(ds) != 2 {
		t.Fatalf("another link's failed deliveries were touched: %d left failed, want 2", len(ds))
	}
	if n, err := b.s.Requeue(b.ctx, labhooks.RequeueParams{DataLinkID: "dl_missing", Since: start, Now: b.now}); err != nil || n != 0 {
		t.Fatalf("Requeue(a missing link) = %d, %v; want 0", n, err)
	}
}
