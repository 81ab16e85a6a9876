// Package storetest is the conformance suite every labhooks.Store must pass:
// the behaviour the rest of labhooks relies on, written once and run against
// SQLite and PostgreSQL alike. Each test runs on a store of its own, in
// parallel with the others; its files follow the store's roles (partners,
// data links, events and audiences, the queue, requeues, deliveries,
// sessions and the admin key, health).
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
)

// NewStore returns an empty store for one test or benchmark, which the
// suite closes, or the error that kept it from opening one.
type NewStore func(t testing.TB) (labhooks.Store, error)

// Run runs the whole suite against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	for _, tt := range []struct {
		name string
		fn   func(*testing.T, NewStore)
	}{
		{"Partners", testPartners},
		{"UpdatePartner", testUpdatePartner},
		{"DataLinks", testDataLinks},
		{"DataLinkCap", testDataLinkCap},
		{"DataLinkFilterIDs", testDataLinkFilterIDs},
		{"UpdateDataLink", testUpdateDataLink},
		{"UpdateDataLinkRefused", testUpdateDataLinkRefused},
		{"RotateSecret", testRotateSecret},
		{"RewriteSecrets", testRewriteSecrets},
		{"DisableFailingDataLink", testDisableFailingDataLink},
		{"EventTypes", testEventTypes},
		{"Audience", testAudience},
		{"CreateEvent", testCreateEvent},
		{"CreateEventTargets", testCreateEventTargets},
		{"CreateEventIdempotency", testCreateEventIdempotency},
		{"CreateEventConcurrent", testCreateEventConcurrent},
		{"TargetsFollowChanges", testTargetsFollowChanges},
		{"StaleAudience", testStaleAudience},
		{"ClaimAndLease", testClaimAndLease},
		{"ClaimFairness", testClaimFairness},
		{"ClaimPartnerShare", testClaimPartnerShare},
		{"ClaimFailsUnusable", testClaimFailsUnusable},
		{"RecordAttempts", testRecordAttempts},
		{"FailingSince", testFailingSince},
		{"StaleLease", testStaleLease},
		{"StaleLeaseOneBatch", testStaleLeaseOneBatch},
		{"RequeueDelivery", testRequeueDelivery},
		{"RequeueAnyStatus", testRequeueAnyStatus},
		{"RequeueFailed", testRequeueFailed},
		{"DeliveriesPaging", testDeliveriesPaging},
		{"DeliveriesByEventName", testDeliveriesByEventName},
		{"DeleteFailsPending", testDeleteFailsPending},
		{"AdminKey", testAdminKey},
		{"RevokedSessions", testRevokedSessions},
		{"Health", testHealth},
		{"HealthSeries", testHealthSeries},
		{"AuditInTransaction", testAuditInTransaction},
		{"AuditListing", testAuditListing},
		{"Retention", testRetention},
		{"EventTypeRetention", testEventTypeRetention},
		{"Erasure", testErasure},
		{"UnrecordedErasure", testUnrecordedErasure},
		{"NotificationOnce", testNotificationOnce},
		{"NotificationConcurrent", testNotificationConcurrent},
		{"NotificationClaim", testNotificationClaim},
		{"NotificationPurge", testNotificationPurge},
		{"EntitySequence", testEntitySequence},
		{"Feed", testFeed},
		{"OrderedBlocking", testOrderedBlocking},
		{"OrderedRequeue", testOrderedRequeue},
		{"OrderedDisable", testOrderedDisable},
		{"OrderedToggle", testOrderedToggle},
		{"OrderedConcurrentEmit", testOrderedConcurrentEmit},
		{"OrderedErasure", testOrderedErasure},
		{"FreshHandOver", testFreshHandOver},
		{"FreshRefusedOrReleased", testFreshRefusedOrReleased},
		{"FreshOnlyWhatIsDue", testFreshOnlyWhatIsDue},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore) })
	}
}

// Event types the suite emits: appointmentCreated and its kin go to
// samplers, resultAdded to labs; labsToo is appointmentCreated were it to
// go to labs as well.
var (
	AppointmentCreated   = &labhooks.EventType{Name: "appointmentCreated", Roles: samplerOnly}
	appointmentUpdated   = &labhooks.EventType{Name: "appointmentUpdated", Roles: samplerOnly}
	appointmentCancelled = &labhooks.EventType{Name: "appointmentCancelled", Roles: samplerOnly}
	ResultAdded          = &labhooks.EventType{Name: "resultAdded", Roles: []labhooks.Role{labhooks.RoleLab}}
	labsToo              = &labhooks.EventType{Name: "appointmentCreated", Roles: []labhooks.Role{labhooks.RoleSampler, labhooks.RoleLab}}

	samplerOnly = []labhooks.Role{labhooks.RoleSampler}
)

