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
	failing, recovered, later := b.healthTraffic(t)
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

func testHealthSeries(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	q := labhooks.SeriesQuery{Since: b.now.Add(-30 * time.Minute), Step: 30 * time.Minute, Buckets: 4}
	empty, err := b.s.HealthSeries(b.ctx, q)
	if err != nil || len(empty) != 4 {
		t.Fatalf("HealthSeries of an empty store = %+v, %v", empty, err)
	}
	for i, bk := range empty {
		if !bk.Start.Equal(q.Since.Add(time.Duration(i)*q.Step)) || bk != (labhooks.HealthBucket{Start: bk.Start}) {
			t.Fatalf("empty bucket %d = %+v", i, bk)
		}
	}
	for _, bad := range []labhooks.SeriesQuery{{Since: q.Since, Step: 0, Buckets: 4}, {Since: q.Since, Step: time.Minute, Buckets: 0},
		{Since: q.Since, Step: time.Minute, Buckets: labhooks.MaxSeriesBuckets + 1}} {
		if _, err := b.s.HealthSeries(b.ctx, bad); labhooks.ErrorCode(err) != labhooks.EInvalid {
			t.Errorf("HealthSeries(%+v) = %v, want EInvalid", bad, err)
		}
	}
	// As in testHealth: at now, six deliveries; three attempts (one 200,
	// a 500 and a 503); an hour later the 503's link succeeds and the
	// 500's fails for good. The three appointmentUpdated stay pending.
	failing, recovered, later := b.healthTraffic(t)
	for _, j := range b.claim(t, later, 10) {
		switch {
		case j.DataLinkID == recovered.ID && j.EventName == "appointmentCreated":
			b.record(t, j, later, 200, labhooks.DeliverySucceeded, nil)
		case j.DataLinkID == failing.ID && j.EventName == "appointmentCreated":
			b.record(t, j, later, 500, labhooks.DeliveryFailed, nil)
		default:
			b.record(t, j, later, 0, labhooks.DeliveryPending, &later) // not attempted: back to the queue
		}
	}
	got, err := b.s.HealthSeries(b.ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	// Buckets: [now-30m, now), [now, now+30m), [now+30m, now+1h),
	// [now+1h, now+90m). The unattempted claims above count as attempts
	// at later that leave their deliveries pending.
	want := []labhooks.HealthBucket{
		{Start: q.Since, QueueDepth: 0},
		{Start: b.now, Created: 6, Attempts: 3, FailedAttempts: 2, QueueDepth: 5},
		{Start: b.now.Add(30 * time.Minute), QueueDepth: 5},
		{Start: later, Attempts: 5, FailedAttempts: 4, QueueDepth: 3},
	}
	if !equalBuckets(got, want) {
		t.Fatalf("HealthSeries =\n%+v\nwant\n%+v", got, want)
	}
	q.DataLinkID = failing.ID
	got, err = b.s.HealthSeries(b.ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	want = []labhooks.HealthBucket{
		{Start: q.Since, QueueDepth: 0},
		{Start: b.now, Created: 2, Attempts: 1, FailedAttempts: 1, QueueDepth: 2},
		{Start: b.now.Add(30 * time.Minute), QueueDepth: 2},
		{Start: later, Attempts: 2, FailedAttempts: 2, QueueDepth: 1},
	}
	if !equalBuckets(got, want) {
		t.Fatalf("HealthSeries of %s =\n%+v\nwant\n%+v", failing.ID, got, want)
	}
}

func equalBuckets(a, b []labhooks.HealthBucket) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if !x.Start.Equal(y.Start) {
			return false
		}
		x.Start, y.Start = time.Time{}, time.Time{}
		if x != y {
			return false
		}
	}
	return true
}

// healthTraffic makes three sampler links with two deliveries each (an
// appointmentCreated, then an appointmentUpdated left pending) and
// attempts the first delivery of each at b.now: one link's answers 200,
// the failing one's 500 and the recovered one's 503, both retried at
// later, an hour on.
func (b *bundle) healthTraffic(t *testing.T) (failing, recovered *labhooks.DataLink, later time.Time) {
	t.Helper()
	ok := b.link(t, b.partner(t, labhooks.RoleSampler))
	failing = b.link(t, b.partner(t, labhooks.RoleSampler))
	recovered = b.link(t, b.partner(t, labhooks.RoleSampler))
	b.emit(t, AppointmentCreated, toAll) // one delivery to each link
	b.emit(t, appointmentUpdated, toAll) // and a second, left pending
	jobs := b.claim(t, b.now, 3)
	if len(jobs) != 3 {
		t.Fatalf("claimed %d, want 3", len(jobs))
	}
	later = b.now.Add(time.Hour)
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
	return failing, recovered, later
}
