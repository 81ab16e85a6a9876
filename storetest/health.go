package storetest

import (
	"testing"
	"time"

	"github.com/labhooks/labhooks"
)

func testHealth(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	h, err := b.s.Health(b.ctx, b.now.Add(-time.Hour))
	if err != nil || h.QueueDepth != 0 || h.OldestPending != nil || h.Created != 0 || h.Attempts != 0 || len(h.FailingDataLinks) != 0 {
		t.Fatalf("Health of an empty store = %+v, %v", h, err)
	}
	ok := b.link(t, b.partner(t, labhooks.RoleSampler))
	failing := b.link(t, b.partner(t, labhooks.RoleSampler))
	recovered := b.link(t, b.partner(t, labhooks.RoleSampler))
	b.emit(t, AppointmentCreated, toAll) // one delivery to each link
	b.emit(t, appointmentUpdated, toAll) // and a second, left pending
	jobs := b.claim(t, b.now, 3)
	if len(jobs) != 3 {
		t.Fatalf("claimed %d, want 3", len(jobs))
	}
	later := b.now.Add(time.Hour)
	for _, j := range jobs {
		switch j.DataLinkID {
		case ok.ID:
			b.record(t, j, b.now, 200, labhooks.DeliverySucceeded, nil)
		case failing.ID:
			b.record(t, j, b.now, 500, labhooks.DeliveryPending, &later)
		case recovered.ID:
			b.record(t, j, b.now, 503, labhooks.DeliveryPending, &later)
		}
	}
	for _, j := range b.claim(t, later, 10) {
		if j.DataLinkID == recovered.ID && j.EventName == "appointmentCreated" {
			b.record(t, j, later, 200, labhooks.DeliverySucceeded, nil)
		}
		if j.DataLinkID == failing.ID && j.EventName == "appointmentCreated" {
			b.record(t, j, later, 500, labhooks.DeliveryFailed, nil)
		}
	}
	h, err = b.s.Health(b.ctx, b.now.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	// Pending: the three appointmentUpdated deliveries.
	if h.QueueDepth != 3 || h.OldestPending == nil || !h.OldestPending.Equal(b.now) {
		t.Fatalf("QueueDepth %d, OldestPending %v; want 3, %v", h.QueueDepth, h.OldestPending, b.now)
	}
	if h.Created != 6 || h.Attempts != 5 || h.FailedAttempts != 3 {
		t.Fatalf("Created %d, Attempts %d, FailedAttempts %d; want 6, 5, 3", h.Created, h.Attempts, h.FailedAttempts)
	}
	if len(h.FailingDataLinks) != 1 {
		t.Fatalf("FailingDataLinks = %+v; want only %s", h.FailingDataLinks, failing.ID)
	}
	f := h.FailingDataLinks[0]
	if f.DataLinkID != failing.ID || f.PartnerID != failing.PartnerID || f.FailedAttempts != 2 || f.LastStatusCode != 500 || !f.LastAttemptAt.Equal(later) {
		t.Fatalf("failing link = %+v", f)
	}
	h, err = b.s.Health(b.ctx, later.Add(time.Minute))
	if err != nil || h.Created != 0 || h.Attempts != 0 || len(h.FailingDataLinks) != 0 || h.QueueDepth != 3 {
		t.Fatalf("Health of an empty window = %+v, %v", h, err)
	}
}
