package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
)

func testEventTypes(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	if all, err := b.s.EventTypes(b.ctx); err != nil || all == nil || len(all) != 0 {
		t.Fatalf("EventTypes of an empty store = %#v, %v; want an empty list", all, err)
	}
	et := &labhooks.EventType{Name: "kitShipped", Roles: []labhooks.Role{labhooks.RoleClient}, Status: labhooks.StatusAvailable,
		Schema: json.RawMessage(`{"type":"object"}`), Example: json.RawMessage(`{"eventName":"kitShipped","data":{}}`)}
	if err := b.s.CreateEventType(b.ctx, et); err != nil {
		t.Fatal(err)
	}
	wantCode(t, b.s.CreateEventType(b.ctx, et), labhooks.EConflict)
	all, err := b.s.EventTypes(b.ctx)
	if err != nil || len(all) != 1 || all[0].Name != "kitShipped" || !all[0].Custom || all[0].Roles[0] != labhooks.RoleClient ||
		string(all[0].Schema) != `{"type":"object"}` {
		t.Fatalf("EventTypes = %+v, %v", all, err)
	}
}

// linkIDs lists the IDs of an audience's links.
func linkIDs(ls []labhooks.AudienceLink) []string {
	out := []string{}
	for _, l := range ls {
		out = append(out, l.ID)
	}
	return out
}

// testAudience checks what a store answers to each kind of AudienceQuery:
// every data link of the partners selected, enabled or not, as targeting
// sees it, and the role of a partner named.
func testAudience(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	s1, s2, lab := b.partner(t, labhooks.RoleSampler), b.partner(t, labhooks.RoleSampler), b.partner(t, labhooks.RoleLab)
	lonely := b.partner(t, labhooks.RoleClient) // no links
	l1 := b.link(t, s1)
	l2 := b.link(t, s2, "appointmentCreated", "appointmentUpdated")
	off := b.link(t, s2)
	b.update(t, off.ID, b.now, labhooks.DataLinkUpdate{Enabled: new(false)})
	l3 := b.link(t, lab)
	audience := func(q labhooks.AudienceQuery) *labhooks.Audience {
		t.Helper()
		a, err := b.s.Audience(b.ctx, q)
		if err != nil {
			t.Fatalf("Audience(%+v): %v", q, err)
		}
		return a
	}

	a := audience(labhooks.AudienceQuery{Roles: samplerOnly})
	if got, want := linkIDs(a.Links), []string{l1.ID, l2.ID, off.ID}; a.PartnerRole != "" || !slices.Equal(got, want) {
		t.Fatalf("Audience(samplers) = %q, %v; want no role, links %v", a.PartnerRole, got, want)
	}
	for _, l := range a.Links {
		var want *labhooks.DataLink
		for _, d := range []*labhooks.DataLink{l1, l2, off} {
			if d.ID == l.ID {
				want = d
			}
		}
		if l.PartnerID != want.PartnerID || l.Role != labhooks.RoleSampler || l.Enabled != (l.ID != off.ID) ||
			!slices.Equal(l.EventNames, want.EventNames) {
			t.Fatalf("audience link %+v, want it as %+v", l, want)
		}
	}
	if got := linkIDs(audience(labhooks.AudienceQuery{Roles: []labhooks.Role{labhooks.RoleLab, labhooks.RoleSampler}}).Links); len(got) != 4 {
		t.Fatalf("Audience(labs and samplers) = %v, want all 4 links", got)
	}
	if got := audience(labhooks.AudienceQuery{}); len(got.Links) != 0 || got.PartnerRole != "" {
		t.Fatalf("Audience(no role) = %+v, want none", got)
	}
	a = audience(labhooks.AudienceQuery{PartnerID: s2.ID})
	if got, want := linkIDs(a.Links), []string{l2.ID, off.ID}; a.PartnerRole != labhooks.RoleSampler || !slices.Equal(got, want) {
		t.Fatalf("Audience(s2) = %q, %v; want sampler, %v", a.PartnerRole, got, want)
	}
	if a := audience(labhooks.AudienceQuery{PartnerID: lab.ID}); a.PartnerRole != labhooks.RoleLab || !slices.Equal(linkIDs(a.Links), []string{l3.ID}) {
		t.Fatalf("Audience(lab) = %+v", a)
	}
	if a := audience(labhooks.AudienceQuery{PartnerID: lonely.ID}); a.PartnerRole != labhooks.RoleClient || len(a.Links) != 0 {
		t.Fatalf("Audience(a partner without links) = %+v; want its role, no links", a)
	}
	if a := audience(labhooks.AudienceQuery{PartnerID: "ptn_missing"}); a.PartnerRole != "" || len(a.Links) != 0 {
		t.Fatalf("Audience(a missing partner) = %+v; want nothing", a)
	}
}

