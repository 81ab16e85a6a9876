package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
)

// notice is a pending notification that subjectID entered state at since.
func notice(subjectID string, state labhooks.NoticeState, since, now time.Time) *labhooks.Notification {
	return &labhooks.Notification{ID: id.New(id.Notification), Key: labhooks.NoticeKey(labhooks.NoticeDataLink, subjectID, state, since),
		Subject: labhooks.NoticeDataLink, SubjectID: subjectID, PartnerID: "ptn_x", State: state, Since: since,
		Data: []byte(`{"dataLinkId":"` + subjectID + `"}`), Status: labhooks.NotificationPending, CreatedAt: now, NextAttemptAt: &now}
}

// testNotificationOnce: a decision sees the last notification about its
// subject, and a key is stored once.
func testNotificationOnce(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	var seen []*labhooks.Notification
	decide := func(n *labhooks.Notification) func(*labhooks.Notification) *labhooks.Notification {
		return func(last *labhooks.Notification) *labhooks.Notification {
			seen = append(seen, last)
			return n
		}
	}
	first := notice("dl_a", labhooks.NoticeFailing, b.now, b.now)
	if ok, err := b.s.DecideNotification(b.ctx, labhooks.NoticeDataLink, "dl_a", decide(first)); err != nil || !ok {
		t.Fatalf("DecideNotification = %v, %v; want stored", ok, err)
	}
	again := notice("dl_a", labhooks.NoticeFailing, b.now, b.now.Add(time.Second))
	if ok, err := b.s.DecideNotification(b.ctx, labhooks.NoticeDataLink, "dl_a", decide(again)); err != nil || ok {
		t.Fatalf("DecideNotification of a key stored already = %v, %v; want nothing stored", ok, err)
	}
	if ok, err := b.s.DecideNotification(b.ctx, labhooks.NoticeDataLink, "dl_a", decide(nil)); err != nil || ok {
		t.Fatalf("DecideNotification deciding nothing = %v, %v", ok, err)
	}
	if seen[0] != nil || seen[1] == nil || seen[1].ID != first.ID || seen[1].Key != first.Key || !seen[1].Since.Equal(b.now) {
		t.Fatalf("decide saw %+v, want nil then the first notification", seen)
	}
	disabled := notice("dl_a", labhooks.NoticeDisabled, b.now.Add(time.Hour), b.now.Add(time.Hour))
	if ok, err := b.s.DecideNotification(b.ctx, labhooks.NoticeDataLink, "dl_a", decide(disabled)); err != nil || !ok {
		t.Fatalf("DecideNotification = %v, %v", ok, err)
	}
	other := notice("dl_b", labhooks.NoticeFailing, b.now, b.now)
	if _, err := b.s.DecideNotification(b.ctx, labhooks.NoticeDataLink, "dl_b", decide(other)); err != nil {
		t.Fatal(err)
	}
	latest, err := b.s.LatestNotifications(b.ctx, labhooks.NoticeDataLink)
	if err != nil || len(latest) != 2 || latest["dl_a"].ID != disabled.ID || latest["dl_b"].ID != other.ID ||
		latest["dl_a"].State != labhooks.NoticeDisabled || string(latest["dl_a"].Data) != `{"dataLinkId":"dl_a"}` {
		t.Fatalf("LatestNotifications = %v, %v", latest, err)
	}
	if latest, err := b.s.LatestNotifications(b.ctx, labhooks.NoticeErasure); err != nil || len(latest) != 0 {
		t.Fatalf("LatestNotifications(erasure) = %v, %v", latest, err)
	}
}

