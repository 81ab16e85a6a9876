package sqlite_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
	"github.com/labhooks/labhooks/sqlite"
	"github.com/labhooks/labhooks/storetest"
)

// The hand-over's behaviour both stores share is in storetest (Fresh…);
// these are SQLite's own: its restart, its group commit, its records.

func openFresh(t *testing.T, path string, take bool) (*sqlite.Store, *storetest.Handed) {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	h := &storetest.Handed{Take: take}
	if !s.OfferFresh("engine", time.Minute, h.Offer) {
		t.Fatal("OfferFresh = false on SQLite")
	}
	return s, h
}

func emitResult(t *testing.T, s labhooks.Store, at time.Time) *labhooks.CreateEventResult {
	t.Helper()
	res, err := storetest.Emit(t.Context(), s, storetest.ResultAdded, &labhooks.Event{Data: []byte(`{"resultId":1}`), CreatedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func claimAt(t *testing.T, s labhooks.Queue, now time.Time) []*labhooks.Job {
	t.Helper()
	jobs, err := s.ClaimDeliveries(t.Context(), labhooks.ClaimParams{Owner: "claims", Now: now, Lease: time.Minute, Limit: 100, PerDataLink: 16})
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

// A process that dies with handed-over deliveries not recorded leaves them
// pending: reopened, the store has them claimable at once.
func TestHandOverLostInACrashIsPendingAfterReopening(t *testing.T) {
	path := filepath.Join(t.TempDir(), "labhooks.db")
	s, h := openFresh(t, path, true)
	storetest.NewLink(t, s, labhooks.RoleLab)
	res := emitResult(t, s, time.Now())
	if len(h.Got()) != 1 {
		t.Fatalf("handed over %d jobs, want 1", len(h.Got()))
	}
	s.Close() // no record: as if the process died with the attempt under way
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	jobs := claimAt(t, s, time.Now())
	if len(jobs) != 1 || jobs[0].DeliveryID != res.Deliveries[0].ID || jobs[0].Try != 1 {
		t.Fatalf("after reopening, claimed %+v; want the delivery handed over before the crash", jobs)
	}
}

// A group commit in which one event fails stores the others, and hands
// over theirs alone.
func TestGroupWithAFailingEventStoresTheOthers(t *testing.T) {
	s, h := openFresh(t, filepath.Join(t.TempDir(), "labhooks.db"), true)
	defer s.Close()
	link := storetest.NewLink(t, s, labhooks.RoleLab)
	first := emitResult(t, s, time.Now())
	now := time.Now()
	params := func(eventID string) labhooks.CreateEventParams {
		e := &labhooks.Event{ID: eventID, EventName: storetest.ResultAdded.Name, Data: []byte(`{"resultId":2}`), CreatedAt: now}
		to := []labhooks.AudienceLink{{ID: link.ID, PartnerID: link.PartnerID}}
		return labhooks.CreateEventParams{Event: e, Deliveries: e.Deliver(to, now, func() string { return id.New(id.Delivery) }), RequestHash: e.RequestHash()}
	}
	ok1, dup, ok2 := params(id.New(id.Event)), params(first.Event.ID), params(id.New(id.Event))
	errs := sqlite.CommitGroupForTest(s, []labhooks.CreateEventParams{ok1, dup, ok2})
	if errs[0] != nil || errs[1] == nil || errs[2] != nil {
		t.Fatalf("group errors = %v; want only the second (its event ID is taken) to fail", errs)
	}
	for _, p := range []labhooks.CreateEventParams{ok1, ok2} {
		if _, err := s.Delivery(t.Context(), p.Deliveries[0].ID); err != nil {
			t.Fatalf("an event of the group beside the failing one was not stored: %v", err)
		}
	}
	if _, err := s.Delivery(t.Context(), dup.Deliveries[0].ID); labhooks.ErrorCode(err) != labhooks.ENotFound {
		t.Fatalf("the failing event's delivery: %v; want ENotFound", err)
	}
	jobs := h.Got()
	if len(jobs) != 3 || jobs[1].DeliveryID != ok1.Deliveries[0].ID || jobs[2].DeliveryID != ok2.Deliveries[0].ID {
		t.Fatalf("handed over %+v; want the first emit's, then the group's two stored", jobs)
	}
}

// In a record batch each attempt gets the next number, also when the
// batch holds a delivery twice (a stale lease's result beside the current
// one's), text is stored as it came, and only the lease's holder moves its
// delivery on.
func TestRecordBatches(t *testing.T) {
	s, _ := openFresh(t, filepath.Join(t.TempDir(), "labhooks.db"), false)
	defer s.Close()
	storetest.NewLink(t, s, labhooks.RoleLab)
	now := time.Now()
	for range 3 {
		emitResult(t, s, now)
	}
	result := func(j *labhooks.Job, at time.Time, code int, status labhooks.DeliveryStatus, next *time.Time) labhooks.AttemptResult {
		return labhooks.AttemptResult{LeaseToken: j.LeaseToken, DataLinkID: j.DataLinkID, Status: status, NextAttemptAt: next,
			Attempt: labhooks.Attempt{DeliveryID: j.DeliveryID, StartedAt: at, StatusCode: code, DurationMs: 5, Error: "HTTP 500 ünd mehr", ResponseBody: "<b>nope</b> \"quoted\""}}
	}
	first := claimAt(t, s, now)
	if len(first) != 3 {
		t.Fatalf("claimed %d, want 3", len(first))
	}
	retry := now.Add(time.Second)
	var rs []labhooks.AttemptResult
	for _, j := range first {
		rs = append(rs, result(j, now, 500, labhooks.DeliveryPending, &retry))
	}
	if err := s.RecordAttempts(t.Context(), rs); err != nil {
		t.Fatal(err)
	}
	for _, j := range first {
		d, err := s.Delivery(t.Context(), j.DeliveryID)
		if err != nil || d.Status != labhooks.DeliveryPending || d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(retry.Truncate(time.Millisecond).UTC()) ||
			len(d.Attempts) != 1 || d.Attempts[0].Error != "HTTP 500 ünd mehr" || d.Attempts[0].ResponseBody != "<b>nope</b> \"quoted\"" || d.LastStatusCode != 500 {
			t.Fatalf("after a batched record, delivery = %+v (attempts %+v), %v", d, d.Attempts, err)
		}
	}
	second := claimAt(t, s, retry)
	if len(second) != 3 {
		t.Fatalf("claimed %d at the retry, want 3", len(second))
	}
	third := claimAt(t, s, retry.Add(2*time.Minute)) // second's leases ran out
	if len(third) != 3 {
		t.Fatalf("claimed %d after the leases ran out, want 3", len(third))
	}
	later := retry.Add(2 * time.Minute)
	rs = []labhooks.AttemptResult{
		result(second[0], retry, 500, labhooks.DeliveryFailed, nil), // stale: its lease was taken again
		result(third[0], later, 200, labhooks.DeliverySucceeded, nil),
		result(third[1], later, 200, labhooks.DeliverySucceeded, nil),
	}
	if err := s.RecordAttempts(t.Context(), rs); err != nil {
		t.Fatal(err)
	}
	d, err := s.Delivery(t.Context(), third[0].DeliveryID)
	if err != nil || d.Status != labhooks.DeliverySucceeded || len(d.Attempts) != 3 || d.AttemptCount != 3 {
		t.Fatalf("delivery with a stale and a current result = %+v, %v", d, err)
	}
	for i, a := range d.Attempts {
		if a.Number != i+1 {
			t.Fatalf("attempt numbers %+v", d.Attempts)
		}
	}
	if d, _ := s.Delivery(t.Context(), third[1].DeliveryID); d.Status != labhooks.DeliverySucceeded || len(d.Attempts) != 2 || d.Attempts[1].Number != 2 {
		t.Fatalf("delivery = %+v", d)
	}
	if d, _ := s.Delivery(t.Context(), third[2].DeliveryID); d.Status != labhooks.DeliveryPending {
		t.Fatalf("a delivery with no result moved on: %+v", d)
	}
}
