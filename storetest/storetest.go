// Package storetest is the conformance suite every labhooks.Store must pass:
// the behaviour the rest of labhooks relies on, written once and run against
// SQLite and PostgreSQL alike.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
)

// NewStore returns an empty store for one test; it is closed by the suite.
type NewStore func(t *testing.T) labhooks.Store

// Run runs the whole suite against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	tests := map[string]func(*testing.T, *bundle){
		"Partners":                testPartners,
		"DataLinks":               testDataLinks,
		"RotateSecret":            testRotateSecret,
		"RewriteSecrets":          testRewriteSecrets,
		"EventTypes":              testEventTypes,
		"CreateEventTargets":      testCreateEventTargets,
		"CreateEventIdempotency":  testCreateEventIdempotency,
		"CreateEventConcurrent":   testCreateEventConcurrent,
		"TargetsFollowChanges":    testTargetsFollowChanges,
		"ClaimAndLease":           testClaimAndLease,
		"ClaimFairness":           testClaimFairness,
		"RecordAttempts":          testRecordAttempts,
		"FailingSince":            testFailingSince,
		"DisableFailingDataLinks": testDisableFailingDataLinks,
		"StaleLease":              testStaleLease,
		"StaleLeaseOneBatch":      testStaleLeaseOneBatch,
		"RetryDelivery":           testRetryDelivery,
		"RequeueFailed":           testRequeueFailed,
		"DeliveriesPaging":        testDeliveriesPaging,
		"DeleteFailsPending":      testDeleteFailsPending,
		"AdminKey":                testAdminKey,
		"RevokedSessions":         testRevokedSessions,
		"DeliveriesByEventName":   testDeliveriesByEventName,
		"Health":                  testHealth,
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { s.Close() })
			fn(t, &bundle{s: s, ctx: t.Context(), now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
		})
	}
}

// bundle is what each test starts from.
type bundle struct {
	s   labhooks.Store
	ctx context.Context
	now time.Time
	seq int
}

func (b *bundle) partner(t *testing.T, role labhooks.Role) *labhooks.Partner {
	t.Helper()
	b.seq++
	p := &labhooks.Partner{ID: id.New(id.Partner), Name: fmt.Sprintf("%s %d", role, b.seq), Role: role, CreatedAt: b.now, UpdatedAt: b.now}
	if err := b.s.CreatePartner(b.ctx, p, []byte(fmt.Sprintf("hash-%s", p.ID))); err != nil {
		t.Fatalf("CreatePartner: %v", err)
	}
	return p
}

func (b *bundle) link(t *testing.T, p *labhooks.Partner, eventNames ...string) *labhooks.DataLink {
	t.Helper()
	d := &labhooks.DataLink{ID: id.New(id.DataLink), PartnerID: p.ID, URL: "https://example.test/hook", Secret: labhooks.GenerateSecret(),
		EventNames: eventNames, Enabled: true, CreatedAt: b.now, UpdatedAt: b.now}
	if err := b.s.CreateDataLink(b.ctx, d); err != nil {
		t.Fatalf("CreateDataLink: %v", err)
	}
	return d
}

// emit stores an event targeted as given and returns what was created.
func (b *bundle) emit(t *testing.T, name string, roles []labhooks.Role, target func(*labhooks.Event)) *labhooks.CreateEventResult {
	t.Helper()
	e := &labhooks.Event{ID: id.New(id.Event), EventName: name, Data: json.RawMessage(`{"appointmentId":1}`), CreatedAt: b.now}
	if target != nil {
		target(e)
	}
	r, err := b.s.CreateEvent(b.ctx, labhooks.CreateEventParams{Event: e, Roles: roles, Now: b.now})
	if err != nil {
		t.Fatalf("CreateEvent: %v", err)
	}
	return r
}

func (b *bundle) claim(t *testing.T, at time.Time, limit int) []*labhooks.Job {
	t.Helper()
	jobs, err := b.s.ClaimDeliveries(b.ctx, labhooks.ClaimParams{Owner: "test", Now: at, Lease: time.Minute, Limit: limit})
	if err != nil {
		t.Fatalf("ClaimDeliveries: %v", err)
	}
	return jobs
}