// testCreateEvent stores an event with the deliveries it is given, as
// given, and reads them back.
func testCreateEvent(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	l1, l2 := b.link(t, b.partner(t, labhooks.RoleSampler)), b.link(t, b.partner(t, labhooks.RoleSampler))
	e := &labhooks.Event{ID: id.New(id.Event), EventName: "appointmentCreated", Data: json.RawMessage(`{"appointmentId":1, "note":"kept as sent"}`),
		PartnerID: l2.PartnerID, CreatedAt: b.now}
	links := []labhooks.AudienceLink{{ID: l1.ID, PartnerID: l1.PartnerID}, {ID: l2.ID, PartnerID: l2.PartnerID}}
	ds := e.Deliver(links, b.now, func() string { return id.New(id.Delivery) })
	r, err := b.s.CreateEvent(b.ctx, labhooks.CreateEventParams{Event: e, Deliveries: ds, RequestHash: "h"})
	if err != nil || r.Replayed || r.Event.ID != e.ID || len(r.Deliveries) != 2 || r.Deliveries[0].ID != ds[0].ID {
		t.Fatalf("CreateEvent = %+v, %v", r, err)
	}
	got, err := b.s.Event(b.ctx, e.ID)
	if err != nil || got.PartnerID != l2.PartnerID || got.EventName != e.EventName || !bytes.Equal(got.Data, e.Data) || !got.CreatedAt.Equal(b.now) || got.IdempotencyKey != "" {
		t.Fatalf("Event = %+v, %v", got, err)
	}
	_, err = b.s.Event(b.ctx, "evt_missing")
	wantCode(t, err, labhooks.ENotFound)
	for _, want := range ds {
		d, err := b.s.Delivery(b.ctx, want.ID)
		if err != nil || d.EventID != e.ID || d.EventName != e.EventName || d.PartnerID != want.PartnerID || d.DataLinkID != want.DataLinkID ||
			d.Status != labhooks.DeliveryPending || d.AttemptCount != 0 || !sameTime(d.NextAttemptAt, &b.now) || !d.CreatedAt.Equal(b.now) ||
			d.Attempts == nil || len(d.Attempts) != 0 {
			t.Fatalf("Delivery = %+v, %v; want %+v", d, err, want)
		}
	}
	listed, _, err := b.s.Deliveries(b.ctx, labhooks.DeliveryFilter{EventID: &e.ID})
	if err != nil || len(listed) != 2 || listed[0].Attempts != nil {
		t.Fatalf("Deliveries(event) = %v, %v", listed, err)
	}
	// The body receivers get is the data as it was sent.
	jobs := b.claim(t, b.now, 10)
	if len(jobs) != 2 || string(jobs[0].Body) != `{"eventName":"appointmentCreated","data":{"appointmentId":1, "note":"kept as sent"}}` {
		t.Fatalf("claimed %+v", jobs)
	}
	// An event without deliveries is stored all the same.
	lone := &labhooks.Event{ID: id.New(id.Event), EventName: "appointmentCreated", Data: json.RawMessage(`{}`), CreatedAt: b.now}
	if r, err := b.s.CreateEvent(b.ctx, labhooks.CreateEventParams{Event: lone}); err != nil || len(r.Deliveries) != 0 {
		t.Fatalf("CreateEvent without deliveries = %+v, %v", r, err)
	}
	if _, err := b.s.Event(b.ctx, lone.ID); err != nil {
		t.Fatal(err)
	}
}

