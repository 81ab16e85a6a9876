package app_test

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/storetest"
)

// finishDeliveries claims the due deliveries of event and records each as
// code says for its partner (2xx succeeded, else failed for good).
func finishDeliveries(t *testing.T, b *bundle, eventID string, code func(partnerID string) int) {
	t.Helper()
	jobs, err := b.store.ClaimDeliveries(t.Context(), labhooks.ClaimParams{Owner: "test", Now: time.Now(), Lease: time.Minute, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := b.app.Event(t.Context(), admin, eventID)
	if err != nil {
		t.Fatal(err)
	}
	partnerOf := map[string]string{}
	for _, d := range ev.Deliveries {
		partnerOf[d.ID] = d.PartnerID
	}
	var rs []labhooks.AttemptResult
	for _, j := range jobs {
		c := code(partnerOf[j.DeliveryID])
		st := labhooks.DeliverySucceeded
		if c >= 300 {
			st = labhooks.DeliveryFailed
		}
		rs = append(rs, labhooks.AttemptResult{LeaseToken: j.LeaseToken, DataLinkID: j.DataLinkID, Status: st,
			Attempt: labhooks.Attempt{DeliveryID: j.DeliveryID, StartedAt: time.Now().UTC(), StatusCode: c, ResponseBody: "user 42 noted"}})
	}
	if err := b.store.RecordAttempts(t.Context(), rs); err != nil {
		t.Fatal(err)
	}
}

// TestErasure walks a dataDeletionRequest through its states on both
// stores: recorded at emit, delivered to one partner and failed for the
// other, confirmed once by the first, labhooks' copy erased once no
// delivery is pending, overdue after the deadline.
func TestErasure(t *testing.T) {
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			var now atomic.Int64
			b := setupOn(t, open(t), func(c *app.Config) {
				c.Now = func() time.Time { return time.Now().Add(time.Duration(now.Load())) }
			})
			ctx := t.Context()
			a, c := b.partner(t, "A", labhooks.RoleProvider), b.partner(t, "C", labhooks.RoleProvider)
			other := b.partner(t, "Lab", labhooks.RoleLab)
			srv := receiver(t, nil)
			b.link(t, a, srv.URL)
			b.link(t, c, srv.URL)
			before, err := b.app.Emit(ctx, admin, app.EmitInput{EventName: "patientUpdated", Data: json.RawMessage(`{"patientId":1,"userId":42}`)})
			if err != nil {
				t.Fatal(err)
			}
			finishDeliveries(t, b, before.Event.ID, func(string) int { return 200 })
			req, err := b.app.Emit(ctx, admin, app.EmitInput{EventName: "dataDeletionRequest", PartnerID: "",
				Data: json.RawMessage(`{"userId":42,"userEmail":"ann@example.com","userPhoneNumber":"+39000000000"}`)})
			if err != nil {
				t.Fatal(err)
			}
			es, _, err := b.app.Erasures(ctx, admin, labhooks.ErasureFilter{})
			if err != nil || len(es) != 1 || len(es[0].Targets) != 2 || es[0].State != labhooks.ErasurePending || es[0].UserID != "42" {
				t.Fatalf("Erasures = %+v, %v", es, err)
			}
			if r, err := b.app.Purge(ctx); err != nil || r.Erasures != 0 {
				t.Fatalf("Purge with deliveries pending = %+v, %v", r, err)
			}
			finishDeliveries(t, b, req.Event.ID, func(p string) int {
				if p == a.Partner.ID {
					return 200
				}
				return 500
			})
			e, err := b.app.Erasure(ctx, admin, req.Event.ID)
			if err != nil {
				t.Fatal(err)
			}
			states := map[string]labhooks.ErasureState{}
			for _, tg := range e.Targets {
				states[tg.PartnerID] = tg.State
			}
			if states[a.Partner.ID] != labhooks.ErasureDelivered || states[c.Partner.ID] != labhooks.ErasurePending {
				t.Fatalf("states = %v", states)
			}

			// Confirming: a target partner, once.
			_, err = b.app.ConfirmErasure(ctx, admin, req.Event.ID)
			wantCode(t, err, labhooks.EForbidden)
			_, err = b.app.ConfirmErasure(ctx, other, req.Event.ID)
			wantCode(t, err, labhooks.ENotFound)
			_, err = b.app.Erasure(ctx, other, req.Event.ID)
			wantCode(t, err, labhooks.ENotFound)
			head, _ := b.store.AuditHead(ctx)
			first, err := b.app.ConfirmErasure(ctx, a, req.Event.ID)
			if err != nil || len(first.Targets) != 1 || first.Targets[0].State != labhooks.ErasureConfirmed || first.Targets[0].ConfirmedAt == nil {
				t.Fatalf("ConfirmErasure = %+v, %v", first, err)
			}
			again, err := b.app.ConfirmErasure(ctx, a, req.Event.ID)
			if err != nil || !again.Targets[0].ConfirmedAt.Equal(*first.Targets[0].ConfirmedAt) {
				t.Fatalf("ConfirmErasure again = %+v, %v", again, err)
			}
			log, _, err := b.store.Audit(ctx, labhooks.AuditFilter{Action: labhooks.AuditErasureConfirm})
			if err != nil || len(log) != 1 || log[0].Seq != head.Seq+1 || log[0].PartnerID != a.Partner.ID || log[0].TargetID != req.Event.ID {
				t.Fatalf("erasure.confirm entries = %+v, %v", log, err)
			}
			mine, _, err := b.app.Erasures(ctx, c, labhooks.ErasureFilter{})
			if err != nil || len(mine) != 1 || len(mine[0].Targets) != 1 || mine[0].Targets[0].PartnerID != c.Partner.ID {
				t.Fatalf("a partner's Erasures = %+v, %v", mine, err)
			}
			if theirs, _, _ := b.app.Erasures(ctx, other, labhooks.ErasureFilter{}); len(theirs) != 0 {
				t.Fatalf("a partner not targeted sees %+v", theirs)
			}

			// labhooks erases its own copy.
			r, err := b.app.Purge(ctx)
			if err != nil || r.Erasures != 1 {
				t.Fatalf("Purge = %+v, %v", r, err)
			}
			ev, err := b.app.Event(ctx, admin, req.Event.ID)
			if err != nil || string(ev.Data) != `{"userId":42}` {
				t.Fatalf("the request after the purge: %s, %v", ev.Data, err)
			}
			ev, err = b.app.Event(ctx, admin, before.Event.ID)
			if err != nil || !ev.Erased || string(ev.Data) != "null" {
				t.Fatalf("the user's earlier event after the purge: %+v, %v", ev, err)
			}
			for _, d := range ev.Deliveries {
				full, err := b.app.Delivery(ctx, admin, d.ID)
				if err != nil || len(full.Attempts) != 1 || full.Attempts[0].ResponseBody != "" {
					t.Fatalf("an erased event's attempts: %+v, %v", full, err)
				}
			}
			e, _ = b.app.Erasure(ctx, admin, req.Event.ID)
			if e.ErasedAt == nil {
				t.Fatalf("erasure not marked erased: %+v", e)
			}

			// After the deadline, the partner that did not confirm is overdue.
			now.Store(int64(labhooks.DefaultErasureDeadline + time.Hour))
			e, _ = b.app.Erasure(ctx, admin, req.Event.ID)
			for _, tg := range e.Targets {
				want := labhooks.ErasureOverdue
				if tg.PartnerID == a.Partner.ID {
					want = labhooks.ErasureConfirmed
				}
				if tg.State != want {
					t.Errorf("target %s: %s, want %s", tg.PartnerID, tg.State, want)
				}
			}
			if e.State != labhooks.ErasureOverdue {
				t.Errorf("erasure state %s, want overdue", e.State)
			}
		})
	}
}

