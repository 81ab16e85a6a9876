package app_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
)

var sampleReceived = json.RawMessage(`{"dashboardUrl":"https://dashboard.daslab.app/labs/1/samples/123","sampleId":123,"appointmentId":45,"locationId":6}`)

func deliveryLinks(res *labhooks.CreateEventResult) []string {
	var out []string
	for _, d := range res.Deliveries {
		out = append(out, d.DataLinkID)
	}
	slices.Sort(out)
	return out
}

func sorted(ids ...string) []string { slices.Sort(ids); return ids }

// TestEmitTargets follows one event from emit to its deliveries: every
// enabled link of every partner whose role may receive it, whose filter lets
// it through; narrowed to one partner or one role when the emit says so.
func TestEmitTargets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	lab, lab2, sampler := b.partner(t, "Central Lab", labhooks.RoleLab), b.partner(t, "North Lab", labhooks.RoleLab),
		b.partner(t, "Sampler", labhooks.RoleSampler)
	l1 := b.link(t, lab, "http://127.0.0.1:9/a")
	l2 := b.link(t, lab, "http://127.0.0.1:9/b", "sampleReceived")
	b.link(t, lab, "http://127.0.0.1:9/c", "sampleUpdated") // filtered out
	off := b.link(t, lab2, "http://127.0.0.1:9/d")
	l4 := b.link(t, lab2, "http://127.0.0.1:9/e")
	b.link(t, sampler, "http://127.0.0.1:9/f") // samplers don't receive sampleReceived
	disabled := false
	if _, err := b.app.UpdateDataLink(ctx, lab2, off.ID, labhooks.DataLinkUpdate{Enabled: &disabled}); err != nil {
		t.Fatal(err)
	}

	res, err := b.app.Emit(ctx, admin, app.EmitInput{EventName: "sampleReceived", Data: sampleReceived})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := deliveryLinks(res), sorted(l1.ID, l2.ID, l4.ID); !slices.Equal(got, want) {
		t.Fatalf("to every lab: deliveries to %v, want %v", got, want)
	}
	if b.wakes.Load() != 1 || b.accepted.Load() != 1 {
		t.Fatalf("wakes %d, accepted %d; want 1 and 1", b.wakes.Load(), b.accepted.Load())
	}
	stored, err := b.store.Event(ctx, res.Event.ID)
	if err != nil || string(stored.Data) != string(sampleReceived) {
		t.Fatalf("stored event %+v, %v", stored, err)
	}

	res, err = b.app.Emit(ctx, admin, app.EmitInput{EventName: "sampleReceived", Data: sampleReceived, PartnerID: lab2.Partner.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := deliveryLinks(res), []string{l4.ID}; !slices.Equal(got, want) {
		t.Fatalf("to one partner: deliveries to %v, want %v", got, want)
	}
	res, err = b.app.Emit(ctx, admin, app.EmitInput{EventName: "sampleUpdated", Data: json.RawMessage(
		`{"dashboardUrl":"https://d.example/1","userUrl":"https://u.example/1","appointmentId":1,"locationId":1,"sampleId":1,"resultId":1,"patientId":1}`),
		Role: labhooks.RoleSampler})
	if err != nil || len(res.Deliveries) != 1 || res.Deliveries[0].PartnerID != sampler.Partner.ID {
		t.Fatalf("to one role: %+v, %v", res, err)
	}

	// An event nobody receives is accepted, stored, and wakes nothing.
	wakes := b.wakes.Load()
	res, err = b.app.Emit(ctx, admin, app.EmitInput{EventName: "codeUsed",
		Data: json.RawMessage(`{"dashboardUrl":"https://d.example/1","codeId":1,"appointmentId":1,"datetime":"2020-11-16 10:00:00+00"}`)})
	if err != nil || len(res.Deliveries) != 0 || b.wakes.Load() != wakes {
		t.Fatalf("an event for no one: %+v, %v, %d wakes", res, err, b.wakes.Load()-wakes)
	}
}

// TestEmitRefuses: a bad emit gets a clear error and stores nothing.
func TestEmitRefuses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	lab, client := b.partner(t, "Lab", labhooks.RoleLab), b.partner(t, "Clinic", labhooks.RoleClient)
	b.link(t, lab, "http://127.0.0.1:9/a")
	long := make([]byte, labhooks.MaxIdempotencyKey+1)
	for i := range long {
		long[i] = 'k'
	}
	tests := []struct {
		name   string
		caller *app.Caller
		in     app.EmitInput
		code   string
		field  string
	}{
		{"a partner", lab, app.EmitInput{EventName: "sampleReceived", Data: sampleReceived}, labhooks.EForbidden, ""},
		{"no name", admin, app.EmitInput{Data: sampleReceived}, labhooks.EInvalid, "eventName"},
		{"an unknown name", admin, app.EmitInput{EventName: "sampleRecieved", Data: sampleReceived}, labhooks.EInvalid, ""},
		{"a preview", admin, app.EmitInput{EventName: "covidPositiveAlert", Data: json.RawMessage(`{}`)}, labhooks.EPreview, "eventName"},
		{"no data", admin, app.EmitInput{EventName: "sampleReceived"}, labhooks.EInvalid, "data"},
		{"data off the schema", admin, app.EmitInput{EventName: "sampleReceived", Data: json.RawMessage(`{"sampleId":"x"}`)}, labhooks.EInvalid, ""},
		{"personal data", admin, app.EmitInput{EventName: "sampleReceived", Data: json.RawMessage(
			`{"dashboardUrl":"https://d.example/1","sampleId":1,"appointmentId":1,"locationId":1,"email":"jane@example.com"}`)}, labhooks.EPersonalData, ""},
		{"partner and role", admin, app.EmitInput{EventName: "sampleReceived", Data: sampleReceived, PartnerID: lab.Partner.ID, Role: labhooks.RoleLab}, labhooks.EInvalid, ""},
		{"a role that may not receive it", admin, app.EmitInput{EventName: "sampleReceived", Data: sampleReceived, Role: labhooks.RoleClient}, labhooks.ERoleNotAllowed, "role"},
		{"a partner whose role may not receive it", admin, app.EmitInput{EventName: "sampleReceived", Data: sampleReceived, PartnerID: client.Partner.ID}, labhooks.ERoleNotAllowed, "partnerId"},
		{"a partner that does not exist", admin, app.EmitInput{EventName: "sampleReceived", Data: sampleReceived, PartnerID: "ptn_nope"}, labhooks.ENotFound, "partnerId"},
		{"a long idempotency key", admin, app.EmitInput{EventName: "sampleReceived", Data: sampleReceived, IdempotencyKey: string(long)}, labhooks.EInvalid, "Idempotency-Key"},
	}
	for _, tt := range tests {
		_, err := b.app.Emit(ctx, tt.caller, tt.in)
		if labhooks.ErrorCode(err) != tt.code {
			t.Errorf("%s: %v, want code %s", tt.name, err, tt.code)
			continue
		}
		if e, ok := err.(*labhooks.Error); ok && tt.field != "" && e.Field != tt.field {
			t.Errorf("%s: field %q, want %q", tt.name, e.Field, tt.field)
		}
	}
	ds, _, err := b.store.Deliveries(ctx, labhooks.DeliveryFilter{})
	if err != nil || len(ds) != 0 || b.wakes.Load() != 0 || b.accepted.Load() != 0 {
		t.Fatalf("refused emits left deliveries %v (%v), %d wakes, %d accepted", ds, err, b.wakes.Load(), b.accepted.Load())
	}
}

