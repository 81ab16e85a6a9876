package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/delivery"
)

// auditLog reads the audit entries after seq, oldest first.
func auditLog(t *testing.T, b *bundle, after int64) []*labhooks.AuditEntry {
	t.Helper()
	var out []*labhooks.AuditEntry
	err := app.WalkAudit(t.Context(), b.store, func(e *labhooks.AuditEntry) error {
		if e.Seq > after {
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// details decodes an entry's details.
func details(t *testing.T, e *labhooks.AuditEntry) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.Details, &m); err != nil {
		t.Fatalf("entry %d: details %s: %v", e.Seq, e.Details, err)
	}
	return m
}

// change is the {old, new} of field in an entry's details.
func change(t *testing.T, e *labhooks.AuditEntry, field string) (old, new any) {
	t.Helper()
	ch, _ := details(t, e)["changes"].(map[string]any)
	c, ok := ch[field].(map[string]any)
	if !ok {
		t.Fatalf("entry %d (%s): no change of %s in %s", e.Seq, e.Action, field, e.Details)
	}
	return c["old"], c["new"]
}

// TestEveryChangeIsAuditedOnce: each operation that changes something
// leaves exactly one audit entry, with its actor, source, target and the
// fields it changed, and the chain verifies; operations refused leave none.
// On both stores.
func TestEveryChangeIsAuditedOnce(t *testing.T) {
	t.Parallel()
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testEveryChangeIsAuditedOnce(t, setupOn(t, open(t)))
		})
	}
}

