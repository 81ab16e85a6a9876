package storetest

import (
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
)

func testClaimAndLease(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	d := b.link(t, b.partner(t, labhooks.RoleSampler))
	r := b.emit(t, AppointmentCreated, toAll)
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

func testClaimFairness(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	busy := b.link(t, b.partner(t, labhooks.RoleSampler))
	for range 20 {
		b.emit(t, AppointmentCreated, toAll)
	}
	quiet := b.link(t, b.partner(t, labhooks.RoleSampler))
	b.emit(t, AppointmentCreated, labhooks.Target{PartnerID: quiet.PartnerID})
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

// testClaimPartnerShare: a claim keeps every partner, over all its data
// links, within PerPartner (counting PartnerInFlight), keeps a link within
// its lowered cap (DataLinkCaps), and skips excluded partners; each job
// names its partner.
func testClaimPartnerShare(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	hostile := b.partner(t, labhooks.RoleSampler)
	var hostileLinks []*labhooks.DataLink
	for range 5 {
		hostileLinks = append(hostileLinks, b.link(t, hostile))
	}
	for range 4 {
		b.emit(t, AppointmentCreated, labhooks.Target{PartnerID: hostile.ID}) // 4 deliveries on each of 5 links
	}
	other := b.link(t, b.partner(t, labhooks.RoleSampler))
	for range 3 {
		b.emit(t, AppointmentCreated, labhooks.Target{PartnerID: other.PartnerID})
	}
	claim := func(p labhooks.ClaimParams) map[string]int {
		t.Helper()
		p.Owner, p.Now, p.Lease = "t", b.now, time.Minute
		jobs, err := b.s.ClaimDeliveries(b.ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		per := map[string]int{}
		for _, j := range jobs {
			per[j.PartnerID]++
			per[j.DataLinkID]++
		}
		return per
	}
	// 20 due for the hostile partner, 3 for the other; the partner cap of 6,
	// with 2 in flight, lets 4 of the hostile partner's through.
	got := claim(labhooks.ClaimParams{Limit: 100, PerDataLink: 4, PerPartner: 6, PartnerInFlight: map[string]int{hostile.ID: 2}})
	if got[hostile.ID] != 4 || got[other.PartnerID] != 3 {
		t.Fatalf("claimed per partner %v; want 4 of the capped partner's and all 3 of the other's", got)
	}
	// An excluded partner gets nothing; a lowered link cap holds.
	b.emit(t, AppointmentCreated, labhooks.Target{PartnerID: other.PartnerID})
	b.emit(t, AppointmentCreated, labhooks.Target{PartnerID: other.PartnerID})
	got = claim(labhooks.ClaimParams{Limit: 100, PerDataLink: 4, ExcludePartners: []string{hostile.ID}, DataLinkCaps: map[string]int{other.ID: 1}})
	if got[hostile.ID] != 0 || got[other.ID] != 1 {
		t.Fatalf("claimed %v; want none of the excluded partner's and 1 of the link capped at 1", got)
	}
	// A lowered cap counts what is in flight: capped at 2 with 1 in flight,
	// one more.
	third := b.link(t, b.partner(t, labhooks.RoleSampler))
	for range 4 {
		b.emit(t, AppointmentCreated, labhooks.Target{PartnerID: third.PartnerID})
	}
	got = claim(labhooks.ClaimParams{Limit: 100, PerDataLink: 4, DataLinkCaps: map[string]int{third.ID: 2},
		InFlight: map[string]int{third.ID: 1}, ExcludePartners: []string{hostile.ID, other.PartnerID}})
	if len(got) != 2 || got[third.ID] != 1 {
		t.Fatalf("claimed %v; want 1 of the link capped at 2 with 1 in flight", got)
	}
	// The rest is claimed once nothing holds it back.
	got = claim(labhooks.ClaimParams{Limit: 100})
	if got[hostile.ID] != 16 || got[hostileLinks[0].ID]+got[hostileLinks[1].ID] == 0 {
		t.Fatalf("claimed %v; want the hostile partner's 16 left", got)
	}
}

func testRecordAttempts(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	b.link(t, b.partner(t, labhooks.RoleSampler))
	b.emit(t, AppointmentCreated, toAll)
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

func wantFailingSince(t *testing.T, b *bundle, link string, want *time.Time, when string) {
	t.Helper()
	if got := b.failingSince(t, link); !sameTime(got, want) {
		t.Fatalf("%s: FailingSince = %v, want %v", when, got, want)
	}
}

// testFailingSince follows a link's run of failures: the first failure
// starts it, later ones keep its start, a success ends it.
func testFailingSince(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	link := b.link(t, b.partner(t, labhooks.RoleSampler))
	other := b.link(t, b.partner(t, labhooks.RoleSampler))
	for range 6 {
		b.emit(t, AppointmentCreated, toAll)
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
	if up := b.update(t, other.ID, *at(7), labhooks.DataLinkUpdate{Enabled: new(true)}); !sameTime(up.FailingSince, at(5)) {
		t.Fatalf("enabling an enabled link = %+v; want its run kept", up)
	}
	b.update(t, other.ID, *at(7), labhooks.DataLinkUpdate{Enabled: new(false)})
	if up := b.update(t, other.ID, *at(8), labhooks.DataLinkUpdate{Enabled: new(true)}); up.FailingSince != nil {
		t.Fatalf("re-enabled link = %+v; want no run of failures", up)
	}
	wantFailingSince(t, b, other.ID, nil, "after re-enabling")
}

func testStaleLease(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	b.link(t, b.partner(t, labhooks.RoleSampler))
	b.emit(t, AppointmentCreated, toAll)
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

// testStaleLeaseOneBatch records a stale lease's attempt and the current
// one's in a single call, as one process does when it holds results across
// a database outage: both attempts count, numbered in order, and only the
// current lease moves the delivery on.
func testStaleLeaseOneBatch(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	b.link(t, b.partner(t, labhooks.RoleSampler))
	b.emit(t, AppointmentCreated, toAll)
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

// testClaimFailsUnusable checks that a claim fails, rather than returns, a
// delivery whose data link was disabled after the event was stored, or
// deleted before (as when another process deletes it between an emit's
// audience and its CreateEvent), each with its reason as the last error.
func testClaimFailsUnusable(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	disabled := b.link(t, b.partner(t, labhooks.RoleSampler))
	gone := b.link(t, b.partner(t, labhooks.RoleSampler))
	ok := b.link(t, b.partner(t, labhooks.RoleSampler))
	a, err := b.s.Audience(b.ctx, AppointmentCreated.AudienceQuery(toAll))
	if err != nil {
		t.Fatal(err)
	}
	b.update(t, disabled.ID, b.now, labhooks.DataLinkUpdate{Enabled: new(false)})
	if err := b.s.DeleteDataLink(b.ctx, gone.ID, b.now); err != nil {
		t.Fatal(err)
	}
	links, err := AppointmentCreated.Recipients(toAll, a) // the audience read before the changes
	if err != nil || len(links) != 3 {
		t.Fatalf("recipients = %v, %v", links, err)
	}
	e := &labhooks.Event{ID: id.New(id.Event), EventName: AppointmentCreated.Name, Data: []byte(`{}`), CreatedAt: b.now}
	r, err := b.s.CreateEvent(b.ctx, labhooks.CreateEventParams{Event: e, Deliveries: e.Deliver(links, b.now, func() string { return id.New(id.Delivery) })})
	if err != nil || len(r.Deliveries) != 3 {
		t.Fatalf("CreateEvent = %+v, %v", r, err)
	}
	jobs := b.claim(t, b.now, 10)
	if len(jobs) != 1 || jobs[0].DataLinkID != ok.ID {
		t.Fatalf("claimed %+v; want only the delivery to %s", jobs, ok.ID)
	}
	for _, d := range r.Deliveries {
		got, err := b.s.Delivery(b.ctx, d.ID)
		want := map[string]string{disabled.ID: "the data link is disabled", gone.ID: "the data link was deleted", ok.ID: ""}[d.DataLinkID]
		if err != nil || got.LastError != want || (want != "") != (got.Status == labhooks.DeliveryFailed) || (want != "" && got.NextAttemptAt != nil) {
			t.Fatalf("delivery to %s after the claim = %+v, %v; want last error %q", d.DataLinkID, got, err, want)
		}
	}
	if again := b.claim(t, b.now.Add(2*time.Minute), 10); len(again) != 1 || again[0].DataLinkID != ok.ID {
		t.Fatalf("after the lease, claimed %+v; want only the usable delivery again", again)
	}
}