// TestEmitIdempotency: the same key and request returns the first answer
// and stores nothing more; the same key for another request is a conflict;
// the first answer stands even after its partner is gone.
func TestEmitIdempotency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	lab := b.partner(t, "Lab", labhooks.RoleLab)
	b.link(t, lab, "http://127.0.0.1:9/a")
	in := app.EmitInput{EventName: "sampleReceived", Data: sampleReceived, PartnerID: lab.Partner.ID, IdempotencyKey: "sample-123"}
	first, err := b.app.Emit(ctx, admin, in)
	if err != nil || first.Replayed || len(first.Deliveries) != 1 {
		t.Fatalf("first emit: %+v, %v", first, err)
	}
	again, err := b.app.Emit(ctx, admin, in)
	if err != nil || !again.Replayed || again.Event.ID != first.Event.ID || again.Deliveries[0].ID != first.Deliveries[0].ID {
		t.Fatalf("the same emit again: %+v, %v", again, err)
	}
	if b.wakes.Load() != 1 || b.accepted.Load() != 1 {
		t.Fatalf("a replay woke the engine or counted: %d wakes, %d accepted", b.wakes.Load(), b.accepted.Load())
	}
	other := in
	other.Data = json.RawMessage(`{"dashboardUrl":"https://dashboard.daslab.app/labs/1/samples/124","sampleId":124,"appointmentId":45,"locationId":6}`)
	_, err = b.app.Emit(ctx, admin, other)
	wantCode(t, err, labhooks.EConflict)

	if err := b.app.DeletePartner(ctx, admin, lab.Partner.ID); err != nil {
		t.Fatal(err)
	}
	again, err = b.app.Emit(ctx, admin, in)
	if err != nil || !again.Replayed || again.Event.ID != first.Event.ID {
		t.Fatalf("the same emit after its partner was deleted: %+v, %v", again, err)
	}
	_, err = b.app.Emit(ctx, admin, other)
	wantCode(t, err, labhooks.EConflict)
	in.IdempotencyKey = "sample-124"
	_, err = b.app.Emit(ctx, admin, in)
	wantCode(t, err, labhooks.ENotFound)
}