func testEveryChangeIsAuditedOnce(t *testing.T, b *bundle) {
	ctx := t.Context()
	rcv := receiver(t, nil)
	op := &app.Caller{Admin: true, KeyPrefix: "lha_opera", Source: "198.51.100.7"}
	var seq int64
	// step runs fn and returns the one entry it must have left.
	step := func(what, action string, fn func() error) *labhooks.AuditEntry {
		t.Helper()
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		es := auditLog(t, b, seq)
		if len(es) != 1 {
			t.Fatalf("%s left %d audit entries, want 1: %+v", what, len(es), es)
		}
		e := es[0]
		seq = e.Seq
		if e.Action != action {
			t.Fatalf("%s: action %q, want %q", what, e.Action, action)
		}
		if strings.Contains(string(e.Details), "secret") && action != labhooks.AuditDataLinkRotate {
			t.Errorf("%s: details mention a secret: %s", what, e.Details)
		}
		return e
	}
	wantActor := func(e *labhooks.AuditEntry, typ, partnerID, prefix, source string) {
		t.Helper()
		if e.Actor.Type != typ || e.Actor.PartnerID != partnerID || e.Actor.KeyPrefix != prefix || e.Source != source {
			t.Errorf("%s: actor %+v from %q, want %s %q %q from %q", e.Action, e.Actor, e.Source, typ, partnerID, prefix, source)
		}
	}
	wantTarget := func(e *labhooks.AuditEntry, typ, id, partnerID string) {
		t.Helper()
		if e.TargetType != typ || e.TargetID != id || e.PartnerID != partnerID {
			t.Errorf("%s: target %s %s about %q, want %s %s about %q", e.Action, e.TargetType, e.TargetID, e.PartnerID, typ, id, partnerID)
		}
	}

	// Partners.
	var created *app.CreatedPartner
	e := step("CreatePartner", labhooks.AuditPartnerCreate, func() (err error) {
		created, err = b.app.CreatePartner(ctx, op, app.PartnerInput{Name: "Central Lab", Role: labhooks.RoleLab})
		return err
	})
	pid := created.ID
	wantActor(e, labhooks.ActorAdmin, "", "lha_opera", "198.51.100.7")
	wantTarget(e, "partner", pid, pid)
	if d := details(t, e); d["name"] != "Central Lab" || d["role"] != "lab" || d["keyPrefix"] != created.KeyPrefix {
		t.Errorf("partner.create details: %v", d)
	}
	lab, err := b.app.Authenticate(ctx, created.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	lab.Source = "203.0.113.5"
	if lab.KeyPrefix != labhooks.KeyPrefixOf(created.APIKey) || len(lab.KeyPrefix) != labhooks.KeyPrefixLength {
		t.Fatalf("caller key prefix %q", lab.KeyPrefix)
	}
	e = step("UpdatePartner", labhooks.AuditPartnerUpdate, func() error {
		_, err := b.app.UpdatePartner(ctx, lab, pid, labhooks.PartnerUpdate{Name: new("Central Lab Ltd")})
		return err
	})
	wantActor(e, labhooks.ActorPartner, pid, lab.KeyPrefix, "203.0.113.5")
	if old, nw := change(t, e, "name"); old != "Central Lab" || nw != "Central Lab Ltd" {
		t.Errorf("partner.update name: %v → %v", old, nw)
	}
	var rotated *app.CreatedPartner
	e = step("RotatePartnerKey", labhooks.AuditPartnerKeyRotate, func() (err error) {
		rotated, err = b.app.RotatePartnerKey(ctx, lab, pid, app.KeyRotationInput{OverlapSeconds: new(int64(60))})
		return err
	})
	if old, nw := change(t, e, "keyPrefix"); old != created.KeyPrefix || nw != rotated.KeyPrefix {
		t.Errorf("partner.key_rotate: %v → %v", old, nw)
	}
	if strings.Contains(string(e.Details), rotated.APIKey) || strings.Contains(string(e.Details), created.APIKey) {
		t.Error("partner.key_rotate details carry a whole key")
	}
	e = step("SuspendPartner", labhooks.AuditPartnerSuspend, func() error { _, err := b.app.SuspendPartner(ctx, op, pid); return err })
	wantTarget(e, "partner", pid, pid)
	if _, err := b.app.SuspendPartner(ctx, op, pid); err != nil {
		t.Fatal(err)
	}
	if es := auditLog(t, b, seq); len(es) != 0 {
		t.Errorf("suspending a suspended partner was audited: %+v", es)
	}
	step("ResumePartner", labhooks.AuditPartnerResume, func() error { _, err := b.app.ResumePartner(ctx, op, pid); return err })

	// Data links.
	var link *labhooks.DataLink
	e = step("CreateDataLink", labhooks.AuditDataLinkCreate, func() (err error) {
		link, err = b.app.CreateDataLink(ctx, lab, pid, app.DataLinkInput{URL: rcv.URL + "/a", Description: "main"})
		return err
	})
	wantTarget(e, "datalink", link.ID, pid)
	if d := details(t, e); d["url"] != rcv.URL+"/a" || d["description"] != "main" || d["enabled"] != true {
		t.Errorf("datalink.create details: %v", d)
	}
	if strings.Contains(string(e.Details), link.Secret) {
		t.Error("datalink.create details carry the secret")
	}
	off := false
	e = step("UpdateDataLink", labhooks.AuditDataLinkUpdate, func() error {
		_, err := b.app.UpdateDataLink(ctx, op, link.ID, labhooks.DataLinkUpdate{URL: new(rcv.URL + "/b"), Enabled: &off,
			EventNames: &[]string{"sampleReceived"}})
		return err
	})
	wantActor(e, labhooks.ActorAdmin, "", "lha_opera", "198.51.100.7")
	if old, nw := change(t, e, "url"); old != rcv.URL+"/a" || nw != rcv.URL+"/b" {
		t.Errorf("datalink.update url: %v → %v", old, nw)
	}
	if old, nw := change(t, e, "enabled"); old != true || nw != false {
		t.Errorf("datalink.update enabled: %v → %v", old, nw)
	}
	change(t, e, "eventNames")
	if ch := details(t, e)["changes"].(map[string]any); ch["description"] != nil {
		t.Errorf("datalink.update records an unchanged field: %v", ch)
	}
	step("UpdateDataLink (enable)", labhooks.AuditDataLinkUpdate, func() error {
		_, err := b.app.UpdateDataLink(ctx, lab, link.ID, labhooks.DataLinkUpdate{Enabled: new(true)})
		return err
	})
	e = step("RotateSecret", labhooks.AuditDataLinkRotate, func() error {
		_, err := b.app.RotateSecret(ctx, lab, link.ID, app.RotationInput{OverlapSeconds: new(int64(0))})
		return err
	})
	if d := details(t, e); d["overlapSeconds"] != float64(0) || len(d) != 1 {
		t.Errorf("datalink.secret_rotate details: %v", d)
	}
	e = step("TestDataLink", labhooks.AuditDataLinkTest, func() error {
		_, err := b.app.TestDataLink(ctx, lab, link.ID, "sampleReceived")
		return err
	})
	if d := details(t, e); d["eventName"] != "sampleReceived" || d["ok"] != true || d["statusCode"] != float64(200) {
		t.Errorf("datalink.test details: %v", d)
	}

	// Retries and replays, with their counts.
	res, err := b.app.Emit(ctx, admin, app.EmitInput{EventName: "sampleReceived", Data: sampleReceived})
	if err != nil {
		t.Fatal(err)
	}
	if es := auditLog(t, b, seq); len(es) != 0 {
		t.Errorf("an emit was audited: %+v", es)
	}
	dlv := res.Deliveries[0].ID
	e = step("RetryDelivery", labhooks.AuditDeliveryRetry, func() error { _, err := b.app.RetryDelivery(ctx, lab, dlv); return err })
	wantTarget(e, "delivery", dlv, pid)
	fail(t, b, dlv)
	since := time.Now().Add(-time.Hour)
	e = step("Replay", labhooks.AuditDataLinkReplay, func() error {
		n, err := b.app.Replay(ctx, lab, link.ID, app.ReplayInput{Since: &since})
		if err == nil && n != 1 {
			err = fmt.Errorf("replayed %d, want 1", n)
		}
		return err
	})
	if d := details(t, e); d["count"] != float64(1) || d["since"] == nil {
		t.Errorf("datalink.replay details: %v", d)
	}

	// Auto-disable, by the system, with its reason.
	fail(t, b, dlv)
	e = step("DisableFailing", labhooks.AuditDataLinkDisable, func() error {
		return b.app.DisableFailing(ctx, []delivery.FailingLink{{DataLinkID: link.ID, LastStatus: 503}})
	})
	wantActor(e, labhooks.ActorSystem, "", "", "")
	if d := details(t, e); !strings.Contains(fmt.Sprint(d["reason"]), "HTTP 503") {
		t.Errorf("datalink.disable details: %v", d)
	}

	// Event types.
	e = step("CreateEventType", labhooks.AuditEventTypeCreate, func() error {
		_, err := b.app.CreateEventType(ctx, op, &labhooks.EventType{Name: "sampleArchived", Description: "A sample was archived.",
			Roles: []labhooks.Role{labhooks.RoleLab}, Schema: json.RawMessage(`{"type":"object"}`),
			Example: json.RawMessage(`{"eventName":"sampleArchived","data":{}}`)})
		return err
	})
	wantTarget(e, "eventtype", "sampleArchived", "")

	// Sessions: sign-in, failed and not, and sign-out.
	e = step("SignIn", labhooks.AuditSignIn, func() error { _, err := b.app.SignIn(ctx, rotated.APIKey, "192.0.2.1"); return err })
	wantActor(e, labhooks.ActorPartner, pid, rotated.KeyPrefix, "192.0.2.1")
	wantTarget(e, "session", "", pid)
	e = step("SignIn (wrong key)", labhooks.AuditSignInFailed, func() error {
		_, err := b.app.SignIn(ctx, "lhp_not-a-key-at-all-0123456789", "192.0.2.2")
		if labhooks.ErrorCode(err) != labhooks.EUnauthorized {
			return fmt.Errorf("SignIn with a wrong key: %v", err)
		}
		return nil
	})
	wantActor(e, labhooks.ActorAnonymous, "", "lhp_not", "192.0.2.2") // a quarter of a mistyped key at most
	step("SignOut", labhooks.AuditSignOut, func() error {
		return b.app.SignOut(ctx, lab, "session-1", time.Now().Add(time.Hour))
	})

	// Deletions.
	step("DeleteDataLink", labhooks.AuditDataLinkDelete, func() error { return b.app.DeleteDataLink(ctx, lab, link.ID) })
	e = step("DeletePartner", labhooks.AuditPartnerDelete, func() error { return b.app.DeletePartner(ctx, op, pid) })
	if d := details(t, e); d["name"] != "Central Lab Ltd" {
		t.Errorf("partner.delete details: %v", d)
	}

	// Refused operations leave nothing.
	wantCode(t, b.app.DeletePartner(ctx, op, pid), labhooks.ENotFound)
	_, err = b.app.CreatePartner(ctx, op, app.PartnerInput{Name: "", Role: labhooks.RoleLab})
	wantCode(t, err, labhooks.EInvalid)
	if es := auditLog(t, b, seq); len(es) != 0 {
		t.Errorf("refused operations were audited: %+v", es)
	}

	if n, err := app.VerifyAudit(ctx, b.store); err != nil || n != seq {
		t.Errorf("VerifyAudit = %d, %v; want %d entries and no break", n, err, seq)
	}
}

// fail marks delivery id failed, as the engine would after its retries.
func fail(t *testing.T, b *bundle, id string) {
	t.Helper()
	now := time.Now().UTC()
	jobs, err := b.store.ClaimDeliveries(t.Context(), labhooks.ClaimParams{Owner: "test", Now: now, Lease: time.Minute, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if j.DeliveryID != id {
			continue
		}
		err := b.store.RecordAttempts(t.Context(), []labhooks.AttemptResult{{LeaseToken: j.LeaseToken, DataLinkID: j.DataLinkID,
			Status: labhooks.DeliveryFailed, Attempt: labhooks.Attempt{DeliveryID: id, StartedAt: now.Add(-6 * 24 * time.Hour), StatusCode: 503}}})
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("delivery %s was not claimable", id)
}

// TestSuspendedAndRotatedKeys: a suspended partner's key opens nothing
// until it is resumed; after a rotation the old key opens for the overlap
// only.
func TestSuspendedAndRotatedKeys(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	b := setup(t, func(c *app.Config) {
		c.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	ctx := t.Context()
	p, err := b.app.CreatePartner(ctx, admin, app.PartnerInput{Name: "Lab", Role: labhooks.RoleLab})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.app.SuspendPartner(ctx, admin, p.ID); err != nil {
		t.Fatal(err)
	}
	_, err = b.app.Authenticate(ctx, p.APIKey)
	wantCode(t, err, labhooks.EForbidden)
	_, err = b.app.SuspendPartner(ctx, &app.Caller{Partner: p.Partner}, p.ID)
	wantCode(t, err, labhooks.EForbidden)
	if _, err := b.app.ResumePartner(ctx, admin, p.ID); err != nil {
		t.Fatal(err)
	}
	c, err := b.app.Authenticate(ctx, p.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := b.app.RotatePartnerKey(ctx, c, p.ID, app.KeyRotationInput{OverlapSeconds: new(int64(3600))})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{p.APIKey, rotated.APIKey} {
		if _, err := b.app.Authenticate(ctx, key); err != nil {
			t.Errorf("during the overlap: %v", err)
		}
	}
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	_, err = b.app.Authenticate(ctx, p.APIKey)
	wantCode(t, err, labhooks.EUnauthorized)
	if _, err := b.app.Authenticate(ctx, rotated.APIKey); err != nil {
		t.Errorf("the new key after the overlap: %v", err)
	}
	again, err := b.app.RotatePartnerKey(ctx, admin, p.ID, app.KeyRotationInput{OverlapSeconds: new(int64(0))})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.app.Authenticate(ctx, rotated.APIKey)
	wantCode(t, err, labhooks.EUnauthorized)
	if _, err := b.app.Authenticate(ctx, again.APIKey); err != nil {
		t.Error(err)
	}
	for _, bad := range []int64{-1, 7*24*3600 + 1, 1 << 62} {
		_, err = b.app.RotatePartnerKey(ctx, admin, p.ID, app.KeyRotationInput{OverlapSeconds: &bad})
		wantCode(t, err, labhooks.EInvalid)
	}
}

// TestAuditPurgeKeepsTheChainVerifiable: purging old entries moves the
// chain's anchor, records the purge, and what is kept still verifies.
func TestAuditPurgeKeepsTheChainVerifiable(t *testing.T) {
	t.Parallel()
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
			var mu sync.Mutex
			b := setupOn(t, open(t), func(c *app.Config) {
				c.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			})
			ctx := t.Context()
			for i := range 5 {
				if _, err := b.app.CreatePartner(ctx, admin, app.PartnerInput{Name: fmt.Sprint("old ", i), Role: labhooks.RoleLab}); err != nil {
					t.Fatal(err)
				}
			}
			mu.Lock()
			now = now.Add(48 * time.Hour)
			mu.Unlock()
			if _, err := b.app.CreatePartner(ctx, admin, app.PartnerInput{Name: "new", Role: labhooks.RoleLab}); err != nil {
				t.Fatal(err)
			}
			n, err := b.app.PurgeAudit(ctx, 24*time.Hour)
			if err != nil || n != 5 {
				t.Fatalf("PurgeAudit = %d, %v; want 5", n, err)
			}
			head, err := b.store.AuditHead(ctx)
			if err != nil || head.AnchorSeq != 5 || head.Seq != 7 {
				t.Fatalf("head after the purge: %+v, %v", head, err)
			}
			es := auditLog(t, b, 0)
			if len(es) != 2 || es[0].Seq != 6 || es[1].Action != labhooks.AuditRetentionPurge || es[1].Actor.Type != labhooks.ActorSystem {
				t.Fatalf("kept after the purge: %+v", es)
			}
			if !bytes.Equal(es[0].PrevHash, head.AnchorHash) {
				t.Error("the first kept entry does not follow the anchor")
			}
			if n, err := app.VerifyAudit(ctx, b.store); err != nil || n != 2 {
				t.Errorf("VerifyAudit after the purge = %d, %v", n, err)
			}
			if n, err := b.app.PurgeAudit(ctx, 24*time.Hour); err != nil || n != 0 {
				t.Errorf("a second purge = %d, %v; want nothing to do", n, err)
			}
		})
	}
}

// TestAuditAppendsMakeOneChain: changes made at the same time, through
// several services on one store (as processes on one PostgreSQL database),
// extend one unbroken chain.
func TestAuditAppendsMakeOneChain(t *testing.T) {
	t.Parallel()
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setupOn(t, open(t))
			ctx := t.Context()
			var wg sync.WaitGroup
			const workers, each = 4, 15
			errs := make(chan error, workers*each)
			for w := range workers {
				svc := app.New(b.cfg) // another process's service
				wg.Go(func() {
					for i := range each {
						_, err := svc.CreatePartner(ctx, admin, app.PartnerInput{Name: fmt.Sprintf("w%d-%d", w, i), Role: labhooks.RoleLab})
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if n, err := app.VerifyAudit(ctx, b.store); err != nil || n != workers*each {
				t.Errorf("VerifyAudit = %d, %v; want %d entries", n, err, workers*each)
			}
		})
	}
}

// TestAuditListing: a partner sees only the entries about itself; filters
// narrow the listing; pages follow one another.
func TestAuditListing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	lab, other := b.partner(t, "Lab", labhooks.RoleLab), b.partner(t, "Other", labhooks.RoleLab)
	b.link(t, lab, "http://127.0.0.1:9/lab")
	b.link(t, other, "http://127.0.0.1:9/other")
	es, _, err := b.app.Audit(ctx, lab, labhooks.AuditFilter{})
	if err != nil || len(es) != 2 {
		t.Fatalf("the lab's entries: %d, %v; want its creation and its link's", len(es), err)
	}
	for _, e := range es {
		if e.PartnerID != lab.Partner.ID {
			t.Errorf("the lab sees an entry about %s", e.PartnerID)
		}
	}
	_, _, err = b.app.Audit(ctx, lab, labhooks.AuditFilter{PartnerID: &other.Partner.ID})
	wantCode(t, err, labhooks.ENotFound)
	all, _, err := b.app.Audit(ctx, admin, labhooks.AuditFilter{Action: labhooks.AuditDataLinkCreate})
	if err != nil || len(all) != 2 {
		t.Errorf("datalink.create entries: %d, %v", len(all), err)
	}
	page1, next, err := b.app.Audit(ctx, admin, labhooks.AuditFilter{Limit: 3})
	if err != nil || len(page1) != 3 || next == "" || page1[0].Seq != 4 {
		t.Fatalf("page 1: %d entries, next %q, %v", len(page1), next, err)
	}
	page2, next, err := b.app.Audit(ctx, admin, labhooks.AuditFilter{Limit: 3, Cursor: next})
	if err != nil || len(page2) != 1 || next != "" || page2[0].Seq != 1 {
		t.Fatalf("page 2: %+v, next %q, %v", page2, next, err)
	}
	_, _, err = b.app.Audit(ctx, admin, labhooks.AuditFilter{ActorType: "wizard"})
	wantCode(t, err, labhooks.EInvalid)
}

// TestAuditedTestSendNamesItsWebhookID: the test send's entry carries the
// webhook-id the receiver saw, so a receiver's log can be matched to it.
func TestAuditedTestSendNamesItsWebhookID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var mu sync.Mutex
	var seen string
	rcv := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = r.Header.Get("webhook-id")
		mu.Unlock()
		io.Copy(io.Discard, r.Body)
	})
	lab := b.partner(t, "Lab", labhooks.RoleLab)
	link := b.link(t, lab, rcv.URL)
	res, err := b.app.TestDataLink(context.Background(), lab, link.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	es, _, err := b.app.Audit(t.Context(), admin, labhooks.AuditFilter{Action: labhooks.AuditDataLinkTest})
	if err != nil || len(es) != 1 {
		t.Fatalf("test entries: %v, %v", es, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if d := details(t, es[0]); d["webhookId"] != res.WebhookID || seen != res.WebhookID {
		t.Errorf("webhook-id: entry %v, result %s, receiver saw %s", d["webhookId"], res.WebhookID, seen)
	}
}

// TestGoneIsAuditedBySystem: a link disabled at once for a 410 Gone is
// audited like one disabled for failing: by the system, with the reason.
func TestGoneIsAuditedBySystem(t *testing.T) {
	t.Parallel()
	b := setup(t)
	lab := b.partner(t, "Lab", labhooks.RoleLab)
	link := b.link(t, lab, "http://127.0.0.1:9/gone")
	if err := b.app.DisableFailing(t.Context(), []delivery.FailingLink{{DataLinkID: link.ID, LastStatus: 410, Gone: true}}); err != nil {
		t.Fatal(err)
	}
	es, _, err := b.app.Audit(t.Context(), admin, labhooks.AuditFilter{Action: labhooks.AuditDataLinkDisable})
	if err != nil || len(es) != 1 || es[0].Actor.Type != labhooks.ActorSystem || !strings.Contains(string(es[0].Details), "410 Gone") {
		t.Fatalf("datalink.disable entries for a 410: %+v, %v", es, err)
	}
}
