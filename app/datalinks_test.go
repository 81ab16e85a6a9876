package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
)

// TestPartnersSeeOnlyTheirOwn: another partner's partner, links and
// deliveries are missing, not forbidden, whatever the operation.
func TestPartnersSeeOnlyTheirOwn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	lab, other := b.partner(t, "Lab", labhooks.RoleLab), b.partner(t, "Other", labhooks.RoleLab)
	theirs := b.link(t, other, "http://127.0.0.1:9/theirs")
	res, err := b.app.Emit(ctx, admin, app.EmitInput{EventName: "sampleReceived", Data: sampleReceived})
	if err != nil {
		t.Fatal(err)
	}
	dlv := res.Deliveries[0].ID
	on := true
	for name, op := range map[string]func() error{
		"Partner": func() error { _, err := b.app.Partner(ctx, lab, other.Partner.ID); return err },
		"UpdatePartner": func() error {
			_, err := b.app.UpdatePartner(ctx, lab, other.Partner.ID, labhooks.PartnerUpdate{})
			return err
		},
		"DataLinks": func() error { _, err := b.app.DataLinks(ctx, lab, other.Partner.ID); return err },
		"CreateDataLink": func() error {
			_, err := b.app.CreateDataLink(ctx, lab, other.Partner.ID, app.DataLinkInput{URL: "http://127.0.0.1:9/x"})
			return err
		},
		"DataLink": func() error { _, err := b.app.DataLink(ctx, lab, theirs.ID); return err },
		"UpdateDataLink": func() error {
			_, err := b.app.UpdateDataLink(ctx, lab, theirs.ID, labhooks.DataLinkUpdate{Enabled: &on})
			return err
		},
		"RotateSecret": func() error { _, err := b.app.RotateSecret(ctx, lab, theirs.ID, app.RotationInput{}); return err },
		"Replay": func() error {
			_, err := b.app.Replay(ctx, lab, theirs.ID, app.ReplayInput{Since: &time.Time{}})
			return err
		},
		"TestDataLink":   func() error { _, err := b.app.TestDataLink(ctx, lab, theirs.ID, ""); return err },
		"DeleteDataLink": func() error { return b.app.DeleteDataLink(ctx, lab, theirs.ID) },
		"Delivery":       func() error { _, err := b.app.Delivery(ctx, lab, dlv); return err },
		"RetryDelivery":  func() error { _, err := b.app.RetryDelivery(ctx, lab, dlv); return err },
		"Deliveries": func() error {
			_, _, err := b.app.Deliveries(ctx, lab, labhooks.DeliveryFilter{PartnerID: &other.Partner.ID})
			return err
		},
	} {
		if err := op(); labhooks.ErrorCode(err) != labhooks.ENotFound {
			t.Errorf("%s of another partner's: %v, want not found", name, err)
		}
	}
	for name, op := range map[string]func() error{
		"CreatePartner": func() error {
			_, err := b.app.CreatePartner(ctx, lab, app.PartnerInput{Name: "x", Role: labhooks.RoleLab})
			return err
		},
		"DeletePartner": func() error { return b.app.DeletePartner(ctx, lab, lab.Partner.ID) },
		"Event":         func() error { _, err := b.app.Event(ctx, lab, res.Event.ID); return err },
		"Health":        func() error { _, err := b.app.Health(ctx, lab, time.Hour); return err },
		"own role": func() error {
			role := labhooks.RoleSampler
			_, err := b.app.UpdatePartner(ctx, lab, lab.Partner.ID, labhooks.PartnerUpdate{Role: &role})
			return err
		},
	} {
		if err := op(); labhooks.ErrorCode(err) != labhooks.EForbidden {
			t.Errorf("%s by a partner: %v, want forbidden", name, err)
		}
	}
	ds, _, err := b.app.Deliveries(ctx, lab, labhooks.DeliveryFilter{})
	if err != nil || len(ds) != 0 {
		t.Fatalf("a partner without links lists %v, %v", ds, err)
	}
	if d, _ := b.store.DataLink(ctx, theirs.ID); !d.Enabled || d.Secret != theirs.Secret {
		t.Fatalf("another partner's link changed: %+v", d)
	}
}

