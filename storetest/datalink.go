package storetest

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
)

func testDataLinks(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	p, q := b.partner(t, labhooks.RoleSampler), b.partner(t, labhooks.RoleLab)
	d := b.link(t, p, "appointmentCreated")
	b.link(t, q)
	got, err := b.s.DataLink(b.ctx, d.ID)
	if err != nil || got.URL != d.URL || got.Secret != d.Secret || !got.Enabled || len(got.EventNames) != 1 || got.EventNames[0] != "appointmentCreated" ||
		!got.CreatedAt.Equal(b.now) || got.FailingSince != nil || got.PreviousSecretExpiresAt != nil {
		t.Fatalf("DataLink = %+v, %v", got, err)
	}
	list, err := b.s.DataLinks(b.ctx, labhooks.DataLinkFilter{PartnerID: &p.ID})
	if err != nil || len(list) != 1 || list[0].ID != d.ID {
		t.Fatalf("DataLinks(partner) = %v, %v", list, err)
	}
	if all, _ := b.s.DataLinks(b.ctx, labhooks.DataLinkFilter{}); len(all) != 2 || all[0].ID != d.ID {
		t.Fatalf("DataLinks() = %v, want 2 links, oldest first", all)
	}
	if none, err := b.s.DataLinks(b.ctx, labhooks.DataLinkFilter{PartnerID: new("ptn_missing")}); err != nil || none == nil || len(none) != 0 {
		t.Fatalf("DataLinks(missing partner) = %#v, %v; want an empty list", none, err)
	}
	err = b.s.CreateDataLink(b.ctx, &labhooks.DataLink{ID: id.New(id.DataLink), PartnerID: "ptn_missing", URL: "https://x.test", Secret: "s"})
	wantCode(t, err, labhooks.ENotFound)
	err = b.s.CreateDataLink(b.ctx, &labhooks.DataLink{ID: d.ID, PartnerID: q.ID, URL: "https://x.test", Secret: "s"})
	wantCode(t, err, labhooks.EConflict)

	up := b.update(t, d.ID, b.now.Add(time.Minute), labhooks.DataLinkUpdate{URL: new("https://other.test/hook"), Enabled: new(false), EventNames: &[]string{}})
	if up.URL != "https://other.test/hook" || up.Enabled || len(up.EventNames) != 0 || up.Secret != d.Secret {
		t.Fatalf("UpdateDataLink = %+v", up)
	}
	if got, _ := b.s.DataLink(b.ctx, d.ID); got.URL != up.URL || got.Enabled || len(got.EventNames) != 0 || !got.UpdatedAt.Equal(b.now.Add(time.Minute)) {
		t.Fatalf("stored %+v, want %+v", got, up)
	}
	_, err = b.s.UpdateDataLink(b.ctx, "dl_missing", func(*labhooks.DataLink) error {
		t.Error("UpdateDataLink called back for a missing link")
		return nil
	})
	wantCode(t, err, labhooks.ENotFound)
	if err := b.s.DeleteDataLink(b.ctx, d.ID, b.now); err != nil {
		t.Fatal(err)
	}
	_, err = b.s.DataLink(b.ctx, d.ID)
	wantCode(t, err, labhooks.ENotFound)
	wantCode(t, b.s.DeleteDataLink(b.ctx, d.ID, b.now), labhooks.ENotFound)
	// Deleting a partner takes its links with it.
	if err := b.s.DeletePartner(b.ctx, q.ID, b.now); err != nil {
		t.Fatal(err)
	}
	if all, _ := b.s.DataLinks(b.ctx, labhooks.DataLinkFilter{}); len(all) != 0 {
		t.Fatalf("links outlived their partner: %v", all)
	}
}