// testCreateEventTargets emits as the application does (Emit): what the
// store answers to Audience lets the domain's rule pick every link it
// should, and no other.
func testCreateEventTargets(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	s1, s2, lab := b.partner(t, labhooks.RoleSampler), b.partner(t, labhooks.RoleSampler), b.partner(t, labhooks.RoleLab)
	l1 := b.link(t, s1)
	l1b := b.link(t, s1, "appointmentUpdated") // filtered out
	l2 := b.link(t, s2, "appointmentCreated")
	l3 := b.link(t, lab)
	disabled := b.link(t, s2)
	b.update(t, disabled.ID, b.now, labhooks.DataLinkUpdate{Enabled: new(false)})
	links := func(r *labhooks.CreateEventResult) map[string]bool {
		m := map[string]bool{}
		for _, d := range r.Deliveries {
			m[d.DataLinkID] = true
			if d.Status != labhooks.DeliveryPending || d.EventID != r.Event.ID || d.EventName != r.Event.EventName {
				t.Fatalf("new delivery %+v", d)
			}
		}
		return m
	}
	if got := links(b.emit(t, AppointmentCreated, toAll)); len(got) != 2 || !got[l1.ID] || !got[l2.ID] || got[l1b.ID] {
		t.Fatalf("to every sampler: deliveries to %v", got)
	}
	if got := links(b.emit(t, AppointmentCreated, labhooks.Target{PartnerID: s2.ID})); len(got) != 1 || !got[l2.ID] {
		t.Fatalf("to partner s2: deliveries to %v", got)
	}
	if got := links(b.emit(t, labsToo, labhooks.Target{Role: labhooks.RoleSampler})); len(got) != 2 || got[l3.ID] {
		t.Fatalf("to role sampler: deliveries to %v", got)
	}
	if got := links(b.emit(t, labsToo, toAll)); len(got) != 3 || !got[l3.ID] {
		t.Fatalf("to samplers and labs: deliveries to %v", got)
	}
	_, err := b.tryEmit(AppointmentCreated, labhooks.Target{PartnerID: lab.ID}, "")
	wantCode(t, err, labhooks.ERoleNotAllowed)
	_, err = b.tryEmit(AppointmentCreated, labhooks.Target{PartnerID: "ptn_missing"}, "")
	wantCode(t, err, labhooks.ENotFound)
}

// testCreateEventIdempotency stores one event per idempotency key: a call
// with a key taken stores nothing and answers with what the first stored,
// its request hash included, for the caller to compare.
func testCreateEventIdempotency(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	l := b.link(t, b.partner(t, labhooks.RoleSampler))
	params := func(hash string) labhooks.CreateEventParams {
		e := &labhooks.Event{ID: id.New(id.Event), EventName: "appointmentCreated", Data: json.RawMessage(`{}`), IdempotencyKey: "key-1", CreatedAt: b.now}
		return labhooks.CreateEventParams{Event: e, RequestHash: hash,
			Deliveries: e.Deliver([]labhooks.AudienceLink{{ID: l.ID, PartnerID: l.PartnerID}}, b.now, func() string { return id.New(id.Delivery) })}
	}
	_, err := b.s.IdempotentEvent(b.ctx, "key-1")
	wantCode(t, err, labhooks.ENotFound)
	first, err := b.s.CreateEvent(b.ctx, params("h1"))
	if err != nil || first.Replayed || len(first.Deliveries) != 1 || first.RequestHash != "h1" {
		t.Fatalf("first = %+v, %v", first, err)
	}
	for _, hash := range []string{"h1", "h2"} {
		again, err := b.s.CreateEvent(b.ctx, params(hash))
		if err != nil || !again.Replayed || again.RequestHash != "h1" || again.Event.ID != first.Event.ID || again.Event.IdempotencyKey != "key-1" ||
			len(again.Deliveries) != 1 || again.Deliveries[0].ID != first.Deliveries[0].ID {
			t.Fatalf("again with hash %s = %+v, %v; want the first call's event, replayed, with its hash", hash, again, err)
		}
	}
	stored, err := b.s.IdempotentEvent(b.ctx, "key-1")
	if err != nil || !stored.Replayed || stored.RequestHash != "h1" || stored.Event.ID != first.Event.ID ||
		len(stored.Deliveries) != 1 || stored.Deliveries[0].ID != first.Deliveries[0].ID {
		t.Fatalf("IdempotentEvent = %+v, %v", stored, err)
	}
	if ds, _, _ := b.s.Deliveries(b.ctx, labhooks.DeliveryFilter{}); len(ds) != 1 {
		t.Fatalf("%d deliveries after three calls with one key, want 1", len(ds))
	}
	_, err = b.s.IdempotentEvent(b.ctx, "key-2")
	wantCode(t, err, labhooks.ENotFound)
}