func TestCreateDataLink(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	lab := b.partner(t, "Lab", labhooks.RoleLab)
	d, err := b.app.CreateDataLink(ctx, lab, lab.Partner.ID, app.DataLinkInput{URL: "http://127.0.0.1:9/hook", Description: "main"})
	if err != nil || !strings.HasPrefix(d.Secret, "whsec_") || !d.Enabled || d.EventNames == nil {
		t.Fatalf("a link with a generated secret: %+v, %v", d, err)
	}
	for _, tt := range []struct {
		in    app.DataLinkInput
		code  string
		field string
	}{
		{app.DataLinkInput{URL: "ftp://x"}, labhooks.EInvalid, "url"},
		{app.DataLinkInput{URL: "http://127.0.0.1:9/hook", Secret: "mysecretkey"}, labhooks.EWeakSecret, "secret"},
		{app.DataLinkInput{URL: "http://127.0.0.1:9/hook", EventNames: []string{"nope"}}, labhooks.EInvalid, "eventNames"},
		{app.DataLinkInput{URL: "http://127.0.0.1:9/hook", EventNames: []string{"appointmentCreated"}}, labhooks.ERoleNotAllowed, "eventNames"},
		{app.DataLinkInput{URL: "http://127.0.0.1:9/hook", Description: strings.Repeat("d", labhooks.MaxDescription+1)}, labhooks.EInvalid, "description"},
	} {
		_, err := b.app.CreateDataLink(ctx, lab, lab.Partner.ID, tt.in)
		if e, ok := err.(*labhooks.Error); !ok || e.Code != tt.code || e.Field != tt.field {
			t.Errorf("CreateDataLink(%+v) = %v, want %s on %s", tt.in, err, tt.code, tt.field)
		}
	}
	// Plain http only in development.
	strict := setup(t, func(c *app.Config) { c.AllowHTTPTargets = false })
	p := strict.partner(t, "Lab", labhooks.RoleLab)
	_, err = strict.app.CreateDataLink(ctx, p, p.Partner.ID, app.DataLinkInput{URL: "http://lab.example/hook"})
	wantCode(t, err, labhooks.EInvalid)

	for i := 1; i < labhooks.MaxDataLinksPerPartner; i++ {
		b.link(t, lab, fmt.Sprintf("http://127.0.0.1:9/hook/%d", i))
	}
	_, err = b.app.CreateDataLink(ctx, lab, lab.Partner.ID, app.DataLinkInput{URL: "http://127.0.0.1:9/one-too-many"})
	wantCode(t, err, labhooks.EConflict)
}

func TestRotateSecret(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	lab := b.partner(t, "Lab", labhooks.RoleLab)
	d := b.link(t, lab, "http://127.0.0.1:9/hook")
	_, err := b.app.RotateSecret(ctx, lab, d.ID, app.RotationInput{Secret: d.Secret})
	wantCode(t, err, labhooks.EInvalid)
	week := int64(8 * 24 * 3600)
	_, err = b.app.RotateSecret(ctx, lab, d.ID, app.RotationInput{OverlapSeconds: &week})
	wantCode(t, err, labhooks.EInvalid)

	rotated, err := b.app.RotateSecret(ctx, lab, d.ID, app.RotationInput{})
	if err != nil || rotated.Secret == d.Secret || rotated.PreviousSecret != d.Secret || rotated.PreviousSecretExpiresAt == nil {
		t.Fatalf("rotated: %+v, %v", rotated, err)
	}
	if left := time.Until(*rotated.PreviousSecretExpiresAt); left < 23*time.Hour || left > labhooks.DefaultRotationOverlap {
		t.Fatalf("the old secret signs for %v more, want the default overlap", left)
	}
	stored, _ := b.store.DataLink(ctx, d.ID)
	if got := stored.Secrets(time.Now()); len(got) != 2 || got[0] != rotated.Secret || got[1] != d.Secret {
		t.Fatalf("stored secrets sign as %v", got)
	}
	zero := int64(0)
	again, err := b.app.RotateSecret(ctx, lab, d.ID, app.RotationInput{OverlapSeconds: &zero})
	if err != nil || again.PreviousSecret != "" || len(again.Secrets(time.Now())) != 1 {
		t.Fatalf("a rotation without overlap: %+v, %v", again, err)
	}
}

