package app_test

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/catalog"
	"github.com/labhooks/labhooks/delivery"
	"github.com/labhooks/labhooks/internal/smtptest"
	"github.com/labhooks/labhooks/notify"
	"github.com/labhooks/labhooks/sqlite"
)

// notifyClock is a clock tests move by hand.
type notifyClock struct{ ns atomic.Int64 }

func (c *notifyClock) now() time.Time         { return time.Unix(0, c.ns.Load()) }
func (c *notifyClock) set(t time.Time)        { c.ns.Store(t.UnixNano()) }
func (c *notifyClock) add(d time.Duration)    { c.ns.Add(int64(d)) }
func (c *notifyClock) config(cfg *app.Config) { cfg.Now = c.now }
func mailerFor(t *testing.T, srv *smtptest.Server) app.Mailer {
	t.Helper()
	m, err := notify.New(notify.Config{URL: "smtp://labhooks:secret@" + srv.Addr, From: "labhooks@example.com",
		TLS: &tls.Config{RootCAs: srv.RootCAs()}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// operationalEvents returns the names of the events delivered (queued) to
// data link linkID, oldest first.
func operationalEvents(t *testing.T, b *bundle, linkID string) []string {
	t.Helper()
	ds, _, err := b.store.Deliveries(t.Context(), labhooks.DeliveryFilter{DataLinkID: &linkID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i := len(ds) - 1; i >= 0; i-- {
		names = append(names, ds[i].EventName)
	}
	return names
}

// TestNotifications follows a data link through failing, disabled and
// recovered on both stores: each change is decided once however many
// processes scan, and sent once, as an email to the partner's contacts
// and the operator and as an operational event to the operator's links.
func TestNotifications(t *testing.T) {
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := smtptest.Start(t, smtptest.Options{User: "labhooks", Password: "secret"})
			clock := &notifyClock{}
			clock.set(time.Now())
			withNotify := func(cfg *app.Config) {
				clock.config(cfg)
				cfg.Mailer, cfg.NotifyOperator, cfg.PublicURL = mailerFor(t, srv), "ops@example.com", "https://labhooks.example.com/"
			}
			store := open(t)
			b := setupOn(t, store, withNotify)
			// A second process on the same database.
			other := app.New(func() app.Config { c := testConfig(t, store); withNotify(&c); return c }())
			ctx := t.Context()

			op := b.partner(t, "Operator", labhooks.RoleOperator)
			opLink := b.link(t, op, "http://127.0.0.1:9/ops")
			lab, err := b.app.CreatePartner(ctx, admin, app.PartnerInput{Name: "Central Lab", Role: labhooks.RoleLab,
				Contacts: []string{"it@lab.example", "oncall@lab.example"}})
			if err != nil {
				t.Fatal(err)
			}
			d := b.link(t, &app.Caller{Partner: lab.Partner}, "http://127.0.0.1:9/lab")

			scan := func(want int) {
				t.Helper()
				var wg sync.WaitGroup
				var total atomic.Int64
				for _, s := range []*app.Service{b.app, other, b.app, other} {
					wg.Go(func() {
						n, err := s.ScanNotifications(ctx)
						if err != nil {
							t.Error(err)
						}
						total.Add(int64(n))
					})
				}
				wg.Wait()
				if total.Load() != int64(want) {
					t.Fatalf("four scans at once decided %d notifications, want %d", total.Load(), want)
				}
			}
			send := func(want int) {
				t.Helper()
				var wg sync.WaitGroup
				var total atomic.Int64
				for _, s := range []*app.Service{b.app, other} {
					wg.Go(func() {
						n, err := s.SendNotifications(ctx)
						if err != nil {
							t.Error(err)
						}
						total.Add(int64(n))
					})
				}
				wg.Wait()
				if total.Load() != int64(want) {
					t.Fatalf("sent %d notifications, want %d", total.Load(), want)
				}
			}

			// Failing for less than an hour: nothing yet.
			b.fail(t, d, clock.now().Add(-30*time.Minute))
			scan(0)
			clock.add(31 * time.Minute)
			scan(1)
			scan(0) // no storm
			send(1)
			send(0)
			mails := srv.Wait(1, 5*time.Second)
			if len(mails) != 1 {
				t.Fatalf("%d emails, want 1", len(mails))
			}
			m := mails[0]
			if strings.Join(m.To, ",") != "it@lab.example,oncall@lab.example,ops@example.com" ||
				!strings.Contains(m.Subject, "Central Lab") || !strings.Contains(m.Subject, "failing since") ||
				!strings.Contains(m.Body, "HTTP 500") || !strings.Contains(m.Body, "https://labhooks.example.com/datalinks/"+d.ID) ||
				!strings.Contains(m.Body, d.URL) {
				t.Fatalf("the failing email: to %v, %q\n%s", m.To, m.Subject, m.Body)
			}
			if got := operationalEvents(t, b, opLink.ID); strings.Join(got, ",") != "dataLinkFailing" {
				t.Fatalf("the operator's link got %v", got)
			}

			// Disabled by an admin: one more of each.
			if _, err := b.app.UpdateDataLink(ctx, admin, d.ID, labhooks.DataLinkUpdate{Enabled: new(false)}); err != nil {
				t.Fatal(err)
			}
			clock.add(time.Second)
			scan(1)
			scan(0)
			send(1)
			if mails := srv.Wait(2, 5*time.Second); len(mails) != 2 || !strings.Contains(mails[1].Subject, "disabled") ||
				!strings.Contains(mails[1].Body, "by hand") {
				t.Fatalf("emails %+v", mails)
			}

			// Enabled again: it recovers.
			if _, err := b.app.UpdateDataLink(ctx, admin, d.ID, labhooks.DataLinkUpdate{Enabled: new(true)}); err != nil {
				t.Fatal(err)
			}
			clock.add(time.Second)
			scan(1)
			scan(0)
			send(1)
			if mails := srv.Wait(3, 5*time.Second); len(mails) != 3 || !strings.Contains(mails[2].Subject, "works again") {
				t.Fatalf("emails %+v", mails)
			}
			if got := operationalEvents(t, b, opLink.ID); strings.Join(got, ",") != "dataLinkFailing,dataLinkDisabled,dataLinkRecovered" {
				t.Fatalf("the operator's link got %v", got)
			}
			var data map[string]any
			ev := lastEvent(t, b, opLink.ID)
			json.Unmarshal(ev.Data, &data)
			if data["dataLinkId"] != d.ID || data["partnerId"] != lab.ID || data["previousState"] != "disabled" ||
				data["labhooksUrl"] != "https://labhooks.example.com/datalinks/"+d.ID {
				t.Fatalf("dataLinkRecovered data %s", ev.Data)
			}
			if len(srv.Messages()) != 3 {
				t.Fatalf("%d emails in all, want 3", len(srv.Messages()))
			}
		})
	}
}

func lastEvent(t *testing.T, b *bundle, linkID string) *labhooks.Event {
	t.Helper()
	ds, _, err := b.store.Deliveries(t.Context(), labhooks.DeliveryFilter{DataLinkID: &linkID, Limit: 1})
	if err != nil || len(ds) == 0 {
		t.Fatal(ds, err)
	}
	e, err := b.store.Event(t.Context(), ds[0].EventID)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestNotificationSurvivesFailures: a notification whose email the server
// refuses, or whose sender stopped after claiming it, is sent later, once;
// its operational event is emitted once.
func TestNotificationSurvivesFailures(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{User: "labhooks", Password: "secret"})
	clock := &notifyClock{}
	clock.set(time.Now())
	b := setup(t, func(cfg *app.Config) {
		clock.config(cfg)
		cfg.Mailer, cfg.NotifyOperator = mailerFor(t, srv), "ops@example.com"
	})
	ctx := t.Context()
	op := b.partner(t, "Operator", labhooks.RoleOperator)
	opLink := b.link(t, op, "http://127.0.0.1:9/ops")
	lab := b.partner(t, "Lab", labhooks.RoleLab)
	d := b.link(t, lab, "http://127.0.0.1:9/lab")
	b.fail(t, d, clock.now().Add(-2*time.Hour))
	if n, err := b.app.ScanNotifications(ctx); err != nil || n != 1 {
		t.Fatalf("ScanNotifications = %d, %v", n, err)
	}

	srv.Refuse(true)
	if n, err := b.app.SendNotifications(ctx); err != nil || n != 0 {
		t.Fatalf("SendNotifications with the server refusing = %d, %v", n, err)
	}
	latest, _ := b.store.LatestNotifications(ctx, labhooks.NoticeDataLink)
	n := latest[d.ID]
	if n.Status != labhooks.NotificationPending || n.Attempts != 1 || n.EventID == "" || n.EmailedAt != nil ||
		!strings.Contains(n.LastError, "451") || !n.NextAttemptAt.After(clock.now()) {
		t.Fatalf("after a refusal: %+v", n)
	}
	srv.Refuse(false)
	if n, _ := b.app.SendNotifications(ctx); n != 0 {
		t.Fatal("sent before its next attempt")
	}
	// A sender claims it and dies before sending.
	if claimed, err := b.store.ClaimNotifications(ctx, clock.now().Add(time.Hour), labhooks.NotificationLease, 10); err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v, %v", claimed, err)
	}
	clock.add(time.Hour + time.Second)
	if n, _ := b.app.SendNotifications(ctx); n != 0 {
		t.Fatal("sent during another sender's lease")
	}
	clock.add(labhooks.NotificationLease)
	if n, err := b.app.SendNotifications(ctx); err != nil || n != 1 {
		t.Fatalf("SendNotifications = %d, %v", n, err)
	}
	if got := srv.Wait(1, 5*time.Second); len(got) != 1 {
		t.Fatalf("%d emails", len(got))
	}
	if got := operationalEvents(t, b, opLink.ID); len(got) != 1 {
		t.Fatalf("the operator's link got %v, want one dataLinkFailing", got)
	}
	latest, _ = b.store.LatestNotifications(ctx, labhooks.NoticeDataLink)
	if n := latest[d.ID]; n.Status != labhooks.NotificationSent || n.Attempts != 2 || n.LastError != "" {
		t.Fatalf("sent: %+v", n)
	}
}

// TestOperatorRole: operational events are labhooks' own, and the
// operator role receives nothing else.
func TestOperatorRole(t *testing.T) {
	b := setup(t)
	ctx := t.Context()
	op := b.partner(t, "Operator", labhooks.RoleOperator)
	_, err := b.app.Emit(ctx, admin, app.EmitInput{EventName: "dataLinkFailing", Role: labhooks.RoleOperator,
		Data: json.RawMessage(`{"dataLinkId":"dl_1","partnerId":"ptn_1","failingSince":"2026-01-01T00:00:00Z"}`)})
	wantCode(t, err, labhooks.EForbidden)
	_, err = b.app.Emit(ctx, admin, app.EmitInput{EventName: "sampleReceived", Data: sampleReceived, PartnerID: op.Partner.ID})
	wantCode(t, err, labhooks.ERoleNotAllowed)
	_, err = b.app.Emit(ctx, admin, app.EmitInput{EventName: "dataDeletionRequest", Data: json.RawMessage(`{"userId":7}`), Role: labhooks.RoleOperator})
	wantCode(t, err, labhooks.ERoleNotAllowed)
	_, err = b.app.CreateDataLink(ctx, op, op.Partner.ID, app.DataLinkInput{URL: "http://127.0.0.1:9/", EventNames: []string{"sampleReceived"}})
	wantCode(t, err, labhooks.ERoleNotAllowed)
	lab := b.partner(t, "Lab", labhooks.RoleLab)
	_, err = b.app.CreateDataLink(ctx, lab, lab.Partner.ID, app.DataLinkInput{URL: "http://127.0.0.1:9/", EventNames: []string{"dataLinkFailing"}})
	wantCode(t, err, labhooks.ERoleNotAllowed)
}

// TestPartnerContacts: contacts are checked, cleaned, stored and audited.
func TestPartnerContacts(t *testing.T) {
	b := setup(t)
	ctx := t.Context()
	for _, bad := range [][]string{{"not an address"}, {"Lab IT <it@lab.example>"}, {"it@lab.example, x@lab.example"}, {""}, {"it@localhost"}} {
		_, err := b.app.CreatePartner(ctx, admin, app.PartnerInput{Name: "Lab", Role: labhooks.RoleLab, Contacts: bad})
		wantCode(t, err, labhooks.EInvalid)
	}
	if ps, _ := b.app.Partners(ctx, admin); len(ps) != 0 {
		t.Fatalf("refused creates stored %v", ps)
	}
	p, err := b.app.CreatePartner(ctx, admin, app.PartnerInput{Name: "Lab", Role: labhooks.RoleLab, Contacts: []string{" it@lab.example ", "IT@lab.example"}})
	if err != nil || strings.Join(p.Contacts, ",") != "it@lab.example" {
		t.Fatalf("CreatePartner = %+v, %v", p, err)
	}
	self := &app.Caller{Partner: p.Partner}
	up, err := b.app.UpdatePartner(ctx, self, p.ID, labhooks.PartnerUpdate{Contacts: &[]string{"oncall@lab.example", "it@lab.example"}})
	if err != nil || strings.Join(up.Contacts, ",") != "oncall@lab.example,it@lab.example" {
		t.Fatalf("UpdatePartner = %+v, %v", up, err)
	}
	es, _, err := b.app.Audit(ctx, admin, labhooks.AuditFilter{Action: labhooks.AuditPartnerUpdate})
	if err != nil || len(es) != 1 || !strings.Contains(string(es[0].Details), `"contacts"`) || !strings.Contains(string(es[0].Details), "oncall@lab.example") {
		t.Fatalf("audit %v, %v", es, err)
	}
	_, err = b.app.UpdatePartner(ctx, self, p.ID, labhooks.PartnerUpdate{Contacts: &[]string{"nope"}})
	wantCode(t, err, labhooks.EInvalid)
	if got, _ := b.app.Partner(ctx, admin, p.ID); strings.Join(got.Contacts, ",") != "oncall@lab.example,it@lab.example" {
		t.Fatalf("a refused update changed the contacts to %v", got.Contacts)
	}
}

// BenchmarkScanNotifications measures one scan of 1,000 data links (20
// partners of 50) with nothing to announce, on SQLite: what every process
// does every --notify-interval.
func BenchmarkScanNotifications(b *testing.B) {
	store, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "labhooks.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	cat, err := catalog.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	svc := app.New(app.Config{Store: store, Catalog: cat, AllowHTTPTargets: true,
		Sender: delivery.NewSender(delivery.SenderConfig{AllowPrivateTargets: true}), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for p := range 20 {
		created, err := svc.CreatePartner(b.Context(), admin, app.PartnerInput{Name: fmt.Sprintf("Lab %d", p), Role: labhooks.RoleLab})
		if err != nil {
			b.Fatal(err)
		}
		for l := range labhooks.MaxDataLinksPerPartner {
			if _, err := svc.CreateDataLink(b.Context(), admin, created.ID, app.DataLinkInput{URL: fmt.Sprintf("http://127.0.0.1:9/%d", l)}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if n, err := svc.ScanNotifications(b.Context()); err != nil || n != 0 {
			b.Fatal(n, err)
		}
	}
}