// TestCustomEventTypesAcrossProcesses: a type registered through one
// process's application layer is known at once to another's over the same
// database.
func TestCustomEventTypesAcrossProcesses(t *testing.T) {
	t.Parallel()
	a := setup(t)
	other := app.New(testConfig(t, a.store))
	ctx := t.Context()
	typ := &labhooks.EventType{Name: "sampleArchived", Description: "A sample was archived.", Roles: []labhooks.Role{labhooks.RoleLab},
		Schema:  json.RawMessage(`{"type":"object","properties":{"sampleId":{"type":"integer"}},"required":["sampleId"],"additionalProperties":false}`),
		Example: json.RawMessage(`{"eventName":"sampleArchived","data":{"sampleId":7}}`)}
	lab := a.partner(t, "Lab", labhooks.RoleLab)
	_, err := a.app.CreateEventType(ctx, lab, typ)
	wantCode(t, err, labhooks.EForbidden)
	if _, err := a.app.CreateEventType(ctx, admin, typ); err != nil {
		t.Fatal(err)
	}
	if _, ok := other.EventType(ctx, "sampleArchived"); !ok {
		t.Fatal("the other process does not know the new type")
	}
	if _, err := other.CreateDataLink(ctx, lab, lab.Partner.ID, app.DataLinkInput{URL: "http://127.0.0.1:9/x", EventNames: []string{"sampleArchived"}}); err != nil {
		t.Fatal(err)
	}
	res, err := other.Emit(ctx, admin, app.EmitInput{EventName: "sampleArchived", Data: json.RawMessage(`{"sampleId":7}`)})
	if err != nil || len(res.Deliveries) != 1 {
		t.Fatalf("emitted through the other process: %+v, %v", res, err)
	}
	_, err = other.CreateEventType(ctx, admin, typ)
	wantCode(t, err, labhooks.EConflict)
}
