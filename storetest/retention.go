package storetest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
)

// emitData stores an event of type et with data at time at, to every
// partner it allows.
func (b *bundle) emitData(t *testing.T, et *labhooks.EventType, data string, at time.Time) *labhooks.CreateEventResult {
	t.Helper()
	r, err := Emit(b.ctx, b.s, et, &labhooks.Event{Data: json.RawMessage(data), CreatedAt: at})
	if err != nil {
		t.Fatalf("emitting %s: %v", et.Name, err)
	}
	return r
}

// finish claims and records every due delivery as code (2xx: succeeded,
// else failed for good).
func (b *bundle) finish(t *testing.T, at time.Time, code int) {
	t.Helper()
	status := labhooks.DeliverySucceeded
	if code >= 300 {
		status = labhooks.DeliveryFailed
	}
	for _, j := range b.claim(t, at, 100) {
		b.record(t, j, at, code, status, nil)
	}
}

// testRetention: payloads of old events whose deliveries are final are
// erased with their attempts' response excerpts, per event name; rows
// older than the history are deleted; a pending delivery keeps both.
func testRetention(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	b.link(t, b.partner(t, labhooks.RoleSampler))
	old := b.now.Add(-48 * time.Hour)
	final := b.emitData(t, AppointmentCreated, `{"appointmentId":1}`, old)
	b.finish(t, old, 200)
	pending := b.emitData(t, AppointmentCreated, `{"appointmentId":2}`, old)
	other := b.emitData(t, appointmentUpdated, `{"appointmentId":3}`, old)
	recent := b.emitData(t, AppointmentCreated, `{"appointmentId":4}`, b.now)

	n, err := b.s.ErasePayloads(b.ctx, labhooks.ErasePayloadsParams{EventName: AppointmentCreated.Name,
		Before: b.now.Add(-time.Hour), Now: b.now, Limit: 10})
	if err != nil || n != 1 {
		t.Fatalf("ErasePayloads = %d, %v; want 1 (the final one)", n, err)
	}
	e, err := b.s.Event(b.ctx, final.Event.ID)
	if err != nil || !e.Erased || e.ErasedAt == nil || !e.ErasedAt.Equal(b.now) || string(e.Data) != "null" {
		t.Fatalf("erased event = %+v, %v", e, err)
	}
	d, err := b.s.Delivery(b.ctx, final.Deliveries[0].ID)
	if err != nil || len(d.Attempts) != 1 || d.Attempts[0].ResponseBody != "" || d.Attempts[0].StatusCode != 200 {
		t.Fatalf("erased event's delivery = %+v, %v", d, err)
	}
	for _, id := range []string{pending.Event.ID, other.Event.ID, recent.Event.ID} {
		if e, err := b.s.Event(b.ctx, id); err != nil || e.Erased || strings.Contains(string(e.Data), "null") {
			t.Fatalf("event %s erased: %+v, %v", id, e, err)
		}
	}
	if n, _ := b.s.ErasePayloads(b.ctx, labhooks.ErasePayloadsParams{EventName: AppointmentCreated.Name,
		Before: b.now.Add(-time.Hour), Now: b.now, Limit: 10}); n != 0 {
		t.Fatalf("second ErasePayloads erased %d", n)
	}

	n, err = b.s.DeleteHistory(b.ctx, b.now.Add(-time.Hour), 10)
	if err != nil || n != 1 {
		t.Fatalf("DeleteHistory = %d, %v; want 1 (the old final one)", n, err)
	}
	if _, err := b.s.Event(b.ctx, final.Event.ID); labhooks.ErrorCode(err) != labhooks.ENotFound {
		t.Fatalf("deleted event: %v", err)
	}
	_, err = b.s.Delivery(b.ctx, final.Deliveries[0].ID)
	wantCode(t, err, labhooks.ENotFound)
	for _, id := range []string{pending.Event.ID, other.Event.ID, recent.Event.ID} {
		if _, err := b.s.Event(b.ctx, id); err != nil {
			t.Fatalf("event %s (pending or recent) was deleted: %v", id, err)
		}
	}
}