// Emit stores e, an event of type et, as the application does: it asks s
// for the audience of e's target (e.PartnerID or e.Role, else every role
// et allows), lets et pick the recipients, and stores e with a delivery to
// each, due at e.CreatedAt, checked against the audience's version; should
// the audience prove stale (labhooks.ErrStaleAudience), it targets e again.
// It fills in e.ID when empty, and e.EventName.
func Emit(ctx context.Context, s labhooks.Store, et *labhooks.EventType, e *labhooks.Event) (*labhooks.CreateEventResult, error) {
	if e.ID == "" {
		e.ID = id.New(id.Event)
	}
	e.EventName = et.Name
	tg := labhooks.Target{PartnerID: e.PartnerID, Role: e.Role}
	for try := 1; ; try++ {
		q := et.AudienceQuery(tg)
		a, err := s.Audience(ctx, q)
		if err != nil {
			return nil, err
		}
		links, err := et.Recipients(tg, a)
		if err != nil && a.Version != 0 {
			q.Fresh = true
			if a, err = s.Audience(ctx, q); err != nil {
				return nil, err
			}
			links, err = et.Recipients(tg, a)
		}
		if err != nil {
			return nil, err
		}
		r, err := s.CreateEvent(ctx, labhooks.CreateEventParams{
			Event:           e,
			Deliveries:      e.Deliver(links, e.CreatedAt, func() string { return id.New(id.Delivery) }),
			RequestHash:     e.RequestHash(),
			AudienceVersion: a.Version,
		})
		if errors.Is(err, labhooks.ErrStaleAudience) && try < 5 {
			continue
		}
		return r, err
	}
}

// NewLink stores, through s, a partner of role with one enabled data link,
// and returns the link.
func NewLink(t testing.TB, s labhooks.Store, role labhooks.Role) *labhooks.DataLink {
	t.Helper()
	b := &bundle{s: s, ctx: t.Context(), now: time.Now().UTC()}
	return b.link(t, b.partner(t, role))
}

// bundle is what each test starts from: its own store.
type bundle struct {
	s   labhooks.Store
	ctx context.Context
	now time.Time
}

// setup opens a store for one test and closes it when the test ends.
func setup(t testing.TB, newStore NewStore) *bundle {
	t.Helper()
	s, err := newStore(t)
	if err != nil {
		t.Fatalf("opening a store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return &bundle{s: s, ctx: t.Context(), now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (b *bundle) partner(t testing.TB, role labhooks.Role) *labhooks.Partner {
	t.Helper()
	p := &labhooks.Partner{ID: id.New(id.Partner), Role: role, CreatedAt: b.now, UpdatedAt: b.now}
	p.Name = fmt.Sprintf("%s %s", role, p.ID)
	p.KeyHash, p.KeyPrefix = []byte("hash-"+p.ID), "lhp_"+p.ID[len(p.ID)-6:]
	if err := b.s.CreatePartner(b.ctx, p); err != nil {
		t.Fatalf("CreatePartner: %v", err)
	}
	return p
}

func (b *bundle) link(t testing.TB, p *labhooks.Partner, eventNames ...string) *labhooks.DataLink {
	t.Helper()
	d := &labhooks.DataLink{ID: id.New(id.DataLink), PartnerID: p.ID, URL: "https://example.test/hook", Secret: labhooks.GenerateSecret(),
		EventNames: eventNames, Enabled: true, CreatedAt: b.now, UpdatedAt: b.now}
	if err := b.s.CreateDataLink(b.ctx, d); err != nil {
		t.Fatalf("CreateDataLink: %v", err)
	}
	return d
}

// emit stores an event of type et at b.now, aimed at tg (see Emit).
func (b *bundle) emit(t *testing.T, et *labhooks.EventType, tg labhooks.Target) *labhooks.CreateEventResult {
	t.Helper()
	r, err := b.tryEmit(et, tg, "")
	if err != nil {
		t.Fatalf("emitting %s: %v", et.Name, err)
	}
	return r
}

// tryEmit is emit with an idempotency key, returning its error.
func (b *bundle) tryEmit(et *labhooks.EventType, tg labhooks.Target, key string) (*labhooks.CreateEventResult, error) {
	e := &labhooks.Event{Data: json.RawMessage(`{"appointmentId":1}`), PartnerID: tg.PartnerID, Role: tg.Role,
		IdempotencyKey: key, CreatedAt: b.now}
	return Emit(b.ctx, b.s, et, e)
}

// toAll aims an event at every partner its type allows.
var toAll = labhooks.Target{}

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

// update changes data link id with u, at time at, as the application does.
func (b *bundle) update(t *testing.T, id string, at time.Time, u labhooks.DataLinkUpdate) *labhooks.DataLink {
	t.Helper()
	d, err := b.s.UpdateDataLink(b.ctx, id, func(d *labhooks.DataLink) error {
		u.Apply(d)
		d.UpdatedAt = at
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateDataLink: %v", err)
	}
	return d
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := labhooks.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

func sameTime(a, b *time.Time) bool {
	return a == nil && b == nil || a != nil && b != nil && a.Equal(*b)
}