// testNotificationConcurrent: many deciders of one change at once (as
// several processes on one database) store it once, and each sees what
// the others stored.
func testNotificationConcurrent(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored := 0
	for i := range 8 {
		wg.Go(func() {
			// Each decides only if nothing was decided yet, with a key of
			// its own: only the lock of the subject keeps two from both
			// deciding.
			ok, err := b.s.DecideNotification(b.ctx, labhooks.NoticeDataLink, "dl_c", func(last *labhooks.Notification) *labhooks.Notification {
				if last != nil {
					return nil
				}
				return notice("dl_c", labhooks.NoticeFailing, b.now.Add(time.Duration(i)*time.Second), b.now)
			})
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			if ok {
				stored++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if stored != 1 {
		t.Fatalf("%d deciders stored a notification, want 1", stored)
	}
	ns, err := b.s.ClaimNotifications(b.ctx, b.now, time.Minute, 100)
	if err != nil || len(ns) != 1 {
		t.Fatalf("ClaimNotifications = %d, %v; want 1", len(ns), err)
	}
}

// testNotificationClaim: a claimed notification is held for the lease,
// claimed again after it (a sender that crashed), and no more once sent.
func testNotificationClaim(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	later := b.now.Add(time.Hour)
	for _, n := range []*labhooks.Notification{notice("dl_1", labhooks.NoticeFailing, b.now, b.now), notice("dl_2", labhooks.NoticeFailing, b.now, later)} {
		n.NextAttemptAt = &n.CreatedAt
		if _, err := b.s.DecideNotification(b.ctx, n.Subject, n.SubjectID, func(*labhooks.Notification) *labhooks.Notification { return n }); err != nil {
			t.Fatal(err)
		}
	}
	ns, err := b.s.ClaimNotifications(b.ctx, b.now, time.Minute, 10)
	if err != nil || len(ns) != 1 || ns[0].SubjectID != "dl_1" || !ns[0].NextAttemptAt.Equal(b.now.Add(time.Minute)) {
		t.Fatalf("ClaimNotifications = %+v, %v; want dl_1, leased", ns, err)
	}
	if again, _ := b.s.ClaimNotifications(b.ctx, b.now.Add(30*time.Second), time.Minute, 10); len(again) != 0 {
		t.Fatalf("claimed during its lease: %+v", again)
	}
	again, err := b.s.ClaimNotifications(b.ctx, b.now.Add(2*time.Minute), time.Minute, 10)
	if err != nil || len(again) != 1 || again[0].ID != ns[0].ID {
		t.Fatalf("after the lease, ClaimNotifications = %+v, %v; want it again", again, err)
	}
	n := again[0]
	sent := b.now.Add(2 * time.Minute)
	n.Status, n.Attempts, n.EventID, n.EmailedAt, n.SentAt, n.NextAttemptAt, n.LastError = labhooks.NotificationSent, 2, "evt_1", &sent, &sent, nil, "earlier: refused"
	if err := b.s.RecordNotification(b.ctx, n); err != nil {
		t.Fatal(err)
	}
	all, err := b.s.ClaimNotifications(b.ctx, later.Add(time.Hour), time.Minute, 10)
	if err != nil || len(all) != 1 || all[0].SubjectID != "dl_2" {
		t.Fatalf("ClaimNotifications = %+v, %v; want only dl_2, dl_1 being sent", all, err)
	}
	latest, _ := b.s.LatestNotifications(b.ctx, labhooks.NoticeDataLink)
	if got := latest["dl_1"]; got.Status != labhooks.NotificationSent || got.Attempts != 2 || got.EventID != "evt_1" ||
		!got.SentAt.Equal(sent) || !got.EmailedAt.Equal(sent) || got.NextAttemptAt != nil || got.LastError != "earlier: refused" {
		t.Fatalf("stored %+v", got)
	}
	n.ID = "ntf_missing"
	wantCode(t, b.s.RecordNotification(b.ctx, n), labhooks.ENotFound)
}

// testNotificationPurge: the purge deletes old notifications that are done,
// and keeps the pending, the recent and the last about each subject, which
// the next decision reads.
func testNotificationPurge(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	old, recent := b.now.Add(-48*time.Hour), b.now.Add(-time.Hour)
	decide := func(n *labhooks.Notification) {
		t.Helper()
		if ok, err := b.s.DecideNotification(b.ctx, n.Subject, n.SubjectID, func(*labhooks.Notification) *labhooks.Notification { return n }); err != nil || !ok {
			t.Fatalf("DecideNotification = %v, %v", ok, err)
		}
	}
	done := func(n *labhooks.Notification, status labhooks.NotificationStatus) {
		t.Helper()
		n.Status, n.NextAttemptAt, n.SentAt = status, nil, &n.CreatedAt
		if err := b.s.RecordNotification(b.ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	// dl_a: failing (sent), disabled (failed to send), recovered (sent):
	// the first two go, the last stays.
	aFailing := notice("dl_a", labhooks.NoticeFailing, old, old)
	aDisabled := notice("dl_a", labhooks.NoticeDisabled, old.Add(time.Minute), old.Add(time.Minute))
	aRecovered := notice("dl_a", labhooks.NoticeRecovered, old.Add(2*time.Minute), old.Add(2*time.Minute))
	for _, n := range []*labhooks.Notification{aFailing, aDisabled, aRecovered} {
		decide(n)
	}
	done(aFailing, labhooks.NotificationSent)
	done(aDisabled, labhooks.NotificationFailed)
	done(aRecovered, labhooks.NotificationSent)
	// dl_b: an old one still pending, then a newer one: the pending stays.
	bFailing := notice("dl_b", labhooks.NoticeFailing, old, old)
	bDisabled := notice("dl_b", labhooks.NoticeDisabled, old.Add(time.Minute), old.Add(time.Minute))
	decide(bFailing)
	decide(bDisabled)
	done(bDisabled, labhooks.NotificationSent)
	// dl_c: sent, but recent, then another: the recent one stays.
	cFailing := notice("dl_c", labhooks.NoticeFailing, recent, recent)
	cDisabled := notice("dl_c", labhooks.NoticeDisabled, recent.Add(time.Minute), recent.Add(time.Minute))
	decide(cFailing)
	decide(cDisabled)
	done(cFailing, labhooks.NotificationSent)
	done(cDisabled, labhooks.NotificationSent)

	before := b.now.Add(-24 * time.Hour)
	n, err := b.s.PurgeNotifications(b.ctx, before, 1)
	if err != nil || n != 1 {
		t.Fatalf("PurgeNotifications(limit 1) = %d, %v; want 1", n, err)
	}
	if n, err = b.s.PurgeNotifications(b.ctx, before, 100); err != nil || n != 1 {
		t.Fatalf("PurgeNotifications = %d, %v; want the one left of dl_a's two", n, err)
	}
	if n, err = b.s.PurgeNotifications(b.ctx, before, 100); err != nil || n != 0 {
		t.Fatalf("PurgeNotifications again = %d, %v; want 0", n, err)
	}
	latest, err := b.s.LatestNotifications(b.ctx, labhooks.NoticeDataLink)
	if err != nil || latest["dl_a"] == nil || latest["dl_a"].ID != aRecovered.ID || latest["dl_b"].ID != bDisabled.ID || latest["dl_c"].ID != cDisabled.ID {
		t.Fatalf("LatestNotifications after the purge = %v, %v; want every subject's last kept", latest, err)
	}
	// The pending old one is still there to be sent.
	pending, err := b.s.ClaimNotifications(b.ctx, b.now, time.Minute, 10)
	if err != nil || len(pending) != 1 || pending[0].ID != bFailing.ID {
		t.Fatalf("ClaimNotifications after the purge = %+v, %v; want dl_b's pending one", pending, err)
	}
	// Only dl_a's first two went: dl_c's recent one is kept, and cannot be
	// claimed being sent.
	if ok, err := b.s.DecideNotification(b.ctx, labhooks.NoticeDataLink, "dl_c", func(last *labhooks.Notification) *labhooks.Notification {
		if last.ID != cDisabled.ID {
			t.Errorf("decision about dl_c saw %s, want its last %s", last.ID, cDisabled.ID)
		}
		return nil
	}); err != nil || ok {
		t.Fatalf("DecideNotification = %v, %v", ok, err)
	}
}
