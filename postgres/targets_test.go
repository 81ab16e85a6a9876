package postgres

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
	"github.com/labhooks/labhooks/postgres/pgtest"
	"github.com/labhooks/labhooks/storetest"
)

// TestAudienceFromCache shows the target cache at work: a change that
// bypasses the triggers (session_replication_role, as a replica applies
// rows) is not seen, so Audience answered from memory; a change through
// another process's store raises the version, which the next CreateEvent
// finds stale, and the next Audience reads afresh.
func TestAudienceFromCache(t *testing.T) {
	u := pgtest.NewSchema(t)
	s, other := openStore(t, u), openStore(t, u)
	link := storetest.NewLink(t, other, labhooks.RoleSampler)
	ctx := t.Context()
	q := storetest.AppointmentCreated.AudienceQuery(labhooks.Target{})
	a, err := s.Audience(ctx, q)
	if err != nil || len(a.Links) != 1 || !a.Links[0].Enabled || a.Version == 0 {
		t.Fatalf("Audience = %+v, %v", a, err)
	}

	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `UPDATE datalinks SET enabled = false WHERE id = $1`, link.ID); err != nil {
		t.Fatal(err)
	}
	if b, err := s.Audience(ctx, q); err != nil || b.Version != a.Version || !b.Links[0].Enabled {
		t.Fatalf("Audience after a change the triggers missed = %+v, %v; want the cached answer", b, err)
	}
	if b, err := s.Audience(ctx, labhooks.AudienceQuery{Roles: q.Roles, Fresh: true}); err != nil || b.Version != a.Version || b.Links[0].Enabled {
		t.Fatalf("Audience(Fresh) = %+v, %v; want the link disabled, the same version", b, err)
	}

	if _, err := other.UpdateDataLink(ctx, link.ID, func(d *labhooks.DataLink) error { d.Enabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	e := &labhooks.Event{ID: id.New(id.Event), EventName: storetest.AppointmentCreated.Name, Data: []byte(`{}`), CreatedAt: time.Now()}
	if _, err := s.CreateEvent(ctx, labhooks.CreateEventParams{Event: e, AudienceVersion: a.Version}); !errors.Is(err, labhooks.ErrStaleAudience) {
		t.Fatalf("CreateEvent after another process's change = %v; want ErrStaleAudience", err)
	}
	if b, err := s.Audience(ctx, q); err != nil || b.Version <= a.Version || !b.Links[0].Enabled {
		t.Fatalf("Audience after a stale CreateEvent = %+v, %v; want a newer version, the link enabled", b, err)
	}
}

// TestGroupWithStaleMembers commits groups whose members read different
// target versions: a member older than the newest is stale without being
// sent; when the newest is stale too, every member with a version is, and
// those without one are stored all the same. Each event stored is stored
// once.
func TestGroupWithStaleMembers(t *testing.T) {
	u := pgtest.NewSchema(t)
	s := openStore(t, u)
	ctx := t.Context()
	storetest.NewLink(t, s, labhooks.RoleSampler)
	version := func() int64 {
		t.Helper()
		a, err := s.Audience(ctx, labhooks.AudienceQuery{Fresh: true})
		if err != nil {
			t.Fatal(err)
		}
		return a.Version
	}
	old := version()
	storetest.NewLink(t, s, labhooks.RoleSampler)
	current := version()
	if current <= old {
		t.Fatalf("version %d after a change, %d before", current, old)
	}

	commit := func(versions ...int64) (events []string, errs []error) {
		t.Helper()
		var group []*createRequest
		for _, v := range versions {
			e := &labhooks.Event{ID: id.New(id.Event), EventName: "appointmentCreated", Data: []byte(`{}`), CreatedAt: time.Now()}
			events = append(events, e.ID)
			group = append(group, s.newCreateRequest(labhooks.CreateEventParams{Event: e, AudienceVersion: v}, nil))
		}
		s.commitGroup(group)
		for _, r := range group {
			errs = append(errs, <-r.done)
		}
		return events, errs
	}
	check := func(what string, events []string, errs []error, stale ...bool) {
		t.Helper()
		for i, err := range errs {
			_, gerr := s.Event(ctx, events[i])
			switch {
			case stale[i] && !errors.Is(err, errStale):
				t.Errorf("%s: member %d: %v; want errStale", what, i, err)
			case stale[i] && labhooks.ErrorCode(gerr) != labhooks.ENotFound:
				t.Errorf("%s: member %d, stale, was stored: %v", what, i, gerr)
			case !stale[i] && (err != nil || gerr != nil):
				t.Errorf("%s: member %d: %v, then reading it: %v; want it stored", what, i, err, gerr)
			}
		}
	}
	events, errs := commit(current, old, 0, current)
	check("the newest version current", events, errs, false, true, false, false)
	events, errs = commit(old, 0, old, 0)
	check("the newest version stale", events, errs, true, false, true, false)
	events, errs = commit(old)
	check("alone, stale", events, errs, true)

	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil || n != 5 {
		t.Fatalf("%d events stored, %v; want 5", n, err)
	}
}

func openStore(t *testing.T, u string) *Store {
	t.Helper()
	s, err := Open(t.Context(), Config{URL: u, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
