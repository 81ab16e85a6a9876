package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
)

// emitAbout stores an event about entity (none when empty) at b.now, with
// an idempotency key when key is set.
func (b *bundle) emitAbout(et *labhooks.EventType, entity, key string, occurred time.Time) (*labhooks.CreateEventResult, error) {
	e := &labhooks.Event{Data: json.RawMessage(`{"appointmentId":"apt_1"}`), IdempotencyKey: key, CreatedAt: b.now,
		OccurredAt: occurred, Entity: entity}
	return Emit(b.ctx, b.s, et, e)
}

// testEntitySequence checks that the events about one entity are numbered
// 1, 2, 3… in the order they are stored, each entity on its own, without a
// gap under concurrent emits (several processes on PostgreSQL share the
// counter rows), that a replayed idempotency key takes no number, and that
// the numbers, the entity and occurredAt are read back with the event and
// with the claimed delivery.
func testEntitySequence(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	b.link(t, b.partner(t, labhooks.RoleSampler))
	occurred := b.now.Add(-time.Hour)
	r1, err := b.emitAbout(AppointmentCreated, "appointment:apt_1", "k1", occurred)
	if err != nil || r1.Event.Sequence != 1 {
		t.Fatalf("first event about apt_1: sequence %v, %v; want 1", r1, err)
	}
	again, err := b.emitAbout(AppointmentCreated, "appointment:apt_1", "k1", occurred)
	if err != nil || !again.Replayed || again.Event.Sequence != 1 || again.Event.Entity != "appointment:apt_1" {
		t.Fatalf("replay = %+v, %v; want the first event, sequence 1", again, err)
	}
	if r, err := b.emitAbout(appointmentUpdated, "appointment:apt_2", "", time.Time{}); err != nil || r.Event.Sequence != 1 {
		t.Fatalf("first event about apt_2: %+v, %v; want sequence 1", r, err)
	}
	if r, err := b.emitAbout(appointmentUpdated, "", "", time.Time{}); err != nil || r.Event.Sequence != 0 {
		t.Fatalf("event about nothing: %+v, %v; want sequence 0", r, err)
	}
	const n = 24
	var wg sync.WaitGroup
	seqs := make([]int64, n)
	for i := range n {
		wg.Go(func() {
			// Half with idempotency keys, each key used twice at once.
			key := ""
			if i%2 == 0 {
				key = fmt.Sprintf("burst-%d", i/4)
			}
			r, err := b.emitAbout(appointmentUpdated, "appointment:apt_1", key, time.Time{})
			if err != nil {
				t.Errorf("concurrent emit %d: %v", i, err)
				return
			}
			seqs[i] = r.Event.Sequence
		})
	}
	wg.Wait()
	slices.Sort(seqs)
	seqs = slices.Compact(seqs)
	// 12 without a key, 6 distinct keys: 18 new events after the first.
	if len(seqs) != 18 || seqs[0] != 2 || seqs[len(seqs)-1] != 19 {
		t.Fatalf("sequences of the burst = %v; want 2…19, each once", seqs)
	}
	e, err := b.s.Event(b.ctx, r1.Event.ID)
	if err != nil || e.Sequence != 1 || e.Entity != "appointment:apt_1" || !e.OccurredAt.Equal(occurred) {
		t.Fatalf("Event = %+v, %v; want sequence 1 about apt_1, occurred %s", e, err, occurred)
	}
	jobs := b.claim(t, b.now, 100)
	for _, j := range jobs {
		if j.EventID == r1.Event.ID && (j.Sequence != 1 || j.Entity != "appointment:apt_1" || !j.OccurredAt.Equal(occurred)) {
			t.Fatalf("claimed job = %+v; want the event's sequence, entity and occurredAt", j)
		}
		if j.EventID != r1.Event.ID && j.OccurredAt.IsZero() {
			t.Fatalf("claimed job %+v: occurredAt should default to the event's creation", j)
		}
	}
}