// testEventTypeRetention: an event type's own retention is set, replaced
// and cleared.
func testEventTypeRetention(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	day := 24 * time.Hour
	prev, err := b.s.SetEventTypeRetention(b.ctx, "patientUpdated", &day, nil)
	if err != nil || prev != nil {
		t.Fatalf("SetEventTypeRetention = %v, %v", prev, err)
	}
	week := 7 * day
	if prev, err = b.s.SetEventTypeRetention(b.ctx, "patientUpdated", &week, nil); err != nil || prev == nil || *prev != day {
		t.Fatalf("SetEventTypeRetention again = %v, %v", prev, err)
	}
	if _, err := b.s.SetEventTypeRetention(b.ctx, "codeUsed", &day, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.s.SetEventTypeRetention(b.ctx, "codeUsed", nil, nil); err != nil {
		t.Fatal(err)
	}
	rs, err := b.s.EventTypeRetentions(b.ctx)
	if err != nil || len(rs) != 1 || rs["patientUpdated"] != week {
		t.Fatalf("EventTypeRetentions = %v, %v", rs, err)
	}
}

var (
	deletionRequest = &labhooks.EventType{Name: "dataDeletionRequest", Roles: samplerOnly}
	patientUpdated  = &labhooks.EventType{Name: "patientUpdated", Roles: samplerOnly}
)

// testErasure: an erasure is recorded once, lists for the admin and its
// targets, is confirmed once, and erasing the user's data strips the
// request's personal fields and erases the user's earlier events only.
func testErasure(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	p1, p2 := b.partner(t, labhooks.RoleSampler), b.partner(t, labhooks.RoleSampler)
	b.link(t, p1)
	b.link(t, p2)
	mine := b.emitData(t, patientUpdated, `{"userId":42,"note":"x"}`, b.now.Add(-time.Hour))
	theirs := b.emitData(t, patientUpdated, `{"userId":43}`, b.now.Add(-time.Hour))
	b.finish(t, b.now.Add(-time.Hour), 200)
	req := b.emitData(t, deletionRequest, `{"userId":42,"userEmail":"ann@example.com","userPhoneNumber":"+39000000000"}`, b.now)
	later := b.emitData(t, patientUpdated, `{"userId":42}`, b.now.Add(time.Second))

	e := &labhooks.Erasure{EventID: req.Event.ID, UserID: "42", RequestedAt: b.now,
		Targets: []*labhooks.ErasureTarget{{PartnerID: p1.ID}, {PartnerID: p2.ID}}}
	for range 2 {
		if err := b.s.CreateErasure(b.ctx, e); err != nil {
			t.Fatalf("CreateErasure: %v", err)
		}
	}
	due, unrecorded, err := b.s.ErasuresDue(b.ctx, 10)
	if err != nil || len(due) != 0 || len(unrecorded) != 0 {
		t.Fatalf("ErasuresDue with pending deliveries = %v, %v, %v", due, unrecorded, err)
	}
	// p1's delivery succeeds, p2's fails for good.
	for _, j := range b.claim(t, b.now, 10) {
		code, status := 200, labhooks.DeliverySucceeded
		if j.EventID == req.Event.ID && req.Deliveries[1].ID == j.DeliveryID {
			code, status = 500, labhooks.DeliveryFailed
		}
		b.record(t, j, b.now, code, status, nil)
	}
	got, err := b.s.Erasure(b.ctx, req.Event.ID)
	if err != nil || len(got.Targets) != 2 || string(got.UserID) != "42" || got.ErasedAt != nil {
		t.Fatalf("Erasure = %+v, %v", got, err)
	}
	delivered := 0
	for _, tg := range got.Targets {
		if tg.DeliveredAt != nil {
			delivered++
		}
	}
	if delivered != 1 {
		t.Fatalf("%d targets delivered, want 1", delivered)
	}
	list, next, err := b.s.Erasures(b.ctx, labhooks.ErasureFilter{PartnerID: p2.ID})
	if err != nil || next != "" || len(list) != 1 || len(list[0].Targets) != 1 || list[0].Targets[0].PartnerID != p2.ID {
		t.Fatalf("Erasures for p2 = %+v, %q, %v", list, next, err)
	}
	if list, _, _ := b.s.Erasures(b.ctx, labhooks.ErasureFilter{PartnerID: "ptn_other"}); len(list) != 0 {
		t.Fatalf("Erasures for a partner not targeted = %+v", list)
	}

	ok, err := b.s.ConfirmErasure(b.ctx, req.Event.ID, p1.ID, b.now)
	if err != nil || !ok {
		t.Fatalf("ConfirmErasure = %v, %v", ok, err)
	}
	if ok, err = b.s.ConfirmErasure(b.ctx, req.Event.ID, p1.ID, b.now.Add(time.Hour)); err != nil || ok {
		t.Fatalf("ConfirmErasure again = %v, %v", ok, err)
	}
	_, err = b.s.ConfirmErasure(b.ctx, req.Event.ID, "ptn_other", b.now)
	wantCode(t, err, labhooks.ENotFound)

	due, _, err = b.s.ErasuresDue(b.ctx, 10)
	if err != nil || len(due) != 1 || due[0].EventID != req.Event.ID {
		t.Fatalf("ErasuresDue = %v, %v", due, err)
	}
	if err := b.s.EraseUser(b.ctx, labhooks.EraseUserParams{EventID: req.Event.ID, UserID: "42", Now: b.now}); err != nil {
		t.Fatalf("EraseUser: %v", err)
	}
	ev, err := b.s.Event(b.ctx, req.Event.ID)
	if err != nil || string(ev.Data) != `{"userId":42}` || ev.Erased {
		t.Fatalf("the request after EraseUser = %s, %v", ev.Data, err)
	}
	if ev, _ := b.s.Event(b.ctx, mine.Event.ID); !ev.Erased || string(ev.Data) != "null" {
		t.Fatalf("the user's earlier event = %+v", ev)
	}
	for _, id := range []string{theirs.Event.ID, later.Event.ID} {
		if ev, _ := b.s.Event(b.ctx, id); ev.Erased {
			t.Fatalf("event %s erased: %+v", id, ev)
		}
	}
	got, _ = b.s.Erasure(b.ctx, req.Event.ID)
	if got.ErasedAt == nil || !got.ErasedAt.Equal(b.now) {
		t.Fatalf("erasure after EraseUser = %+v", got)
	}
	if due, _, _ := b.s.ErasuresDue(b.ctx, 10); len(due) != 0 {
		t.Fatalf("ErasuresDue after EraseUser = %v", due)
	}
	// The evidence outlives the history.
	if _, err := b.s.DeleteHistory(b.ctx, b.now.Add(time.Hour), 100); err != nil {
		t.Fatal(err)
	}
	got, err = b.s.Erasure(b.ctx, req.Event.ID)
	if err != nil || got.ErasedAt == nil {
		t.Fatalf("erasure after DeleteHistory = %+v, %v", got, err)
	}
	for _, tg := range got.Targets {
		if (tg.PartnerID == p1.ID) != (tg.DeliveredAt != nil) || (tg.PartnerID == p1.ID) != (tg.ConfirmedAt != nil) {
			t.Fatalf("target after DeleteHistory = %+v", tg)
		}
	}
}

// testUnrecordedErasure: a dataDeletionRequest stored without its erasure
// is found.
func testUnrecordedErasure(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	req := b.emitData(t, deletionRequest, `{"userId":7}`, b.now)
	_, unrecorded, err := b.s.ErasuresDue(b.ctx, 10)
	if err != nil || len(unrecorded) != 1 || unrecorded[0] != req.Event.ID {
		t.Fatalf("ErasuresDue = %v, %v", unrecorded, err)
	}
}