// TestReplayAndRetryStartAFreshSchedule: a replayed or retried delivery is
// due now and its next attempt is the first of a new schedule.
func TestReplayAndRetryStartAFreshSchedule(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	lab := b.partner(t, "Lab", labhooks.RoleLab)
	d := b.link(t, lab, "http://127.0.0.1:9/hook")
	res, err := b.app.Emit(ctx, admin, app.EmitInput{EventName: "sampleReceived", Data: sampleReceived})
	if err != nil {
		t.Fatal(err)
	}
	dlv := res.Deliveries[0].ID
	// Two failed attempts, then failed for good.
	for try, status := range []labhooks.DeliveryStatus{labhooks.DeliveryPending, labhooks.DeliveryFailed} {
		jobs, err := b.store.ClaimDeliveries(ctx, labhooks.ClaimParams{Owner: "t", Now: time.Now().Add(time.Hour), Lease: time.Minute, Limit: 5})
		if err != nil || len(jobs) != 1 || jobs[0].Try != try+1 {
			t.Fatalf("claim %d: %+v, %v", try+1, jobs, err)
		}
		now := time.Now()
		if err := b.store.RecordAttempts(ctx, []labhooks.AttemptResult{{LeaseToken: jobs[0].LeaseToken, DataLinkID: d.ID, Status: status, NextAttemptAt: &now,
			Attempt: labhooks.Attempt{DeliveryID: dlv, StartedAt: now, StatusCode: 500}}}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = b.app.Replay(ctx, lab, d.ID, app.ReplayInput{})
	wantCode(t, err, labhooks.EInvalid)
	since, until := time.Now().Add(-time.Hour), time.Now().Add(-2*time.Hour)
	_, err = b.app.Replay(ctx, lab, d.ID, app.ReplayInput{Since: &since, Until: &until})
	wantCode(t, err, labhooks.EInvalid)

	wakes := b.wakes.Load()
	n, err := b.app.Replay(ctx, lab, d.ID, app.ReplayInput{Since: &since})
	if err != nil || n != 1 || b.wakes.Load() != wakes+1 {
		t.Fatalf("Replay = %d, %v (%d wakes)", n, err, b.wakes.Load()-wakes)
	}
	jobs, err := b.store.ClaimDeliveries(ctx, labhooks.ClaimParams{Owner: "t", Now: time.Now(), Lease: time.Minute, Limit: 5})
	if err != nil || len(jobs) != 1 || jobs[0].Try != 1 {
		t.Fatalf("after a replay the delivery is claimed as %+v, %v; want try 1", jobs, err)
	}

	// A retry by hand works in any status, here pending and leased.
	got, err := b.app.RetryDelivery(ctx, lab, dlv)
	if err != nil || got.Status != labhooks.DeliveryPending || got.AttemptCount != 2 {
		t.Fatalf("RetryDelivery = %+v, %v", got, err)
	}
	jobs, err = b.store.ClaimDeliveries(ctx, labhooks.ClaimParams{Owner: "t", Now: time.Now(), Lease: time.Minute, Limit: 5})
	if err != nil || len(jobs) != 1 || jobs[0].Try != 1 {
		t.Fatalf("after a retry the delivery is claimed as %+v, %v; want try 1", jobs, err)
	}

	off := false
	if _, err := b.app.UpdateDataLink(ctx, lab, d.ID, labhooks.DataLinkUpdate{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	_, err = b.app.Replay(ctx, lab, d.ID, app.ReplayInput{Since: &since})
	wantCode(t, err, labhooks.EConflict)
	_, err = b.app.RetryDelivery(ctx, lab, dlv)
	wantCode(t, err, labhooks.EConflict)
	if err := b.app.DeleteDataLink(ctx, lab, d.ID); err != nil {
		t.Fatal(err)
	}
	_, err = b.app.RetryDelivery(ctx, lab, dlv)
	if e, ok := err.(*labhooks.Error); !ok || e.Code != labhooks.EConflict || !strings.Contains(e.Message, "deleted") {
		t.Fatalf("retrying a delivery whose link was deleted: %v", err)
	}
}

// TestTestDataLink sends the example to a real receiver and says what went
// wrong in plain words.
func TestTestDataLink(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	lab := b.partner(t, "Lab", labhooks.RoleLab)
	headers := make(chan http.Header, 10)
	srv := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		headers <- r.Header.Clone()
		w.WriteHeader(http.StatusUnauthorized)
	})
	d := b.link(t, lab, srv.URL+"/hook", "sampleReceived")
	res, err := b.app.TestDataLink(ctx, lab, d.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || res.StatusCode != 401 || res.EventName != "sampleReceived" || !strings.Contains(res.Diagnosis, "x-api-key") {
		t.Fatalf("test result: %+v", res)
	}
	if got := <-headers; got.Get("x-api-key") != d.Secret || got.Get("webhook-id") != res.WebhookID {
		t.Fatalf("the receiver got %v", got)
	}
	// A test is no delivery, and its webhook-id says so.
	if !strings.HasPrefix(res.WebhookID, "test_") {
		t.Fatalf("a test's webhook-id is %q, want test_…", res.WebhookID)
	}
	_, err = b.app.Delivery(ctx, lab, res.WebhookID)
	wantCode(t, err, labhooks.ENotFound)
	_, err = b.app.TestDataLink(ctx, lab, d.ID, "appointmentCreated")
	wantCode(t, err, labhooks.ERoleNotAllowed)
	_, err = b.app.TestDataLink(ctx, lab, d.ID, "nope")
	wantCode(t, err, labhooks.EInvalid)
	// Preview types may be tested.
	if res, err := b.app.TestDataLink(ctx, lab, d.ID, "covidPositiveAlert"); err != nil || res.EventName != "covidPositiveAlert" {
		t.Fatalf("testing a preview type: %+v, %v", res, err)
	}
}

func TestPartners(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	_, err := b.app.CreatePartner(ctx, admin, app.PartnerInput{Name: "  ", Role: labhooks.RoleLab})
	wantCode(t, err, labhooks.EInvalid)
	_, err = b.app.CreatePartner(ctx, admin, app.PartnerInput{Name: "Lab", Role: "wizard"})
	wantCode(t, err, labhooks.EInvalid)
	p, err := b.app.CreatePartner(ctx, admin, app.PartnerInput{Name: "  Central Lab ", Role: labhooks.RoleLab})
	if err != nil || p.Name != "Central Lab" || !strings.HasPrefix(p.APIKey, labhooks.PartnerKeyPrefix) {
		t.Fatalf("CreatePartner = %+v, %v", p, err)
	}
	c, err := b.app.Authenticate(ctx, p.APIKey)
	if err != nil || c.Admin || c.Partner.ID != p.ID {
		t.Fatalf("Authenticate(partner key) = %+v, %v", c, err)
	}
	if c, err := b.app.Authenticate(ctx, adminKey); err != nil || !c.Admin {
		t.Fatalf("Authenticate(admin key) = %+v, %v", c, err)
	}
	_, err = b.app.Authenticate(ctx, "lhp_nope")
	wantCode(t, err, labhooks.EUnauthorized)

	name := "Central Lab Ltd"
	up, err := b.app.UpdatePartner(ctx, c, p.ID, labhooks.PartnerUpdate{Name: &name})
	if err != nil || up.Name != name || !up.UpdatedAt.After(p.UpdatedAt.Add(-time.Millisecond)) {
		t.Fatalf("UpdatePartner = %+v, %v", up, err)
	}
	empty := ""
	_, err = b.app.UpdatePartner(ctx, admin, p.ID, labhooks.PartnerUpdate{Name: &empty})
	wantCode(t, err, labhooks.EInvalid)
	if got, _ := b.store.Partner(ctx, p.ID); got.Name != name {
		t.Fatalf("a refused update changed the partner: %+v", got)
	}
	if err := b.app.DeletePartner(ctx, admin, p.ID); err != nil {
		t.Fatal(err)
	}
	_, err = b.app.Authenticate(ctx, p.APIKey)
	wantCode(t, err, labhooks.EUnauthorized)
}