// pullLink stores a pull data link of p.
func (b *bundle) pullLink(t *testing.T, p *labhooks.Partner) *labhooks.DataLink {
	t.Helper()
	d := &labhooks.DataLink{ID: id.New(id.DataLink), PartnerID: p.ID, Kind: labhooks.DataLinkPull, Secret: labhooks.GenerateSecret(),
		Enabled: true, CreatedAt: b.now, UpdatedAt: b.now}
	if err := b.s.CreateDataLink(b.ctx, d); err != nil {
		t.Fatalf("CreateDataLink(pull): %v", err)
	}
	return d
}

func (b *bundle) feed(t *testing.T, partnerID, after string, limit int) []*labhooks.FeedItem {
	t.Helper()
	items, err := b.s.Feed(b.ctx, labhooks.FeedQuery{PartnerID: partnerID, After: after, Limit: limit})
	if err != nil {
		t.Fatalf("Feed: %v", err)
	}
	return items
}

func feedIDs(items []*labhooks.FeedItem) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it.DeliveryID)
	}
	return out
}

// testFeed checks the pull feed: a pull link's deliveries are never
// claimed, each partner's feed holds its own deliveries only, in order,
// pages by cursor, and an acknowledgement makes them succeeded (with an
// attempt), once, for the partner's own deliveries only; requeued, they go
// back to the feed; pending, they keep their events from deletion.
func testFeed(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	p1, p2, pushed := b.partner(t, labhooks.RoleSampler), b.partner(t, labhooks.RoleSampler), b.partner(t, labhooks.RoleSampler)
	l1, l2 := b.pullLink(t, p1), b.pullLink(t, p2)
	b.link(t, pushed)
	if d, err := b.s.DataLink(b.ctx, l1.ID); err != nil || d.Kind != labhooks.DataLinkPull || d.URL != "" {
		t.Fatalf("DataLink(pull) = %+v, %v", d, err)
	}
	var events []*labhooks.CreateEventResult
	for i := range 3 {
		r, err := b.emitAbout(AppointmentCreated, "appointment:apt_1", "", time.Time{})
		if err != nil || len(r.Deliveries) != 3 {
			t.Fatalf("emit %d = %+v, %v; want 3 deliveries", i, r, err)
		}
		events = append(events, r)
	}
	// Only the push link's deliveries are claimed, now or later.
	jobs := b.claim(t, b.now.Add(24*time.Hour), 100)
	if len(jobs) != 3 {
		t.Fatalf("claimed %d jobs; want the push link's 3 only", len(jobs))
	}
	for _, j := range jobs {
		if j.DataLinkID == l1.ID || j.DataLinkID == l2.ID {
			t.Fatalf("a pull delivery was claimed: %+v", j)
		}
	}
	f1, f2 := b.feed(t, p1.ID, "", 10), b.feed(t, p2.ID, "", 10)
	if len(f1) != 3 || len(f2) != 3 {
		t.Fatalf("feeds hold %d and %d items; want 3 each", len(f1), len(f2))
	}
	for i, it := range f1 {
		if it.DataLinkID != l1.ID || it.EventID != events[i].Event.ID || it.Link.Secret != l1.Secret || it.Sequence != int64(i+1) ||
			it.Entity != "appointment:apt_1" || string(it.Body()) != `{"eventName":"appointmentCreated","data":{"appointmentId":"apt_1"}}` {
			t.Fatalf("p1's feed item %d = %+v; want p1's delivery of event %d, in order, with its secret and body", i, it, i)
		}
		if slices.Contains(feedIDs(f2), it.DeliveryID) {
			t.Fatalf("p2's feed shows p1's delivery %s", it.DeliveryID)
		}
	}
	if b.feed(t, pushed.ID, "", 10); len(b.feed(t, pushed.ID, "", 10)) != 0 {
		t.Fatal("a push link's deliveries are in its partner's feed")
	}
	if page := b.feed(t, p1.ID, f1[0].DeliveryID, 1); len(page) != 1 || page[0].DeliveryID != f1[1].DeliveryID {
		t.Fatalf("feed after %s = %v; want %s", f1[0].DeliveryID, feedIDs(page), f1[1].DeliveryID)
	}
	pos, err := b.s.FeedPosition(b.ctx, p1.ID)
	if err != nil || pos.Pending != 3 || pos.LastAckAt != nil {
		t.Fatalf("FeedPosition = %+v, %v; want 3 pending, never acknowledged", pos, err)
	}

	// p2 cannot acknowledge p1's deliveries; p1 acknowledges one by ID and
	// then up to the last.
	ackAt := b.now.Add(time.Minute)
	if got, err := b.s.AckFeed(b.ctx, labhooks.FeedAck{PartnerID: p2.ID, DeliveryIDs: feedIDs(f1), Now: ackAt}); err != nil || len(got) != 0 {
		t.Fatalf("p2 acknowledging p1's deliveries = %v, %v; want none", got, err)
	}
	if got, err := b.s.AckFeed(b.ctx, labhooks.FeedAck{PartnerID: p1.ID, DeliveryIDs: []string{f1[1].DeliveryID, jobs[0].DeliveryID}, Now: ackAt}); err != nil ||
		!slices.Equal(got, []string{f1[1].DeliveryID}) {
		t.Fatalf("AckFeed = %v, %v; want %s only (the other is a push delivery)", got, err, f1[1].DeliveryID)
	}
	if got, err := b.s.AckFeed(b.ctx, labhooks.FeedAck{PartnerID: p1.ID, DeliveryIDs: []string{f1[1].DeliveryID}, Now: ackAt}); err != nil || len(got) != 0 {
		t.Fatalf("acknowledging again = %v, %v; want none", got, err)
	}
	if left := feedIDs(b.feed(t, p1.ID, "", 10)); !slices.Equal(left, []string{f1[0].DeliveryID, f1[2].DeliveryID}) {
		t.Fatalf("feed after an acknowledgement = %v", left)
	}
	d, err := b.s.Delivery(b.ctx, f1[1].DeliveryID)
	if err != nil || d.Status != labhooks.DeliverySucceeded || len(d.Attempts) != 1 || d.Attempts[0].StatusCode != 200 ||
		d.Attempts[0].ResponseBody != labhooks.PulledResponse || !d.Attempts[0].StartedAt.Equal(ackAt) {
		t.Fatalf("acknowledged delivery = %+v, %v; want succeeded with one pulled attempt", d, err)
	}
	if got, err := b.s.AckFeed(b.ctx, labhooks.FeedAck{PartnerID: p1.ID, UpTo: f1[2].DeliveryID, Now: ackAt}); err != nil || len(got) != 2 {
		t.Fatalf("AckFeed(up to the last) = %v, %v; want 2", got, err)
	}
	pos, err = b.s.FeedPosition(b.ctx, p1.ID)
	if err != nil || pos.Pending != 0 || pos.LastAckAt == nil || !pos.LastAckAt.Equal(ackAt) {
		t.Fatalf("FeedPosition = %+v, %v; want none pending, acknowledged at %s", pos, err, ackAt)
	}
	if n := len(b.feed(t, p2.ID, "", 10)); n != 3 {
		t.Fatalf("p2's feed holds %d after p1 acknowledged; want 3", n)
	}

	// A requeued pull delivery goes back to the feed, never due.
	if n, err := b.s.Requeue(b.ctx, labhooks.RequeueParams{DeliveryID: f1[0].DeliveryID, Now: ackAt}); err != nil || n != 1 {
		t.Fatalf("Requeue = %d, %v", n, err)
	}
	if ids := feedIDs(b.feed(t, p1.ID, "", 10)); !slices.Equal(ids, []string{f1[0].DeliveryID}) {
		t.Fatalf("feed after a requeue = %v", ids)
	}
	if jobs := b.claim(t, ackAt.Add(time.Hour), 100); len(jobs) != 0 {
		t.Fatalf("a requeued pull delivery was claimed: %+v", jobs)
	}

	// p2's deliveries are pending: their events are kept; p1's requeued one too.
	if n, err := b.s.DeleteHistory(b.ctx, b.now.Add(48*time.Hour), 100); err != nil || n != 0 {
		t.Fatalf("DeleteHistory = %d, %v; want 0 (every event has a pending pull delivery)", n, err)
	}
}