// TestEventTypeRetention: the admin sets and clears an event type's own
// retention, audited with its old and new values; it caps at the
// server's.
func TestEventTypeRetention(t *testing.T) {
	b := setup(t, func(c *app.Config) { c.Retention = 10 * 24 * time.Hour })
	ctx := t.Context()
	find := func(name string) *app.EventTypeRetention {
		ts, err := b.app.EventTypeRetentions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range ts {
			if v.Name == name {
				return v
			}
		}
		t.Fatalf("no event type %s", name)
		return nil
	}
	day := int64(24 * 3600)
	if v := find("dataDeletionRequest"); v.RetentionSeconds != nil || v.EffectiveRetentionSeconds != 7*day {
		t.Fatalf("dataDeletionRequest: %+v", v)
	}
	if v := find("sampleReceived"); v.EffectiveRetentionSeconds != 10*day {
		t.Fatalf("sampleReceived: %+v", v)
	}
	one := day
	v, err := b.app.UpdateEventType(ctx, admin, "sampleReceived", app.EventTypeUpdate{RetentionSeconds: &one})
	if err != nil || *v.RetentionSeconds != day || v.EffectiveRetentionSeconds != day {
		t.Fatalf("UpdateEventType = %+v, %v", v, err)
	}
	long := 100 * day
	if v, _ := b.app.UpdateEventType(ctx, admin, "sampleReceived", app.EventTypeUpdate{RetentionSeconds: &long}); v.EffectiveRetentionSeconds != 10*day {
		t.Fatalf("a retention longer than the server's: %+v", v)
	}
	if v, _ := b.app.UpdateEventType(ctx, admin, "sampleReceived", app.EventTypeUpdate{}); v.RetentionSeconds != nil || find("sampleReceived").RetentionSeconds != nil {
		t.Fatalf("cleared: %+v", v)
	}
	log, _, err := b.store.Audit(ctx, labhooks.AuditFilter{Action: labhooks.AuditEventTypeUpdate, Ascending: true})
	if err != nil || len(log) != 3 || log[0].TargetID != "sampleReceived" ||
		string(log[0].Details) != `{"changes":{"retentionSeconds":{"old":null,"new":86400}}}` ||
		!strings.Contains(string(log[2].Details), `"old":8640000,"new":null`) {
		t.Fatalf("eventtype.update entries = %s / %s, %v", log[0].Details, log[2].Details, err)
	}
	zero := int64(0)
	_, err = b.app.UpdateEventType(ctx, admin, "sampleReceived", app.EventTypeUpdate{RetentionSeconds: &zero})
	wantCode(t, err, labhooks.EInvalid)
	_, err = b.app.UpdateEventType(ctx, admin, "noSuchType", app.EventTypeUpdate{RetentionSeconds: &one})
	wantCode(t, err, labhooks.ENotFound)
	lab := b.partner(t, "Lab", labhooks.RoleLab)
	_, err = b.app.UpdateEventType(ctx, lab, "sampleReceived", app.EventTypeUpdate{RetentionSeconds: &one})
	wantCode(t, err, labhooks.EForbidden)
}