// testCreateEventConcurrent emits from many goroutines at once, as the API
// does under load: a refused event (here, an event ID taken) must not undo
// the others stored beside it, and one idempotency key used concurrently
// stores one event.
func testCreateEventConcurrent(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	b.link(t, b.partner(t, labhooks.RoleSampler))
	taken := b.emit(t, AppointmentCreated, toAll).Event.ID
	const n = 40
	type outcome struct {
		res *labhooks.CreateEventResult
		err error
	}
	outcomes := make([]outcome, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			e := &labhooks.Event{Data: json.RawMessage(`{}`), CreatedAt: b.now}
			switch i % 3 {
			case 0:
				e.ID = taken // refused
			case 1:
				e.IdempotencyKey = "shared-key"
			}
			r, err := Emit(b.ctx, b.s, AppointmentCreated, e)
			outcomes[i] = outcome{r, err}
		})
	}
	wg.Wait()
	stored, sharedIDs := 0, map[string]bool{}
	for i, o := range outcomes {
		switch i % 3 {
		case 0:
			if o.err == nil {
				t.Fatalf("call %d stored an event under a taken ID", i)
			}
		case 1:
			if o.err != nil {
				t.Fatalf("shared key call %d: %v", i, o.err)
			}
			sharedIDs[o.res.Event.ID] = true
		default:
			if o.err != nil || len(o.res.Deliveries) != 1 {
				t.Fatalf("plain call %d: %+v, %v", i, o.res, o.err)
			}
			stored++
		}
	}
	if len(sharedIDs) != 1 {
		t.Fatalf("one idempotency key used concurrently stored %d events", len(sharedIDs))
	}
	ds, _, err := b.s.Deliveries(b.ctx, labhooks.DeliveryFilter{Limit: labhooks.MaxLimit})
	if err != nil || len(ds) != 1+stored+1 {
		t.Fatalf("%d deliveries stored, want %d (%v)", len(ds), 1+stored+1, err)
	}
}

// testTargetsFollowChanges emits between changes to partners and data links:
// each event must go to the links as they are when its audience is read (a
// store may cache them, but never serve a stale answer).
func testTargetsFollowChanges(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	count := func() int {
		t.Helper()
		return len(b.emit(t, AppointmentCreated, toAll).Deliveries)
	}
	if n := count(); n != 0 {
		t.Fatalf("no partners: %d deliveries", n)
	}
	p := b.partner(t, labhooks.RoleSampler)
	if n := count(); n != 0 {
		t.Fatalf("a partner without links: %d deliveries", n)
	}
	l1 := b.link(t, p)
	if n := count(); n != 1 {
		t.Fatalf("one link: %d deliveries", n)
	}
	l2 := b.link(t, p)
	if n := count(); n != 2 {
		t.Fatalf("after adding a link: %d deliveries, want 2", n)
	}
	b.update(t, l1.ID, b.now, labhooks.DataLinkUpdate{Enabled: new(false)})
	if n := count(); n != 1 {
		t.Fatalf("after disabling a link: %d deliveries, want 1", n)
	}
	b.update(t, l2.ID, b.now, labhooks.DataLinkUpdate{EventNames: &[]string{"appointmentUpdated"}})
	if n := count(); n != 0 {
		t.Fatalf("after filtering the event out: %d deliveries, want 0", n)
	}
	b.update(t, l1.ID, b.now, labhooks.DataLinkUpdate{Enabled: new(true)})
	if n := count(); n != 1 {
		t.Fatalf("after enabling a link again: %d deliveries, want 1", n)
	}
	if err := b.s.DeleteDataLink(b.ctx, l1.ID, b.now); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Fatalf("after deleting it: %d deliveries, want 0", n)
	}
	q := b.partner(t, labhooks.RoleSampler)
	b.link(t, q)
	if n := count(); n != 1 {
		t.Fatalf("after adding a partner: %d deliveries, want 1", n)
	}
	if _, err := b.s.UpdatePartner(b.ctx, q.ID, func(p *labhooks.Partner) error { p.Role = labhooks.RoleLab; return nil }); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Fatalf("after the partner became a lab: %d deliveries, want 0", n)
	}
	if a, err := b.s.Audience(b.ctx, labhooks.AudienceQuery{PartnerID: q.ID}); err != nil || a.PartnerRole != labhooks.RoleLab || len(a.Links) != 1 || a.Links[0].Role != labhooks.RoleLab {
		t.Fatalf("Audience(the partner now a lab) = %+v, %v", a, err)
	}
	if err := b.s.DeletePartner(b.ctx, q.ID, b.now); err != nil {
		t.Fatal(err)
	}
	_, err := b.tryEmit(ResultAdded, labhooks.Target{PartnerID: q.ID}, "")
	wantCode(t, err, labhooks.ENotFound)
}

