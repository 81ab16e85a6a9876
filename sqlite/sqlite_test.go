package sqlite_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/sqlite"
	"github.com/labhooks/labhooks/storetest"
)

// newStore opens a store on a new file for one test or benchmark.
func newStore(t testing.TB) (labhooks.Store, error) {
	return sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "labhooks.db"))
}

func TestConformance(t *testing.T) { storetest.Run(t, newStore) }

func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "labhooks.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlite.SetSchemaVersionForTest(s, sqlite.SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := sqlite.Open(t.Context(), path); err == nil {
		t.Fatal("opened a database newer than the binary")
	}
}

func TestOneProcessOwnsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "labhooks.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Open(t.Context(), path); err == nil || !strings.Contains(err.Error(), "in use by another labhooks process") {
		t.Fatalf("a second Open of an open database: %v", err)
	}
	s.Close()
	s, err = sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopening after Close: %v", err)
	}
	s.Close()
}

func TestOpenReleasesAbandonedLeases(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "labhooks.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	storetest.NewLink(t, s, labhooks.RoleLab)
	if _, err := storetest.Emit(ctx, s, storetest.ResultAdded, &labhooks.Event{Data: []byte(`{}`), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	claim := func(s *sqlite.Store) []*labhooks.Job {
		jobs, err := s.ClaimDeliveries(ctx, labhooks.ClaimParams{Owner: "t", Now: time.Now(), Lease: time.Hour, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return jobs
	}
	if n := len(claim(s)); n != 1 {
		t.Fatalf("claimed %d", n)
	}
	s.Close() // as if the process died with the delivery in flight
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := len(claim(s)); n != 1 {
		t.Fatalf("after reopening, claimed %d; the abandoned lease should be released at once", n)
	}
}

// The due links are an index in memory; a delivery made pending without it
// knowing is still claimed once the index is rebuilt from the database.
func TestDueLinksRebuildFindsWhatTheyMissed(t *testing.T) {
	ctx := t.Context()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "labhooks.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	storetest.NewLink(t, s, labhooks.RoleLab)
	if _, err := storetest.Emit(ctx, s, storetest.ResultAdded, &labhooks.Event{Data: []byte(`{}`), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	claim := func() []*labhooks.Job {
		jobs, err := s.ClaimDeliveries(ctx, labhooks.ClaimParams{Owner: "t", Now: now, Lease: time.Hour, Limit: 10, PerDataLink: 4})
		if err != nil {
			t.Fatal(err)
		}
		return jobs
	}
	jobs := claim()
	if len(jobs) != 1 {
		t.Fatalf("claimed %d", len(jobs))
	}
	j := jobs[0]
	if err := s.RecordAttempts(ctx, []labhooks.AttemptResult{{LeaseToken: j.LeaseToken, DataLinkID: j.DataLinkID,
		Status: labhooks.DeliverySucceeded, Attempt: labhooks.Attempt{DeliveryID: j.DeliveryID, StartedAt: now, StatusCode: 200}}}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.NextDue(ctx); ok || err != nil {
		t.Fatalf("NextDue with nothing pending: %v, %v", ok, err)
	}
	if err := sqlite.MakePendingBehindItsBackForTest(s, j.DeliveryID, now.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if n := len(claim()); n != 0 {
		t.Fatalf("claimed %d before the rebuild; the test no longer tests the rebuild", n)
	}
	sqlite.ExpireDueLinksForTest(s)
	if next, ok, err := s.NextDue(ctx); !ok || err != nil || next.After(time.Now()) {
		t.Fatalf("NextDue while the index is stale = %v, %v, %v; want now, so the engine claims (and rebuilds)", next, ok, err)
	}
	if n := len(claim()); n != 1 {
		t.Fatalf("claimed %d after the rebuild, want the delivery made pending behind the index's back", n)
	}
}