// TestErasureConfirmedBeforeItsRecord: a receiver may get a
// dataDeletionRequest, and confirm it, before the emit that stored it has
// recorded its erasure (another process's engine starts at the commit);
// the confirmation records the erasure from the stored request and counts.
// On both stores.
func TestErasureConfirmedBeforeItsRecord(t *testing.T) {
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			b := setupOn(t, open(t))
			ctx := t.Context()
			a, c := b.partner(t, "A", labhooks.RoleProvider), b.partner(t, "C", labhooks.RoleProvider)
			srv := receiver(t, nil)
			b.link(t, a, srv.URL)
			b.link(t, c, srv.URL)
			// Stored as Emit stores it, but with no erasure recorded.
			et, ok := b.app.EventType(ctx, "dataDeletionRequest")
			if !ok {
				t.Fatal("no dataDeletionRequest in the catalog")
			}
			res, err := storetest.Emit(ctx, b.store, et, &labhooks.Event{
				Data: json.RawMessage(`{"userId":43,"userEmail":"bo@example.com","userPhoneNumber":"+39000000001"}`), CreatedAt: time.Now().UTC()})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.app.Erasure(ctx, admin, res.Event.ID); labhooks.ErrorCode(err) != labhooks.ENotFound {
				t.Fatalf("before: Erasure = %v, want not found", err)
			}
			// The receiver confirms with the webhook-id it got.
			var mine string
			for _, d := range res.Deliveries {
				if d.PartnerID == a.Partner.ID {
					mine = d.ID
				}
			}
			e, err := b.app.ConfirmErasure(ctx, a, mine)
			if err != nil || len(e.Targets) != 1 || e.Targets[0].State != labhooks.ErasureConfirmed {
				t.Fatalf("ConfirmErasure = %+v, %v", e, err)
			}
			all, err := b.app.Erasure(ctx, admin, res.Event.ID)
			if err != nil || len(all.Targets) != 2 {
				t.Fatalf("the erasure recorded by the confirmation: %+v, %v", all, err)
			}
			log, _, err := b.store.Audit(ctx, labhooks.AuditFilter{Action: labhooks.AuditErasureConfirm})
			if err != nil || len(log) != 1 {
				t.Fatalf("erasure.confirm entries: %+v, %v", log, err)
			}
			// Not a deletion request: still not found.
			other, err := b.app.Emit(ctx, admin, app.EmitInput{EventName: "patientUpdated", Data: json.RawMessage(`{"patientId":1,"userId":43}`)})
			if err != nil {
				t.Fatal(err)
			}
			_, err = b.app.ConfirmErasure(ctx, a, other.Event.ID)
			wantCode(t, err, labhooks.ENotFound)
		})
	}
}