func (b *bundle) record(t *testing.T, j *labhooks.Job, at time.Time, code int, status labhooks.DeliveryStatus, next *time.Time) {
	t.Helper()
	err := b.s.RecordAttempts(b.ctx, []labhooks.AttemptResult{{
		LeaseToken: j.LeaseToken, DataLinkID: j.DataLinkID, Status: status, NextAttemptAt: next,
		Attempt: labhooks.Attempt{DeliveryID: j.DeliveryID, StartedAt: at, StatusCode: code, DurationMs: 12, ResponseBody: "ok"},
	}})
	if err != nil {
		t.Fatalf("RecordAttempts: %v", err)
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := labhooks.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

var samplerOnly = []labhooks.Role{labhooks.RoleSampler}

func testPartners(t *testing.T, b *bundle) {
	p := b.partner(t, labhooks.RoleLab)
	got, err := b.s.Partner(b.ctx, p.ID)
	if err != nil || got.Name != p.Name || got.Role != labhooks.RoleLab || !got.CreatedAt.Equal(b.now) {
		t.Fatalf("Partner = %+v, %v; want %+v", got, err, p)
	}
	byKey, err := b.s.PartnerByKeyHash(b.ctx, []byte("hash-"+p.ID))
	if err != nil || byKey.ID != p.ID {
		t.Fatalf("PartnerByKeyHash = %+v, %v", byKey, err)
	}
	_, err = b.s.PartnerByKeyHash(b.ctx, []byte("nope"))
	wantCode(t, err, labhooks.ENotFound)
	_, err = b.s.Partner(b.ctx, "ptn_missing")
	wantCode(t, err, labhooks.ENotFound)
	err = b.s.CreatePartner(b.ctx, &labhooks.Partner{ID: id.New(id.Partner), Name: "x", Role: "doctor"}, []byte("h2"))
	wantCode(t, err, labhooks.EInvalid)
	err = b.s.CreatePartner(b.ctx, &labhooks.Partner{ID: id.New(id.Partner), Name: "dup key", Role: labhooks.RoleLab}, []byte("hash-"+p.ID))
	wantCode(t, err, labhooks.EConflict)

	name, role := "Renamed Lab", labhooks.RoleChecker
	later := b.now.Add(time.Hour)
	up, err := b.s.UpdatePartner(b.ctx, p.ID, labhooks.PartnerUpdate{Name: &name, Role: &role}, later)
	if err != nil || up.Name != name || up.Role != role || !up.UpdatedAt.Equal(later) {
		t.Fatalf("UpdatePartner = %+v, %v", up, err)
	}
	bad := labhooks.Role("nurse")
	_, err = b.s.UpdatePartner(b.ctx, p.ID, labhooks.PartnerUpdate{Role: &bad}, later)
	wantCode(t, err, labhooks.EInvalid)
	if got, _ := b.s.Partner(b.ctx, p.ID); got.Role != role {
		t.Fatalf("a refused update changed the role to %q", got.Role)
	}
	_, err = b.s.UpdatePartner(b.ctx, "ptn_missing", labhooks.PartnerUpdate{Name: &name}, later)
	wantCode(t, err, labhooks.ENotFound)

	q := b.partner(t, labhooks.RoleSampler)
	all, err := b.s.Partners(b.ctx)
	if err != nil || len(all) != 2 || all[0].ID != p.ID || all[1].ID != q.ID {
		t.Fatalf("Partners = %v, %v", all, err)
	}
	if err := b.s.DeletePartner(b.ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, b.s.DeletePartner(b.ctx, p.ID), labhooks.ENotFound)
	if all, _ := b.s.Partners(b.ctx); len(all) != 1 {
		t.Fatalf("after delete, %d partners", len(all))
	}
}

func testDataLinks(t *testing.T, b *bundle) {
	p, q := b.partner(t, labhooks.RoleSampler), b.partner(t, labhooks.RoleLab)
	d := b.link(t, p, "appointmentCreated")
	b.link(t, q)
	got, err := b.s.DataLink(b.ctx, d.ID)
	if err != nil || got.URL != d.URL || got.Secret != d.Secret || !got.Enabled || len(got.EventNames) != 1 || got.EventNames[0] != "appointmentCreated" {
		t.Fatalf("DataLink = %+v, %v", got, err)
	}
	list, err := b.s.DataLinks(b.ctx, labhooks.DataLinkFilter{PartnerID: &p.ID})
	if err != nil || len(list) != 1 || list[0].ID != d.ID {
		t.Fatalf("DataLinks(partner) = %v, %v", list, err)
	}
	if all, _ := b.s.DataLinks(b.ctx, labhooks.DataLinkFilter{}); len(all) != 2 {
		t.Fatalf("DataLinks() = %d links, want 2", len(all))
	}
	err = b.s.CreateDataLink(b.ctx, &labhooks.DataLink{ID: id.New(id.DataLink), PartnerID: "ptn_missing", URL: "https://x.test", Secret: "s"})
	wantCode(t, err, labhooks.ENotFound)

	url, off, reason, none := "https://other.test/hook", false, "paused by admin", []string{}
	up, err := b.s.UpdateDataLink(b.ctx, d.ID, labhooks.DataLinkUpdate{URL: &url, Enabled: &off, DisabledReason: &reason, EventNames: &none}, b.now.Add(time.Minute))
	if err != nil || up.URL != url || up.Enabled || up.DisabledReason != reason || len(up.EventNames) != 0 || up.Secret != d.Secret {
		t.Fatalf("UpdateDataLink = %+v, %v", up, err)
	}
	on := true
	up, _ = b.s.UpdateDataLink(b.ctx, d.ID, labhooks.DataLinkUpdate{Enabled: &on}, b.now.Add(time.Minute))
	if !up.Enabled || up.DisabledReason != "" {
		t.Fatalf("re-enabled link = %+v", up)
	}
	_, err = b.s.UpdateDataLink(b.ctx, "dl_missing", labhooks.DataLinkUpdate{URL: &url}, b.now)
	wantCode(t, err, labhooks.ENotFound)
	if err := b.s.DeleteDataLink(b.ctx, d.ID, b.now); err != nil {
		t.Fatal(err)
	}
	_, err = b.s.DataLink(b.ctx, d.ID)
	wantCode(t, err, labhooks.ENotFound)
	wantCode(t, b.s.DeleteDataLink(b.ctx, d.ID, b.now), labhooks.ENotFound)
	// Deleting a partner takes its links with it.
	if err := b.s.DeletePartner(b.ctx, q.ID); err != nil {
		t.Fatal(err)
	}
	if all, _ := b.s.DataLinks(b.ctx, labhooks.DataLinkFilter{}); len(all) != 0 {
		t.Fatalf("links outlived their partner: %v", all)
	}
}

func testRotateSecret(t *testing.T, b *bundle) {
	d := b.link(t, b.partner(t, labhooks.RoleLab))
	next := labhooks.GenerateSecret()
	got, err := b.s.RotateSecret(b.ctx, labhooks.SecretRotation{DataLinkID: d.ID, NewSecret: next, Now: b.now, Overlap: time.Hour})
	if err != nil || got.Secret != next || got.PreviousSecret != d.Secret {
		t.Fatalf("RotateSecret = %+v, %v", got, err)
	}
	if s := got.Secrets(b.now.Add(59 * time.Minute)); len(s) != 2 || s[0] != next || s[1] != d.Secret {
		t.Fatalf("during overlap Secrets = %v", s)
	}
	stored, _ := b.s.DataLink(b.ctx, d.ID)
	if s := stored.Secrets(b.now.Add(61 * time.Minute)); len(s) != 1 || s[0] != next {
		t.Fatalf("after overlap Secrets = %v", s)
	}
	_, err = b.s.RotateSecret(b.ctx, labhooks.SecretRotation{DataLinkID: "dl_missing", NewSecret: next, Now: b.now})
	wantCode(t, err, labhooks.ENotFound)
}

func testRewriteSecrets(t *testing.T, b *bundle) {
	plain := b.link(t, b.partner(t, labhooks.RoleSampler))
	rotated := b.link(t, b.partner(t, labhooks.RoleLab))
	old := rotated.Secret
	rotated, err := b.s.RotateSecret(b.ctx, labhooks.SecretRotation{DataLinkID: rotated.ID, NewSecret: labhooks.GenerateSecret(), Now: b.now, Overlap: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	mark := func(link, secret string) (string, error) { return link + "|" + secret, nil }

	// A failing rewrite changes nothing, not even the links before it.
	boom := errors.New("boom")
	calls := 0
	_, err = b.s.RewriteSecrets(b.ctx, func(link, secret string) (string, error) {
		if calls++; calls == 2 {
			return "", boom
		}
		return mark(link, secret)
	})
	if !errors.Is(err, boom) {
		t.Fatalf("RewriteSecrets with a failing rewrite = %v, want its error", err)
	}
	for _, d := range []*labhooks.DataLink{plain, rotated} {
		if got, _ := b.s.DataLink(b.ctx, d.ID); got.Secret != d.Secret || got.PreviousSecret != d.PreviousSecret {
			t.Fatalf("after a failed rewrite, %s has %q/%q", d.ID, got.Secret, got.PreviousSecret)
		}
	}

	n, err := b.s.RewriteSecrets(b.ctx, mark)
	if err != nil || n != 2 {
		t.Fatalf("RewriteSecrets = %d, %v; want 2 links changed", n, err)
	}
	got, _ := b.s.DataLink(b.ctx, plain.ID)
	if got.Secret != plain.ID+"|"+plain.Secret || got.PreviousSecret != "" || !got.UpdatedAt.Equal(plain.UpdatedAt) || got.URL != plain.URL {
		t.Fatalf("rewritten link = %+v", got)
	}
	got, _ = b.s.DataLink(b.ctx, rotated.ID)
	if got.Secret != rotated.ID+"|"+rotated.Secret || got.PreviousSecret != rotated.ID+"|"+old ||
		got.PreviousSecretExpiresAt == nil || !got.PreviousSecretExpiresAt.Equal(*rotated.PreviousSecretExpiresAt) {
		t.Fatalf("rewritten rotated link = %+v", got)
	}
	// Claims carry the stored secrets.
	b.emit(t, "appointmentCreated", samplerOnly, nil)
	jobs := b.claim(t, b.now, 10)
	if len(jobs) != 1 || len(jobs[0].Secrets) != 1 || jobs[0].Secrets[0] != plain.ID+"|"+plain.Secret {
		t.Fatalf("claimed %+v after the rewrite", jobs)
	}
	if n, err := b.s.RewriteSecrets(b.ctx, func(_, secret string) (string, error) { return secret, nil }); err != nil || n != 0 {
		t.Fatalf("RewriteSecrets leaving secrets as they are = %d, %v; want 0", n, err)
	}
}

func testEventTypes(t *testing.T, b *bundle) {
	et := &labhooks.EventType{Name: "kitShipped", Roles: []labhooks.Role{labhooks.RoleClient}, Status: labhooks.StatusAvailable,
		Schema: json.RawMessage(`{"type":"object"}`), Example: json.RawMessage(`{"eventName":"kitShipped","data":{}}`)}
	if err := b.s.CreateEventType(b.ctx, et); err != nil {
		t.Fatal(err)
	}
	wantCode(t, b.s.CreateEventType(b.ctx, et), labhooks.EConflict)
	all, err := b.s.EventTypes(b.ctx)
	if err != nil || len(all) != 1 || all[0].Name != "kitShipped" || !all[0].Custom || all[0].Roles[0] != labhooks.RoleClient {
		t.Fatalf("EventTypes = %+v, %v", all, err)
	}
}

func testCreateEventTargets(t *testing.T, b *bundle) {
	s1, s2, lab := b.partner(t, labhooks.RoleSampler), b.partner(t, labhooks.RoleSampler), b.partner(t, labhooks.RoleLab)
	l1 := b.link(t, s1)
	l1b := b.link(t, s1, "appointmentUpdated") // filtered out
	l2 := b.link(t, s2, "appointmentCreated")
	b.link(t, lab)
	off := false
	disabled := b.link(t, s2)
	if _, err := b.s.UpdateDataLink(b.ctx, disabled.ID, labhooks.DataLinkUpdate{Enabled: &off}, b.now); err != nil {
		t.Fatal(err)
	}
	links := func(r *labhooks.CreateEventResult) map[string]bool {
		m := map[string]bool{}
		for _, d := range r.Deliveries {
			m[d.DataLinkID] = true
			if d.Status != labhooks.DeliveryPending || d.EventID != r.Event.ID || d.EventName != "appointmentCreated" {
				t.Fatalf("new delivery %+v", d)
			}
		}
		return m
	}
	all := b.emit(t, "appointmentCreated", samplerOnly, nil)
	if got := links(all); len(got) != 2 || !got[l1.ID] || !got[l2.ID] || got[l1b.ID] {
		t.Fatalf("to every sampler: deliveries to %v", got)
	}
	one := b.emit(t, "appointmentCreated", samplerOnly, func(e *labhooks.Event) { e.PartnerID = s2.ID })
	if got := links(one); len(got) != 1 || !got[l2.ID] {
		t.Fatalf("to partner s2: deliveries to %v", got)
	}
	byRole := b.emit(t, "appointmentCreated", []labhooks.Role{labhooks.RoleSampler, labhooks.RoleLab}, func(e *labhooks.Event) { e.Role = labhooks.RoleSampler })
	if got := links(byRole); len(got) != 2 {
		t.Fatalf("to role sampler: deliveries to %v", got)
	}
	_, err := b.s.CreateEvent(b.ctx, labhooks.CreateEventParams{Event: &labhooks.Event{ID: id.New(id.Event), EventName: "appointmentCreated",
		Data: json.RawMessage(`{}`), PartnerID: lab.ID, CreatedAt: b.now}, Roles: samplerOnly, Now: b.now})
	wantCode(t, err, labhooks.ERoleNotAllowed)
	_, err = b.s.CreateEvent(b.ctx, labhooks.CreateEventParams{Event: &labhooks.Event{ID: id.New(id.Event), EventName: "appointmentCreated",
		Data: json.RawMessage(`{}`), PartnerID: "ptn_missing", CreatedAt: b.now}, Roles: samplerOnly, Now: b.now})
	wantCode(t, err, labhooks.ENotFound)
	e, err := b.s.Event(b.ctx, one.Event.ID)
	if err != nil || e.PartnerID != s2.ID || !bytes.Equal(e.Data, []byte(`{"appointmentId":1}`)) {
		t.Fatalf("Event = %+v, %v", e, err)
	}
	ds, _, err := b.s.Deliveries(b.ctx, labhooks.DeliveryFilter{EventID: &all.Event.ID})
	if err != nil || len(ds) != 2 {
		t.Fatalf("Deliveries(event) = %v, %v", ds, err)
	}
}

func testCreateEventIdempotency(t *testing.T, b *bundle) {
	b.link(t, b.partner(t, labhooks.RoleSampler))
	params := func(hash string) labhooks.CreateEventParams {
		return labhooks.CreateEventParams{Event: &labhooks.Event{ID: id.New(id.Event), EventName: "appointmentCreated",
			Data: json.RawMessage(`{}`), IdempotencyKey: "key-1", CreatedAt: b.now}, Roles: samplerOnly, RequestHash: hash, Now: b.now}
	}
	first, err := b.s.CreateEvent(b.ctx, params("h1"))
	if err != nil || first.Replayed || len(first.Deliveries) != 1 {
		t.Fatalf("first = %+v, %v", first, err)
	}
	again, err := b.s.CreateEvent(b.ctx, params("h1"))
	if err != nil || !again.Replayed || again.Event.ID != first.Event.ID || len(again.Deliveries) != 1 || again.Deliveries[0].ID != first.Deliveries[0].ID {
		t.Fatalf("replay = %+v, %v", again, err)
	}
	_, err = b.s.CreateEvent(b.ctx, params("h2"))
	wantCode(t, err, labhooks.EConflict)
	if ds, _, _ := b.s.Deliveries(b.ctx, labhooks.DeliveryFilter{}); len(ds) != 1 {
		t.Fatalf("%d deliveries after three calls with one key, want 1", len(ds))
	}
}

func testClaimAndLease(t *testing.T, b *bundle) {
	d := b.link(t, b.partner(t, labhooks.RoleSampler))
	r := b.emit(t, "appointmentCreated", samplerOnly, nil)
	if jobs := b.claim(t, b.now.Add(-time.Second), 10); len(jobs) != 0 {
		t.Fatalf("claimed %d deliveries before they were due", len(jobs))
	}
	jobs := b.claim(t, b.now, 10)
	if len(jobs) != 1 {
		t.Fatalf("claimed %d, want 1", len(jobs))
	}
	j := jobs[0]
	want := `{"eventName":"appointmentCreated","data":{"appointmentId":1}}`
	if j.DeliveryID != r.Deliveries[0].ID || j.URL != d.URL || string(j.Body) != want || j.Try != 1 || len(j.Secrets) != 1 || j.Secrets[0] != d.Secret || j.LeaseToken == "" {
		t.Fatalf("job = %+v", j)
	}
	if again := b.claim(t, b.now.Add(30*time.Second), 10); len(again) != 0 {
		t.Fatalf("a leased delivery was claimed again within its lease")
	}
	next, ok, err := b.s.NextDue(b.ctx)
	if err != nil || !ok || !next.Equal(b.now.Add(time.Minute)) {
		t.Fatalf("NextDue = %v, %v, %v; want the lease's end", next, ok, err)
	}
	// The worker died: once the lease runs out the delivery is due again.
	re := b.claim(t, b.now.Add(61*time.Second), 10)
	if len(re) != 1 || re[0].DeliveryID != j.DeliveryID || re[0].LeaseToken == j.LeaseToken {
		t.Fatalf("after the lease expired, claimed %+v", re)
	}
}

func testClaimFairness(t *testing.T, b *bundle) {
	busy := b.link(t, b.partner(t, labhooks.RoleSampler))
	for range 20 {
		b.emit(t, "appointmentCreated", samplerOnly, nil)
	}
	quiet := b.link(t, b.partner(t, labhooks.RoleSampler))
	b.emit(t, "appointmentCreated", samplerOnly, func(e *labhooks.Event) {
		got, _ := b.s.DataLink(b.ctx, quiet.ID)
		e.PartnerID = got.PartnerID
	})
	jobs, err := b.s.ClaimDeliveries(b.ctx, labhooks.ClaimParams{Owner: "t", Now: b.now, Lease: time.Minute, Limit: 10, PerDataLink: 3})
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, j := range jobs {
		per[j.DataLinkID]++
	}
	if per[busy.ID] != 3 || per[quiet.ID] != 1 {
		t.Fatalf("per-link claim = %v; want 3 for the busy link, 1 for the quiet one", per)
	}
	// What the process has in flight counts against the cap.
	jobs, _ = b.s.ClaimDeliveries(b.ctx, labhooks.ClaimParams{Owner: "t", Now: b.now, Lease: time.Minute, Limit: 10, PerDataLink: 5,
		InFlight: map[string]int{busy.ID: 3}})
	if len(jobs) != 2 {
		t.Fatalf("with 3 of 5 in flight, claimed %d more of the busy link, want 2", len(jobs))
	}
	jobs, _ = b.s.ClaimDeliveries(b.ctx, labhooks.ClaimParams{Owner: "t", Now: b.now, Lease: time.Minute, Limit: 10, ExcludeDataLinks: []string{busy.ID}})
	if len(jobs) != 0 {
		t.Fatalf("claimed %d deliveries of an excluded link", len(jobs))
	}
	jobs, _ = b.s.ClaimDeliveries(b.ctx, labhooks.ClaimParams{Owner: "t", Now: b.now, Lease: time.Minute, Limit: 100})
	if len(jobs) != 15 {
		t.Fatalf("claimed %d of the 15 still due", len(jobs))
	}
}

func testRecordAttempts(t *testing.T, b *bundle) {
	b.link(t, b.partner(t, labhooks.RoleSampler))
	b.emit(t, "appointmentCreated", samplerOnly, nil)
	j := b.claim(t, b.now, 1)[0]
	retryAt := b.now.Add(5 * time.Second)
	b.record(t, j, b.now, 500, labhooks.DeliveryPending, &retryAt)
	d, err := b.s.Delivery(b.ctx, j.DeliveryID)
	if err != nil || d.Status != labhooks.DeliveryPending || d.AttemptCount != 1 || d.LastStatusCode != 500 || d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(retryAt) {
		t.Fatalf("after a failed attempt: %+v, %v", d, err)
	}
	if jobs := b.claim(t, retryAt.Add(-time.Millisecond), 1); len(jobs) != 0 {
		t.Fatal("claimed before the retry was due")
	}
	j2 := b.claim(t, retryAt, 1)[0]
	if j2.Try != 2 {
		t.Fatalf("second claim Try = %d, want 2", j2.Try)
	}
	b.record(t, j2, retryAt, 200, labhooks.DeliverySucceeded, nil)
	d, _ = b.s.Delivery(b.ctx, j.DeliveryID)
	if d.Status != labhooks.DeliverySucceeded || d.AttemptCount != 2 || d.NextAttemptAt != nil || len(d.Attempts) != 2 {
		t.Fatalf("after success: %+v", d)
	}
	a1, a2 := d.Attempts[0], d.Attempts[1]
	if a1.Number != 1 || a1.StatusCode != 500 || a2.Number != 2 || a2.StatusCode != 200 || a2.DurationMs != 12 || a2.ResponseBody != "ok" || !a1.StartedAt.Equal(b.now) {
		t.Fatalf("attempts %+v %+v", a1, a2)
	}
	if _, ok, _ := b.s.NextDue(b.ctx); ok {
		t.Fatal("NextDue reports a pending delivery after the only one succeeded")
	}
}

// failingSince reads a link's FailingSince, both alone and in a listing.
func (b *bundle) failingSince(t *testing.T, link string) *time.Time {
	t.Helper()
	d, err := b.s.DataLink(b.ctx, link)
	if err != nil {
		t.Fatalf("DataLink: %v", err)
	}
	all, err := b.s.DataLinks(b.ctx, labhooks.DataLinkFilter{PartnerID: &d.PartnerID})
	if err != nil {
		t.Fatalf("DataLinks: %v", err)
	}
	for _, l := range all {
		if l.ID == link && !sameTime(l.FailingSince, d.FailingSince) {
			t.Fatalf("FailingSince: %v alone, %v in the listing", d.FailingSince, l.FailingSince)
		}
	}
	return d.FailingSince
}

func sameTime(a, b *time.Time) bool {
	return a == nil && b == nil || a != nil && b != nil && a.Equal(*b)
}

func wantFailingSince(t *testing.T, b *bundle, link string, want *time.Time, when string) {
	t.Helper()
	if got := b.failingSince(t, link); !sameTime(got, want) {
		t.Fatalf("%s: FailingSince = %v, want %v", when, got, want)
	}
}

// testFailingSince follows a link's run of failures: the first failure
// starts it, later ones keep its start, a success ends it.
func testFailingSince(t *testing.T, b *bundle) {
	link := b.link(t, b.partner(t, labhooks.RoleSampler))
	other := b.link(t, b.partner(t, labhooks.RoleSampler))
	for range 6 {
		b.emit(t, "appointmentCreated", samplerOnly, nil)
	}
	var jobs, others []*labhooks.Job
	for _, j := range b.claim(t, b.now, 100) {
		if j.DataLinkID == link.ID {
			jobs = append(jobs, j)
		} else {
			others = append(others, j)
		}
	}
	if len(jobs) != 6 || len(others) != 6 {
		t.Fatalf("claimed %d and %d, want 6 of each link", len(jobs), len(others))
	}
	wantFailingSince(t, b, link.ID, nil, "a new link")
	at := func(m int) *time.Time { v := b.now.Add(time.Duration(m) * time.Minute); return &v }
	retry := b.now.Add(time.Hour)

	b.record(t, jobs[0], *at(1), 500, labhooks.DeliveryPending, &retry)
	wantFailingSince(t, b, link.ID, at(1), "after a failure")
	b.record(t, jobs[1], *at(2), 503, labhooks.DeliveryFailed, nil)
	wantFailingSince(t, b, link.ID, at(1), "after a second failure")
	b.record(t, jobs[2], *at(3), 200, labhooks.DeliverySucceeded, nil)
	wantFailingSince(t, b, link.ID, nil, "after a success")
	b.record(t, jobs[3], *at(4), 500, labhooks.DeliveryPending, &retry)
	wantFailingSince(t, b, link.ID, at(4), "after failing again")
	wantFailingSince(t, b, other.ID, nil, "another link")

	// In one batch, the latest attempt of each link decides; a success that
	// finished after a later-started failure does not end the run.
	err := b.s.RecordAttempts(b.ctx, []labhooks.AttemptResult{
		{LeaseToken: jobs[4].LeaseToken, DataLinkID: link.ID, Status: labhooks.DeliveryPending, NextAttemptAt: &retry,
			Attempt: labhooks.Attempt{DeliveryID: jobs[4].DeliveryID, StartedAt: *at(6), StatusCode: 500}},
		{LeaseToken: jobs[5].LeaseToken, DataLinkID: link.ID, Status: labhooks.DeliverySucceeded,
			Attempt: labhooks.Attempt{DeliveryID: jobs[5].DeliveryID, StartedAt: *at(5), StatusCode: 200}},
		{LeaseToken: others[0].LeaseToken, DataLinkID: other.ID, Status: labhooks.DeliveryPending, NextAttemptAt: &retry,
			Attempt: labhooks.Attempt{DeliveryID: others[0].DeliveryID, StartedAt: *at(5), Error: "connection refused"}},
		{LeaseToken: others[1].LeaseToken, DataLinkID: other.ID, Status: labhooks.DeliveryPending, NextAttemptAt: &retry,
			Attempt: labhooks.Attempt{DeliveryID: others[1].DeliveryID, StartedAt: *at(6), Error: "connection refused"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantFailingSince(t, b, link.ID, at(6), "after a batch ending in a failure")
	wantFailingSince(t, b, other.ID, at(5), "after a batch of failures")

	// Enabling a disabled link is a fresh start; enabling an enabled one is not.
	on, off := true, false
	up, err := b.s.UpdateDataLink(b.ctx, other.ID, labhooks.DataLinkUpdate{Enabled: &on}, *at(7))
	if err != nil || !sameTime(up.FailingSince, at(5)) {
		t.Fatalf("enabling an enabled link = %+v, %v; want its run kept", up, err)
	}
	b.s.UpdateDataLink(b.ctx, other.ID, labhooks.DataLinkUpdate{Enabled: &off}, *at(7))
	up, err = b.s.UpdateDataLink(b.ctx, other.ID, labhooks.DataLinkUpdate{Enabled: &on}, *at(8))
	if err != nil || up.FailingSince != nil {
		t.Fatalf("re-enabled link = %+v, %v; want no run of failures", up, err)
	}
	wantFailingSince(t, b, other.ID, nil, "after re-enabling")
}

// testDisableFailingDataLinks disables the links that have only failed
// since the bound, and no others, once.
func testDisableFailingDataLinks(t *testing.T, b *bundle) {
	old := b.link(t, b.partner(t, labhooks.RoleSampler))
	recent := b.link(t, b.partner(t, labhooks.RoleSampler))
	healthy := b.link(t, b.partner(t, labhooks.RoleSampler))
	paused := b.link(t, b.partner(t, labhooks.RoleSampler))
	b.emit(t, "appointmentCreated", samplerOnly, nil)
	jobs := b.claim(t, b.now, 10)
	if len(jobs) != 4 {
		t.Fatalf("claimed %d, want 4", len(jobs))
	}
	day := 24 * time.Hour
	sixDaysAgo, retry := b.now.Add(-6*day), b.now.Add(time.Hour)
	for _, j := range jobs {
		switch j.DataLinkID {
		case old.ID, paused.ID:
			b.record(t, j, sixDaysAgo, 500, labhooks.DeliveryPending, &retry)
		case recent.ID:
			err := b.s.RecordAttempts(b.ctx, []labhooks.AttemptResult{{LeaseToken: j.LeaseToken, DataLinkID: j.DataLinkID,
				Status: labhooks.DeliveryPending, NextAttemptAt: &retry,
				Attempt: labhooks.Attempt{DeliveryID: j.DeliveryID, StartedAt: b.now.Add(-day), Error: "connection refused"}}})
			if err != nil {
				t.Fatal(err)
			}
		case healthy.ID:
			b.record(t, j, sixDaysAgo, 200, labhooks.DeliverySucceeded, nil)
		}
	}
	off, reason := false, "paused by admin"
	if _, err := b.s.UpdateDataLink(b.ctx, paused.ID, labhooks.DataLinkUpdate{Enabled: &off, DisabledReason: &reason}, b.now); err != nil {
		t.Fatal(err)
	}

	// Limited to links the caller saw fail lately, the old one is spared.
	got, err := b.s.DisableFailingDataLinks(b.ctx, labhooks.DisableParams{FailingSince: b.now.Add(-5 * day), DataLinks: []string{recent.ID}, Now: b.now})
	if err != nil || len(got) != 0 {
		t.Fatalf("DisableFailingDataLinks(only %s) = %+v, %v; want none", recent.ID, got, err)
	}
	if got, err = b.s.DisableFailingDataLinks(b.ctx, labhooks.DisableParams{FailingSince: b.now.Add(-5 * day), DataLinks: []string{}, Now: b.now}); err != nil || len(got) != 0 {
		t.Fatalf("DisableFailingDataLinks(no links) = %+v, %v; want none", got, err)
	}
	got, err = b.s.DisableFailingDataLinks(b.ctx, labhooks.DisableParams{FailingSince: b.now.Add(-5 * day), DataLinks: []string{old.ID, recent.ID}, Now: b.now})
	if err != nil || len(got) != 1 || got[0].ID != old.ID {
		t.Fatalf("DisableFailingDataLinks = %+v, %v; want only %s", got, err, old.ID)
	}
	wantReason := labhooks.FailingReason(b.now, sixDaysAgo, 500, "")
	d, _ := b.s.DataLink(b.ctx, old.ID)
	for _, d := range []*labhooks.DataLink{got[0], d} {
		if d.Enabled || d.DisabledReason != wantReason || !sameTime(d.FailingSince, &sixDaysAgo) || !d.UpdatedAt.Equal(b.now) {
			t.Fatalf("disabled link = %+v; want reason %q", d, wantReason)
		}
	}
	for _, l := range []*labhooks.DataLink{recent, healthy} {
		if d, _ := b.s.DataLink(b.ctx, l.ID); !d.Enabled || d.DisabledReason != "" {
			t.Fatalf("link %s was disabled: %+v", l.ID, d)
		}
	}
	if d, _ := b.s.DataLink(b.ctx, paused.ID); d.DisabledReason != reason {
		t.Fatalf("a link disabled by hand got reason %q", d.DisabledReason)
	}
	if again, err := b.s.DisableFailingDataLinks(b.ctx, labhooks.DisableParams{FailingSince: b.now.Add(-5 * day), Now: b.now.Add(time.Minute)}); err != nil || len(again) != 0 {
		t.Fatalf("a second call disabled %+v, %v", again, err)
	}

	// The disabled link's pending delivery is failed, not claimed.
	for _, j := range b.claim(t, retry, 10) {
		if j.DataLinkID == old.ID {
			t.Fatalf("claimed a delivery of a disabled link: %+v", j)
		}
	}
	failed := labhooks.DeliveryFailed
	ds, _, _ := b.s.Deliveries(b.ctx, labhooks.DeliveryFilter{DataLinkID: &old.ID, Status: &failed})
	if len(ds) != 1 || ds[0].LastError == "" {
		t.Fatalf("deliveries of the disabled link: %+v; want 1 failed", ds)
	}

	// Without a status code, the reason quotes the error.
	got, err = b.s.DisableFailingDataLinks(b.ctx, labhooks.DisableParams{FailingSince: b.now.Add(-day), Now: b.now})
	if err != nil || len(got) != 1 || got[0].ID != recent.ID || !strings.Contains(got[0].DisabledReason, "(last: connection refused)") {
		t.Fatalf("DisableFailingDataLinks(a day) = %+v, %v; want %s, its reason quoting the error", got, err, recent.ID)
	}

	// Enabled again, the link starts afresh and what failed meanwhile can
	// be sent again.
	on := true
	d, err = b.s.UpdateDataLink(b.ctx, old.ID, labhooks.DataLinkUpdate{Enabled: &on}, b.now.Add(time.Hour))
	if err != nil || !d.Enabled || d.DisabledReason != "" || d.FailingSince != nil {
		t.Fatalf("re-enabled link = %+v, %v", d, err)
	}
	n, err := b.s.RequeueFailed(b.ctx, labhooks.RequeueParams{DataLinkID: old.ID, Since: sixDaysAgo, Now: b.now.Add(time.Hour)})
	if err != nil || n != 1 {
		t.Fatalf("RequeueFailed = %d, %v; want 1", n, err)
	}
	if jobs := b.claim(t, b.now.Add(time.Hour), 10); len(jobs) != 1 || jobs[0].DataLinkID != old.ID || jobs[0].Try != 1 {
		t.Fatalf("after re-enabling and replaying, claimed %+v", jobs)
	}
}

func testStaleLease(t *testing.T, b *bundle) {
	b.link(t, b.partner(t, labhooks.RoleSampler))
	b.emit(t, "appointmentCreated", samplerOnly, nil)
	slow := b.claim(t, b.now, 1)[0]
	fast := b.claim(t, b.now.Add(2*time.Minute), 1)[0] // slow's lease expired
	b.record(t, fast, b.now.Add(2*time.Minute), 200, labhooks.DeliverySucceeded, nil)
	later := b.now.Add(time.Hour)
	b.record(t, slow, b.now.Add(3*time.Minute), 500, labhooks.DeliveryPending, &later)
	d, _ := b.s.Delivery(b.ctx, slow.DeliveryID)
	if d.Status != labhooks.DeliverySucceeded || len(d.Attempts) != 2 {
		t.Fatalf("a stale lease's result overrode the current one: %+v", d)
	}
}

func testRetryDelivery(t *testing.T, b *bundle) {
	link := b.link(t, b.partner(t, labhooks.RoleSampler))
	b.emit(t, "appointmentCreated", samplerOnly, nil)
	j := b.claim(t, b.now, 1)[0]
	b.record(t, j, b.now, 500, labhooks.DeliveryFailed, nil)
	later := b.now.Add(time.Hour)
	d, err := b.s.RetryDelivery(b.ctx, j.DeliveryID, later)
	if err != nil || d.Status != labhooks.DeliveryPending || d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(later) {
		t.Fatalf("RetryDelivery = %+v, %v", d, err)
	}
	j2 := b.claim(t, later, 1)
	if len(j2) != 1 || j2[0].Try != 1 {
		t.Fatalf("after a manual retry claimed %+v; want Try 1", j2)
	}
	_, err = b.s.RetryDelivery(b.ctx, "dlv_missing", later)
	wantCode(t, err, labhooks.ENotFound)
	off := false
	b.s.UpdateDataLink(b.ctx, link.ID, labhooks.DataLinkUpdate{Enabled: &off}, later)
	_, err = b.s.RetryDelivery(b.ctx, j.DeliveryID, later)
	wantCode(t, err, labhooks.EConflict)
}

func testDeliveriesPaging(t *testing.T, b *bundle) {
	p := b.partner(t, labhooks.RoleSampler)
	b.link(t, p)
	other := b.partner(t, labhooks.RoleSampler)
	b.link(t, other)
	for range 7 {
		b.emit(t, "appointmentCreated", samplerOnly, nil)
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

func testDeleteFailsPending(t *testing.T, b *bundle) {
	link := b.link(t, b.partner(t, labhooks.RoleSampler))
	r := b.emit(t, "appointmentCreated", samplerOnly, nil)
	if err := b.s.DeleteDataLink(b.ctx, link.ID, b.now); err != nil {
		t.Fatal(err)
	}
	d, err := b.s.Delivery(b.ctx, r.Deliveries[0].ID)
	if err != nil || d.Status != labhooks.DeliveryFailed || d.LastError == "" {
		t.Fatalf("pending delivery of a deleted link: %+v, %v", d, err)
	}
	if jobs := b.claim(t, b.now, 10); len(jobs) != 0 {
		t.Fatalf("claimed %d deliveries of a deleted link", len(jobs))
	}
	// A link disabled after the event was stored: its delivery fails at claim.
	link2 := b.link(t, b.partner(t, labhooks.RoleSampler))
	r2 := b.emit(t, "appointmentCreated", samplerOnly, nil)
	off := false
	b.s.UpdateDataLink(b.ctx, link2.ID, labhooks.DataLinkUpdate{Enabled: &off}, b.now)
	if jobs := b.claim(t, b.now, 10); len(jobs) != 0 {
		t.Fatalf("claimed %d deliveries of a disabled link", len(jobs))
	}
	d, _ = b.s.Delivery(b.ctx, r2.Deliveries[0].ID)
	if d.Status != labhooks.DeliveryFailed {
		t.Fatalf("delivery to a disabled link: %+v", d)
	}
}

func testAdminKey(t *testing.T, b *bundle) {
	h, err := b.s.AdminKeyHash(b.ctx)
	if err != nil || h != nil {
		t.Fatalf("fresh store AdminKeyHash = %x, %v", h, err)
	}
	stored, created, err := b.s.InitAdminKeyHash(b.ctx, []byte("first"))
	if err != nil || !created || string(stored) != "first" {
		t.Fatalf("InitAdminKeyHash on an empty store = %q, %v, %v", stored, created, err)
	}
	// A second process starting at the same time loses, and learns the winner.
	stored, created, err = b.s.InitAdminKeyHash(b.ctx, []byte("second"))
	if err != nil || created || string(stored) != "first" {
		t.Fatalf("InitAdminKeyHash again = %q, %v, %v; want the first hash kept", stored, created, err)
	}
	if h, _ := b.s.AdminKeyHash(b.ctx); string(h) != "first" {
		t.Fatalf("AdminKeyHash = %q, want first", h)
	}
	if err := b.s.Ping(b.ctx); err != nil {
		t.Fatal(err)
	}
}

func testRequeueFailed(t *testing.T, b *bundle) {
	link := b.link(t, b.partner(t, labhooks.RoleSampler))
	other := b.link(t, b.partner(t, labhooks.RoleSampler))
	b.emit(t, "appointmentCreated", samplerOnly, nil) // at b.now, to both links
	b.now = b.now.Add(time.Hour)
	b.emit(t, "appointmentCreated", samplerOnly, nil) // an hour later
	for _, j := range b.claim(t, b.now, 10) {
		b.record(t, j, b.now, 500, labhooks.DeliveryFailed, nil)
	}
	start := b.now.Add(-time.Hour)
	n, err := b.s.RequeueFailed(b.ctx, labhooks.RequeueParams{DataLinkID: link.ID, Since: start, Until: start.Add(time.Minute), Now: b.now})
	if err != nil || n != 1 {
		t.Fatalf("RequeueFailed(first hour) = %d, %v; want 1", n, err)
	}
	jobs := b.claim(t, b.now, 10)
	if len(jobs) != 1 || jobs[0].DataLinkID != link.ID || jobs[0].Try != 1 {
		t.Fatalf("after requeue claimed %+v", jobs)
	}
	n, _ = b.s.RequeueFailed(b.ctx, labhooks.RequeueParams{DataLinkID: link.ID, Since: start, Now: b.now})
	if n != 1 {
		t.Fatalf("RequeueFailed(open range) = %d, want the 1 still failed", n)
	}
	failed := labhooks.DeliveryFailed
	if ds, _, _ := b.s.Deliveries(b.ctx, labhooks.DeliveryFilter{DataLinkID: &other.ID, Status: &failed}); len(ds) != 2 {
		t.Fatalf("another link's failed deliveries were touched: %d left failed, want 2", len(ds))
	}
	_, err = b.s.RequeueFailed(b.ctx, labhooks.RequeueParams{DataLinkID: "dl_missing", Since: start, Now: b.now})
	wantCode(t, err, labhooks.ENotFound)
}

func testDeliveriesByEventName(t *testing.T, b *bundle) {
	b.link(t, b.partner(t, labhooks.RoleSampler))
	b.emit(t, "appointmentCreated", samplerOnly, nil)
	b.emit(t, "appointmentCancelled", samplerOnly, nil)
	b.emit(t, "appointmentCreated", samplerOnly, nil)
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

func testHealth(t *testing.T, b *bundle) {
	h, err := b.s.Health(b.ctx, b.now.Add(-time.Hour))
	if err != nil || h.QueueDepth != 0 || h.OldestPending != nil || h.Created != 0 || h.Attempts != 0 || len(h.FailingDataLinks) != 0 {
		t.Fatalf("Health of an empty store = %+v, %v", h, err)
	}
	ok := b.link(t, b.partner(t, labhooks.RoleSampler))
	failing := b.link(t, b.partner(t, labhooks.RoleSampler))
	recovered := b.link(t, b.partner(t, labhooks.RoleSampler))
	b.emit(t, "appointmentCreated", samplerOnly, nil) // one delivery to each link
	b.emit(t, "appointmentUpdated", samplerOnly, nil) // and a second, left pending
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

// testCreateEventConcurrent emits from many goroutines at once, as the API
// does under load: a refused event must not undo the others stored beside
// it, and one idempotency key used concurrently stores one event.
func testCreateEventConcurrent(t *testing.T, b *bundle) {
	p := b.partner(t, labhooks.RoleSampler)
	b.link(t, p)
	const n = 40
	type outcome struct {
		res *labhooks.CreateEventResult
		err error
	}
	outcomes := make([]outcome, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			e := &labhooks.Event{ID: id.New(id.Event), EventName: "appointmentCreated", Data: json.RawMessage(`{}`), CreatedAt: b.now}
			switch i % 3 {
			case 0:
				e.PartnerID = "ptn_missing" // refused
			case 1:
				e.IdempotencyKey = "shared-key"
			}
			r, err := b.s.CreateEvent(b.ctx, labhooks.CreateEventParams{Event: e, Roles: samplerOnly, RequestHash: "same", Now: b.now})
			outcomes[i] = outcome{r, err}
		})
	}
	wg.Wait()
	stored, sharedIDs := 0, map[string]bool{}
	for i, o := range outcomes {
		switch i % 3 {
		case 0:
			wantCode(t, o.err, labhooks.ENotFound)
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
	if err != nil || len(ds) != stored+1 {
		t.Fatalf("%d deliveries stored, want %d (%v)", len(ds), stored+1, err)
	}
}

// testStaleLeaseOneBatch records a stale lease's attempt and the current
// one's in a single call, as one process does when it holds results across
// a database outage: both attempts count, numbered in order, and only the
// current lease moves the delivery on.
func testStaleLeaseOneBatch(t *testing.T, b *bundle) {
	b.link(t, b.partner(t, labhooks.RoleSampler))
	b.emit(t, "appointmentCreated", samplerOnly, nil)
	stale := b.claim(t, b.now, 1)[0]
	current := b.claim(t, b.now.Add(2*time.Minute), 1)[0]
	later := b.now.Add(time.Hour)
	err := b.s.RecordAttempts(b.ctx, []labhooks.AttemptResult{
		{LeaseToken: stale.LeaseToken, Status: labhooks.DeliveryPending, NextAttemptAt: &later,
			Attempt: labhooks.Attempt{DeliveryID: stale.DeliveryID, StartedAt: b.now, StatusCode: 500}},
		{LeaseToken: current.LeaseToken, Status: labhooks.DeliverySucceeded,
			Attempt: labhooks.Attempt{DeliveryID: current.DeliveryID, StartedAt: b.now.Add(2 * time.Minute), StatusCode: 200}},
	})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := b.s.Delivery(b.ctx, stale.DeliveryID)
	if d.Status != labhooks.DeliverySucceeded || d.AttemptCount != 2 || len(d.Attempts) != 2 ||
		d.Attempts[0].Number != 1 || d.Attempts[0].StatusCode != 500 || d.Attempts[1].Number != 2 || d.Attempts[1].StatusCode != 200 {
		t.Fatalf("after one batch with a stale and a current attempt: %+v", d)
	}
}

// testTargetsFollowChanges emits between changes to partners and data links:
// each event must go to the links as they are when it is stored (a store
// may cache them, but never serve a stale answer).
func testTargetsFollowChanges(t *testing.T, b *bundle) {
	p := b.partner(t, labhooks.RoleSampler)
	l1 := b.link(t, p)
	count := func() int {
		t.Helper()
		return len(b.emit(t, "appointmentCreated", samplerOnly, nil).Deliveries)
	}
	if n := count(); n != 1 {
		t.Fatalf("one link: %d deliveries", n)
	}
	l2 := b.link(t, p)
	if n := count(); n != 2 {
		t.Fatalf("after adding a link: %d deliveries, want 2", n)
	}
	off := false
	if _, err := b.s.UpdateDataLink(b.ctx, l1.ID, labhooks.DataLinkUpdate{Enabled: &off}, b.now); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("after disabling a link: %d deliveries, want 1", n)
	}
	names := []string{"appointmentUpdated"}
	if _, err := b.s.UpdateDataLink(b.ctx, l2.ID, labhooks.DataLinkUpdate{EventNames: &names}, b.now); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Fatalf("after filtering the event out: %d deliveries, want 0", n)
	}
	lab := labhooks.RoleLab
	q := b.partner(t, labhooks.RoleSampler)
	b.link(t, q)
	if n := count(); n != 1 {
		t.Fatalf("after adding a partner: %d deliveries, want 1", n)
	}
	if _, err := b.s.UpdatePartner(b.ctx, q.ID, labhooks.PartnerUpdate{Role: &lab}, b.now); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Fatalf("after the partner became a lab: %d deliveries, want 0", n)
	}
	if err := b.s.DeletePartner(b.ctx, q.ID); err != nil {
		t.Fatal(err)
	}
	_, err := b.s.CreateEvent(b.ctx, labhooks.CreateEventParams{Event: &labhooks.Event{ID: id.New(id.Event), EventName: "appointmentCreated",
		Data: json.RawMessage(`{}`), PartnerID: q.ID, CreatedAt: b.now}, Roles: []labhooks.Role{labhooks.RoleLab}, Now: b.now})
	wantCode(t, err, labhooks.ENotFound)
}

func testRevokedSessions(t *testing.T, b *bundle) {
	revoked := func(id string) bool {
		t.Helper()
		ok, err := b.s.SessionRevoked(b.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if revoked("s1") {
		t.Fatal("a session never revoked is revoked")
	}
	for range 2 { // revoking twice is no error
		if err := b.s.RevokeSession(b.ctx, "s1", b.now.Add(time.Hour), b.now); err != nil {
			t.Fatal(err)
		}
	}
	if !revoked("s1") || revoked("s2") {
		t.Fatal("RevokeSession revoked the wrong sessions")
	}
	// Once s1's cookie has expired, revoking another forgets it.
	if err := b.s.RevokeSession(b.ctx, "s2", b.now.Add(2*time.Hour), b.now.Add(90*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if revoked("s1") || !revoked("s2") {
		t.Fatal("expired revocations are kept, or the new one is lost")
	}
}