func testDataLinkFilterIDs(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	p, q := b.partner(t, labhooks.RoleSampler), b.partner(t, labhooks.RoleLab)
	p1, p2, q1 := b.link(t, p), b.link(t, p), b.link(t, q)
	ids := func(f labhooks.DataLinkFilter) []string {
		t.Helper()
		ds, err := b.s.DataLinks(b.ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, d := range ds {
			out = append(out, d.ID)
		}
		return out
	}
	for _, tt := range []struct {
		name string
		f    labhooks.DataLinkFilter
		want []string
	}{
		{"some", labhooks.DataLinkFilter{IDs: []string{q1.ID, p1.ID, "dl_missing"}}, []string{p1.ID, q1.ID}},
		{"none", labhooks.DataLinkFilter{IDs: []string{}}, []string{}},
		{"and a partner", labhooks.DataLinkFilter{IDs: []string{p2.ID, q1.ID}, PartnerID: &q.ID}, []string{q1.ID}},
		{"not filtering", labhooks.DataLinkFilter{}, []string{p1.ID, p2.ID, q1.ID}},
	} {
		if got := ids(tt.f); !slices.Equal(got, tt.want) {
			t.Errorf("DataLinks(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// testUpdateDataLink stores what the callback leaves of every field but the
// ID, the partner and the creation time.
func testUpdateDataLink(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	d := b.link(t, b.partner(t, labhooks.RoleSampler), "appointmentCreated")
	other := b.partner(t, labhooks.RoleLab)
	at := func(m int) *time.Time { v := b.now.Add(time.Duration(m) * time.Minute); return &v }
	up, err := b.s.UpdateDataLink(b.ctx, d.ID, func(l *labhooks.DataLink) error {
		if l.ID != d.ID || l.Secret != d.Secret || l.URL != d.URL || !l.Enabled {
			t.Errorf("UpdateDataLink's callback got %+v, want the stored %+v", l, d)
		}
		l.URL, l.Description, l.Secret = "https://new.test/hook", "a description", "new-secret"
		l.PreviousSecret, l.PreviousSecretExpiresAt = "old-secret", at(60)
		l.EventNames, l.Enabled, l.DisabledReason = []string{"a", "b"}, false, "paused by admin"
		l.FailingSince, l.UpdatedAt = at(-5), *at(1)
		l.ID, l.PartnerID, l.CreatedAt = "dl_other", other.ID, *at(2) // not stored
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.s.DataLink(b.ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []*labhooks.DataLink{up, got} {
		if l.ID != d.ID || l.PartnerID != d.PartnerID || !l.CreatedAt.Equal(b.now) || l.URL != "https://new.test/hook" || l.Description != "a description" ||
			l.Secret != "new-secret" || l.PreviousSecret != "old-secret" || !sameTime(l.PreviousSecretExpiresAt, at(60)) ||
			!slices.Equal(l.EventNames, []string{"a", "b"}) || l.Enabled || l.DisabledReason != "paused by admin" ||
			!sameTime(l.FailingSince, at(-5)) || !l.UpdatedAt.Equal(*at(1)) {
			t.Fatalf("after UpdateDataLink: %+v", l)
		}
	}
	if _, err := b.s.DataLink(b.ctx, "dl_other"); labhooks.ErrorCode(err) != labhooks.ENotFound {
		t.Fatalf("UpdateDataLink moved the link to the ID its callback set: %v", err)
	}
	// Enabling again is the domain's fresh start: the store keeps what the
	// callback cleared.
	up = b.update(t, d.ID, *at(3), labhooks.DataLinkUpdate{Enabled: new(true)})
	if got, _ := b.s.DataLink(b.ctx, d.ID); !got.Enabled || got.DisabledReason != "" || got.FailingSince != nil || !up.Enabled {
		t.Fatalf("re-enabled link = %+v", got)
	}
}

// testUpdateDataLinkRefused checks that an error from the callback stores
// nothing and is returned.
func testUpdateDataLinkRefused(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	d := b.link(t, b.partner(t, labhooks.RoleSampler))
	err := d.Rotate(d.Secret, b.now, time.Hour)
	wantCode(t, err, labhooks.EInvalid)
	_, err = b.s.UpdateDataLink(b.ctx, d.ID, func(l *labhooks.DataLink) error {
		l.URL, l.Enabled = "https://changed.test", false
		return l.Rotate(l.Secret, b.now, time.Hour) // the same secret: refused
	})
	wantCode(t, err, labhooks.EInvalid)
	if got, _ := b.s.DataLink(b.ctx, d.ID); got.URL != d.URL || !got.Enabled || got.Secret != d.Secret || got.PreviousSecret != "" {
		t.Fatalf("a refused update stored %+v", got)
	}
}

func testRotateSecret(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	d := b.link(t, b.partner(t, labhooks.RoleLab))
	next := labhooks.GenerateSecret()
	got, err := b.s.UpdateDataLink(b.ctx, d.ID, func(l *labhooks.DataLink) error { return l.Rotate(next, b.now, time.Hour) })
	if err != nil || got.Secret != next || got.PreviousSecret != d.Secret || !got.UpdatedAt.Equal(b.now) {
		t.Fatalf("rotation = %+v, %v", got, err)
	}
	if s := got.Secrets(b.now.Add(59 * time.Minute)); len(s) != 2 || s[0] != next || s[1] != d.Secret {
		t.Fatalf("during overlap Secrets = %v", s)
	}
	stored, _ := b.s.DataLink(b.ctx, d.ID)
	if s := stored.Secrets(b.now.Add(59 * time.Minute)); len(s) != 2 || s[0] != next || s[1] != d.Secret {
		t.Fatalf("stored, during overlap Secrets = %v", s)
	}
	if s := stored.Secrets(b.now.Add(61 * time.Minute)); len(s) != 1 || s[0] != next {
		t.Fatalf("after overlap Secrets = %v", s)
	}
	// Without overlap, the old secret stops at once.
	last := labhooks.GenerateSecret()
	got, err = b.s.UpdateDataLink(b.ctx, d.ID, func(l *labhooks.DataLink) error { return l.Rotate(last, b.now, 0) })
	if err != nil || got.Secret != last || got.PreviousSecret != "" || got.PreviousSecretExpiresAt != nil {
		t.Fatalf("rotation without overlap = %+v, %v", got, err)
	}
}

func testRewriteSecrets(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	plain := b.link(t, b.partner(t, labhooks.RoleSampler))
	rotated := b.link(t, b.partner(t, labhooks.RoleLab))
	old := rotated.Secret
	rotated, err := b.s.UpdateDataLink(b.ctx, rotated.ID, func(l *labhooks.DataLink) error { return l.Rotate(labhooks.GenerateSecret(), b.now, time.Hour) })
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
	b.emit(t, AppointmentCreated, toAll)
	jobs := b.claim(t, b.now, 10)
	if len(jobs) != 1 || len(jobs[0].Secrets) != 1 || jobs[0].Secrets[0] != plain.ID+"|"+plain.Secret {
		t.Fatalf("claimed %+v after the rewrite", jobs)
	}
	if n, err := b.s.RewriteSecrets(b.ctx, func(_, secret string) (string, error) { return secret, nil }); err != nil || n != 0 {
		t.Fatalf("RewriteSecrets leaving secrets as they are = %d, %v; want 0", n, err)
	}
}

// testDisableFailingDataLink disables, as the application does, a link that
// has only failed since a bound: it reads the links it saw fail, and
// disables each one still failing within UpdateDataLink. What the store
// keeps of it: the reason, the run of failures, and no more claims.
func testDisableFailingDataLink(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	old := b.link(t, b.partner(t, labhooks.RoleSampler))
	recent := b.link(t, b.partner(t, labhooks.RoleSampler))
	healthy := b.link(t, b.partner(t, labhooks.RoleSampler))
	b.emit(t, AppointmentCreated, toAll)
	jobs := b.claim(t, b.now, 10)
	if len(jobs) != 3 {
		t.Fatalf("claimed %d, want 3", len(jobs))
	}
	day := 24 * time.Hour
	sixDaysAgo, retry := b.now.Add(-6*day), b.now.Add(time.Hour)
	for _, j := range jobs {
		switch j.DataLinkID {
		case old.ID:
			b.record(t, j, sixDaysAgo, 500, labhooks.DeliveryPending, &retry)
		case recent.ID:
			b.record(t, j, b.now.Add(-day), 500, labhooks.DeliveryPending, &retry)
		case healthy.ID:
			b.record(t, j, sixDaysAgo, 200, labhooks.DeliverySucceeded, nil)
		}
	}
	seen, err := b.s.DataLinks(b.ctx, labhooks.DataLinkFilter{IDs: []string{old.ID, recent.ID, healthy.ID}})
	if err != nil || len(seen) != 3 {
		t.Fatalf("DataLinks(IDs) = %v, %v", seen, err)
	}
	bound := b.now.Add(-5 * day)
	notFailing := errors.New("not failing")
	var disabled []*labhooks.DataLink
	for _, d := range seen {
		if !d.FailedFor(bound) {
			continue
		}
		up, err := b.s.UpdateDataLink(b.ctx, d.ID, func(l *labhooks.DataLink) error {
			if !l.DisableForFailing(b.now, bound, 500, "") {
				return notFailing
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		disabled = append(disabled, up)
	}
	wantReason := labhooks.FailingReason(b.now, sixDaysAgo, 500, "")
	if len(disabled) != 1 || disabled[0].ID != old.ID {
		t.Fatalf("disabled %+v; want only %s", disabled, old.ID)
	}
	got, _ := b.s.DataLink(b.ctx, old.ID)
	for _, d := range []*labhooks.DataLink{disabled[0], got} {
		if d.Enabled || d.DisabledReason != wantReason || !sameTime(d.FailingSince, &sixDaysAgo) || !d.UpdatedAt.Equal(b.now) {
			t.Fatalf("disabled link = %+v; want reason %q", d, wantReason)
		}
	}
	for _, l := range []*labhooks.DataLink{recent, healthy} {
		if d, _ := b.s.DataLink(b.ctx, l.ID); !d.Enabled || d.DisabledReason != "" {
			t.Fatalf("link %s was disabled: %+v", l.ID, d)
		}
	}

	// The disabled link's pending delivery is failed, not claimed.
	for _, j := range b.claim(t, retry, 10) {
		if j.DataLinkID == old.ID {
			t.Fatalf("claimed a delivery of a disabled link: %+v", j)
		}
	}
	failed := labhooks.DeliveryFailed
	ds, _, _ := b.s.Deliveries(b.ctx, labhooks.DeliveryFilter{DataLinkID: &old.ID, Status: &failed})
	if len(ds) != 1 || !strings.Contains(ds[0].LastError, "disabled") {
		t.Fatalf("deliveries of the disabled link: %+v; want 1 failed", ds)
	}

	// Enabled again, the link starts afresh and what failed meanwhile can
	// be sent again.
	d := b.update(t, old.ID, b.now.Add(time.Hour), labhooks.DataLinkUpdate{Enabled: new(true)})
	if !d.Enabled || d.DisabledReason != "" || d.FailingSince != nil {
		t.Fatalf("re-enabled link = %+v", d)
	}
	n, err := b.s.Requeue(b.ctx, labhooks.RequeueParams{DataLinkID: old.ID, Since: sixDaysAgo, Now: b.now.Add(time.Hour)})
	if err != nil || n != 1 {
		t.Fatalf("Requeue = %d, %v; want 1", n, err)
	}
	if jobs := b.claim(t, b.now.Add(time.Hour), 10); len(jobs) != 1 || jobs[0].DataLinkID != old.ID || jobs[0].Try != 1 {
		t.Fatalf("after re-enabling and replaying, claimed %+v", jobs)
	}
}

// testDataLinkCap: a partner has at most labhooks.MaxDataLinksPerPartner
// data links, however many creates race for the last places, and another
// partner's links do not count against it.
func testDataLinkCap(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	p, q := b.partner(t, labhooks.RoleSampler), b.partner(t, labhooks.RoleSampler)
	b.link(t, q)
	const already = labhooks.MaxDataLinksPerPartner - 10
	for range already {
		b.link(t, p)
	}
	const racers = 32
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Go(func() {
			errs[i] = b.s.CreateDataLink(b.ctx, &labhooks.DataLink{ID: id.New(id.DataLink), PartnerID: p.ID, URL: "https://example.test/hook",
				Secret: labhooks.GenerateSecret(), EventNames: []string{}, Enabled: true, CreatedAt: b.now, UpdatedAt: b.now})
		})
	}
	wg.Wait()
	created := 0
	for _, err := range errs {
		switch labhooks.ErrorCode(err) {
		case "":
			created++
		case labhooks.EConflict:
		default:
			t.Errorf("a racing CreateDataLink failed: %v", err)
		}
	}
	if created != labhooks.MaxDataLinksPerPartner-already {
		t.Errorf("%d of %d racing creates succeeded with %d places left", created, racers, labhooks.MaxDataLinksPerPartner-already)
	}
	links, err := b.s.DataLinks(b.ctx, labhooks.DataLinkFilter{PartnerID: &p.ID})
	if err != nil || len(links) != labhooks.MaxDataLinksPerPartner {
		t.Fatalf("the partner has %d data links (%v), want the cap, %d", len(links), err, labhooks.MaxDataLinksPerPartner)
	}
	err = b.s.CreateDataLink(b.ctx, &labhooks.DataLink{ID: id.New(id.DataLink), PartnerID: p.ID, URL: "https://x.test", Secret: "s", CreatedAt: b.now, UpdatedAt: b.now})
	wantCode(t, err, labhooks.EConflict)
	if e := labhooks.ErrorMessage(err); !strings.Contains(e, "at most") {
		t.Errorf("message %q does not say what the cap is", e)
	}
	b.link(t, q) // the other partner is not held back
	if err := b.s.DeleteDataLink(b.ctx, links[0].ID, b.now); err != nil {
		t.Fatal(err)
	}
	b.link(t, p) // a place freed is a place
}