// testStaleAudience stores an event with deliveries picked from an audience
// read before a data link was added: a store whose Audience carries a
// Version refuses it (labhooks.ErrStaleAudience) and stores nothing; one
// that answers Version 0 (exact, nothing to check) stores it. Either way
// the audience read after the change has the link, and an event picked
// from it is stored.
func testStaleAudience(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	p := b.partner(t, labhooks.RoleSampler)
	l1 := b.link(t, p)
	create := func(a *labhooks.Audience) (*labhooks.Event, *labhooks.CreateEventResult, error) {
		t.Helper()
		links, err := AppointmentCreated.Recipients(toAll, a)
		if err != nil {
			t.Fatal(err)
		}
		e := &labhooks.Event{ID: id.New(id.Event), EventName: AppointmentCreated.Name, Data: []byte(`{}`), CreatedAt: b.now}
		r, err := b.s.CreateEvent(b.ctx, labhooks.CreateEventParams{Event: e, RequestHash: "h", AudienceVersion: a.Version,
			Deliveries: e.Deliver(links, b.now, func() string { return id.New(id.Delivery) })})
		return e, r, err
	}
	before, err := b.s.Audience(b.ctx, AppointmentCreated.AudienceQuery(toAll))
	if err != nil || !slices.Equal(linkIDs(before.Links), []string{l1.ID}) {
		t.Fatalf("Audience = %+v, %v", before, err)
	}
	l2 := b.link(t, p)
	after, err := b.s.Audience(b.ctx, AppointmentCreated.AudienceQuery(toAll))
	if err != nil || !slices.Equal(linkIDs(after.Links), []string{l1.ID, l2.ID}) {
		t.Fatalf("Audience after a link was added = %+v, %v; want both links", after, err)
	}
	if before.Version != 0 && after.Version == before.Version {
		t.Fatalf("Audience.Version %d both before and after a link was added", after.Version)
	}

	e, r, err := create(before)
	switch {
	case before.Version == 0 && (err != nil || len(r.Deliveries) != 1):
		t.Fatalf("CreateEvent from an exact audience = %+v, %v", r, err)
	case before.Version != 0:
		if !errors.Is(err, labhooks.ErrStaleAudience) {
			t.Fatalf("CreateEvent from a stale audience = %+v, %v; want ErrStaleAudience", r, err)
		}
		wantCode(t, err, labhooks.EUnavailable)
		_, err := b.s.Event(b.ctx, e.ID)
		wantCode(t, err, labhooks.ENotFound)
	}
	if _, r, err = create(after); err != nil || len(r.Deliveries) != 2 {
		t.Fatalf("CreateEvent from the audience after the change = %+v, %v", r, err)
	}
	// An event that picked no audience is not checked.
	lone := &labhooks.Event{ID: id.New(id.Event), EventName: AppointmentCreated.Name, Data: []byte(`{}`), CreatedAt: b.now}
	if r, err := b.s.CreateEvent(b.ctx, labhooks.CreateEventParams{Event: lone}); err != nil || len(r.Deliveries) != 0 {
		t.Fatalf("CreateEvent without an audience = %+v, %v", r, err)
	}
}
