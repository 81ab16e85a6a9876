package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
)

func testDeliveriesPaging(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	p := b.partner(t, labhooks.RoleSampler)
	b.link(t, p)
	other := b.partner(t, labhooks.RoleSampler)
	b.link(t, other)
	for range 7 {
		b.emit(t, AppointmentCreated, toAll)
	}
	var seen []string
	var cursor *string
	for {
		page, next, err := b.s.Deliveries(b.ctx, labhooks.DeliveryFilter{PartnerID: &p.ID, Before: cursor, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page {
			if d.PartnerID != p.ID {
				t.Fatalf("filter by partner returned %+v", d)
			}
			seen = append(seen, d.ID)
		}
		if next == "" {
			break
		}
		cursor = &next
	}
	if len(seen) != 7 {
		t.Fatalf("paged through %d deliveries, want 7", len(seen))
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] >= seen[i-1] {
			t.Fatalf("not newest first: %v", seen)
		}
	}
	j := b.claim(t, b.now, 1)[0]
	b.record(t, j, b.now, 200, labhooks.DeliverySucceeded, nil)
	ok := labhooks.DeliverySucceeded
	done, _, _ := b.s.Deliveries(b.ctx, labhooks.DeliveryFilter{Status: &ok})
	if len(done) != 1 || done[0].ID != j.DeliveryID {
		t.Fatalf("filter by status = %v", done)
	}
	all, _, _ := b.s.Deliveries(b.ctx, labhooks.DeliveryFilter{Limit: 100})
	pending := labhooks.DeliveryPending
	if waiting, _, _ := b.s.Deliveries(b.ctx, labhooks.DeliveryFilter{Status: &pending, Limit: 100}); len(waiting) != len(all)-1 ||
		slices.ContainsFunc(waiting, func(d *labhooks.Delivery) bool { return d.ID == j.DeliveryID }) {
		t.Fatalf("filter by status pending = %d deliveries, want the %d others", len(waiting), len(all)-1)
	}
	bogus := labhooks.DeliveryStatus("pending' OR '1' = '1")
	_, _, err := b.s.Deliveries(b.ctx, labhooks.DeliveryFilter{Status: &bogus})
	wantCode(t, err, labhooks.EInvalid)
	byLink, _, _ := b.s.Deliveries(b.ctx, labhooks.DeliveryFilter{DataLinkID: &j.DataLinkID})
	if len(byLink) != 7 {
		t.Fatalf("filter by data link = %d, want 7", len(byLink))
	}
}

func testDeliveriesByEventName(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	b.link(t, b.partner(t, labhooks.RoleSampler))
	b.emit(t, AppointmentCreated, toAll)
	b.emit(t, appointmentCancelled, toAll)
	b.emit(t, AppointmentCreated, toAll)
	name := "appointmentCreated"
	ds, _, err := b.s.Deliveries(b.ctx, labhooks.DeliveryFilter{EventName: &name})
	if err != nil || len(ds) != 2 {
		t.Fatalf("filter by event name = %d deliveries, %v; want 2", len(ds), err)
	}
	for _, d := range ds {
		if d.EventName != name {
			t.Fatalf("filter by event name returned %+v", d)
		}
	}
}

// testDeleteFailsPending deletes a data link and a partner: their pending
// deliveries fail at the time given, and stay listed.
func testDeleteFailsPending(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	link := b.link(t, b.partner(t, labhooks.RoleSampler))
	gone := b.partner(t, labhooks.RoleSampler)
	b.link(t, gone)
	b.link(t, gone)
	r := b.emit(t, AppointmentCreated, toAll)
	later := b.now.Add(time.Minute)
	if err := b.s.DeleteDataLink(b.ctx, link.ID, later); err != nil {
		t.Fatal(err)
	}
	if err := b.s.DeletePartner(b.ctx, gone.ID, later); err != nil {
		t.Fatal(err)
	}
	for _, want := range r.Deliveries {
		d, err := b.s.Delivery(b.ctx, want.ID)
		if err != nil || d.Status != labhooks.DeliveryFailed || !strings.Contains(d.LastError, "deleted") || d.NextAttemptAt != nil || !d.UpdatedAt.Equal(later) {
			t.Fatalf("pending delivery of a deleted link or partner: %+v, %v", d, err)
		}
	}
	if ds, _, err := b.s.Deliveries(b.ctx, labhooks.DeliveryFilter{EventID: &r.Event.ID}); err != nil || len(ds) != 3 {
		t.Fatalf("the event's deliveries after the deletes: %v, %v; want all 3 listed", ds, err)
	}
	if jobs := b.claim(t, b.now, 10); len(jobs) != 0 {
		t.Fatalf("claimed %d deliveries of deleted links", len(jobs))
	}
	// A link disabled after the event was stored: its delivery fails at claim.
	link2 := b.link(t, b.partner(t, labhooks.RoleSampler))
	r2 := b.emit(t, AppointmentCreated, toAll)
	b.update(t, link2.ID, b.now, labhooks.DataLinkUpdate{Enabled: new(false)})
	if jobs := b.claim(t, b.now, 10); len(jobs) != 0 {
		t.Fatalf("claimed %d deliveries of a disabled link", len(jobs))
	}
	d, _ := b.s.Delivery(b.ctx, r2.Deliveries[0].ID)
	if d.Status != labhooks.DeliveryFailed {
		t.Fatalf("delivery to a disabled link: %+v", d)
	}
}
