package postgres_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
	"github.com/labhooks/labhooks/postgres"
	"github.com/labhooks/labhooks/postgres/pgtest"
	"github.com/labhooks/labhooks/storetest"
)

func open(t *testing.T, dbURL string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), postgres.Config{URL: dbURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newStore opens a store on a new schema for one test or benchmark; the
// suite runs many at once, each with a few connections.
func newStore(t testing.TB) (labhooks.Store, error) {
	return postgres.Open(t.Context(), postgres.Config{URL: pgtest.NewSchema(t), MaxConns: 4})
}

func TestConformance(t *testing.T) { storetest.Run(t, newStore) }

func TestRefusesNewerSchema(t *testing.T) {
	u := pgtest.NewSchema(t)
	open(t, u).Close()
	conn, err := pgx.Connect(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if _, err := conn.Exec(t.Context(), `UPDATE labhooks_schema SET version = $1`, postgres.SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	if s, err := postgres.Open(t.Context(), postgres.Config{URL: u}); err == nil {
		s.Close()
		t.Fatal("opened a database newer than the binary")
	}
}

// TestProcessesStartingTogether opens many stores at once on an empty
// schema, as processes started together would: one migrates, none fails.
func TestProcessesStartingTogether(t *testing.T) {
	u := pgtest.NewSchema(t)
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), postgres.Config{URL: u})
			if err == nil {
				s.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// setup makes a sampler with one data link on s.
func setup(t *testing.T, s labhooks.Store) *labhooks.DataLink {
	t.Helper()
	return storetest.NewLink(t, s, labhooks.RoleSampler)
}

// emit emits an appointmentCreated to every sampler through s.
func emit(s labhooks.Store, ctx context.Context, key string) (*labhooks.CreateEventResult, error) {
	return storetest.Emit(ctx, s, storetest.AppointmentCreated,
		&labhooks.Event{Data: json.RawMessage(`{"appointmentId":1}`), IdempotencyKey: key, CreatedAt: time.Now()})
}

// TestIdempotencyAcrossProcesses sends one idempotency key from many
// goroutines through three stores (three pools, as three processes would
// have) at once: one event is stored, and every call answers with it.
func TestIdempotencyAcrossProcesses(t *testing.T) {
	u := pgtest.NewSchema(t)
	stores := []*postgres.Store{open(t, u), open(t, u), open(t, u)}
	setup(t, stores[0])
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ids     = map[string]int{}
		fresh   int
		callErr error
	)
	start := make(chan struct{})
	for i := range 30 {
		wg.Go(func() {
			<-start
			r, err := emit(stores[i%3], t.Context(), "same-key")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				callErr = err
				return
			}
			ids[r.Event.ID]++
			if !r.Replayed {
				fresh++
			}
		})
	}
	close(start)
	wg.Wait()
	if callErr != nil {
		t.Fatal(callErr)
	}
	if len(ids) != 1 || fresh != 1 {
		t.Fatalf("30 calls with one key: events %v, %d not replayed; want one event, stored once", ids, fresh)
	}
	if ds, _, _ := stores[0].Deliveries(t.Context(), labhooks.DeliveryFilter{}); len(ds) != 1 {
		t.Fatalf("%d deliveries, want 1", len(ds))
	}
}

// TestClaimsAcrossProcessesNeverOverlap claims from three stores at once
// until the queue is empty: every delivery is claimed exactly once.
func TestClaimsAcrossProcessesNeverOverlap(t *testing.T) {
	u := pgtest.NewSchema(t)
	stores := []*postgres.Store{open(t, u), open(t, u), open(t, u)}
	setup(t, stores[0])
	setup(t, stores[0])
	const events = 150 // two links: 300 deliveries
	for range events {
		if _, err := emit(stores[0], t.Context(), ""); err != nil {
			t.Fatal(err)
		}
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		claimed = map[string]int{}
	)
	for i := range 6 {
		wg.Go(func() {
			for {
				jobs, err := stores[i%3].ClaimDeliveries(t.Context(), labhooks.ClaimParams{
					Owner: "p", Now: time.Now(), Lease: time.Hour, Limit: 7, PerDataLink: 4,
				})
				if err != nil {
					t.Error(err)
					return
				}
				if len(jobs) == 0 {
					return
				}
				mu.Lock()
				for _, j := range jobs {
					claimed[j.DeliveryID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(claimed) != 2*events {
		t.Fatalf("claimed %d distinct deliveries, want %d", len(claimed), 2*events)
	}
	for d, n := range claimed {
		if n != 1 {
			t.Fatalf("delivery %s claimed %d times within its lease", d, n)
		}
	}
}

// TestListenWakesOtherProcesses checks that an event stored through one
// store wakes a listener on another, and not one on another schema.
func TestListenWakesOtherProcesses(t *testing.T) {
	u, other := pgtest.NewSchema(t), pgtest.NewSchema(t)
	emitter, listener, elsewhere := open(t, u), open(t, u), open(t, other)
	setup(t, emitter)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	woken, wokenElsewhere := make(chan struct{}, 100), make(chan struct{}, 100)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { listener.Listen(ctx, func() { woken <- struct{}{} }) })
	wg.Go(func() { elsewhere.Listen(ctx, func() { wokenElsewhere <- struct{}{} }) })
	// Each Listen wakes once when it has connected.
	for _, c := range []chan struct{}{woken, wokenElsewhere} {
		select {
		case <-c:
		case <-time.After(10 * time.Second):
			t.Fatal("Listen did not connect")
		}
	}
	r, err := emit(emitter, t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-woken:
	case <-time.After(10 * time.Second):
		t.Fatal("a new event did not wake the listener")
	}
	// A requeued delivery wakes it too.
	if _, err := emitter.Requeue(t.Context(), labhooks.RequeueParams{DeliveryID: r.Deliveries[0].ID, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-woken:
	case <-time.After(10 * time.Second):
		t.Fatal("a requeued delivery did not wake the listener")
	}
	select {
	case <-wokenElsewhere:
		t.Fatal("an event in another schema woke the listener")
	case <-time.After(200 * time.Millisecond):
	}
}

// TestDroppedConnectionsRecover ends every connection a store holds, as a
// database restart or a proxy would: the next calls succeed on new
// connections, and Listen reconnects by itself.
func TestDroppedConnectionsRecover(t *testing.T) {
	u := pgtest.NewSchema(t)
	app := "lh_drop_" + id.New("t")
	u += "&application_name=" + app
	s := open(t, u)
	setup(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	woken := make(chan struct{}, 1000)
	wg.Go(func() { s.Listen(ctx, func() { woken <- struct{}{} }) })
	wait := func(what string) {
		t.Helper()
		select {
		case <-woken:
		case <-time.After(10 * time.Second):
			t.Fatal(what)
		}
	}
	wait("Listen did not connect")
	for range 3 { // fill the pool with a few connections
		if _, err := emit(s, t.Context(), ""); err != nil {
			t.Fatal(err)
		}
	}
	for len(woken) > 0 {
		<-woken
	}
	admin, err := pgx.Connect(t.Context(), pgtest.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(t.Context())
	var ended int
	if err := admin.QueryRow(t.Context(), `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&ended); err != nil {
		t.Fatal(err)
	}
	if ended < 2 {
		t.Fatalf("ended %d connections, want the pool's and Listen's", ended)
	}
	if _, err := emit(s, t.Context(), ""); err != nil {
		t.Fatalf("after the connections were dropped: %v", err)
	}
	wait("Listen did not reconnect and wake")
	if _, err := s.ClaimDeliveries(t.Context(), labhooks.ClaimParams{Owner: "t", Now: time.Now(), Lease: time.Minute, Limit: 10}); err != nil {
		t.Fatal(err)
	}
}

// TestTargetsFollowChangesAcrossProcesses changes data links through one
// store (process) and emits through another: every event goes to the links
// as they are when it is stored, whatever the emitting process may cache.
func TestTargetsFollowChangesAcrossProcesses(t *testing.T) {
	u := pgtest.NewSchema(t)
	a, b := open(t, u), open(t, u)
	count := func() int {
		t.Helper()
		r, err := emit(b, t.Context(), "")
		if err != nil {
			t.Fatal(err)
		}
		return len(r.Deliveries)
	}
	if n := count(); n != 0 {
		t.Fatalf("no partners: %d deliveries", n)
	}
	d := setup(t, a) // a partner and its link, made through a
	if n := count(); n != 1 {
		t.Fatalf("after another process added a link: %d deliveries, want 1", n)
	}
	now := time.Now()
	d2 := &labhooks.DataLink{ID: id.New(id.DataLink), PartnerID: d.PartnerID, URL: "https://example.test/two",
		Secret: labhooks.GenerateSecret(), Enabled: true, CreatedAt: now, UpdatedAt: now}
	if err := a.CreateDataLink(t.Context(), d2); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Fatalf("after a second link: %d deliveries, want 2", n)
	}
	if _, err := a.UpdateDataLink(t.Context(), d2.ID, func(d *labhooks.DataLink) error { d.Enabled = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("after disabling one: %d deliveries, want 1", n)
	}
	if _, err := a.UpdateDataLink(t.Context(), d.ID, func(d *labhooks.DataLink) error { d.EventNames = []string{"resultAdded"}; return nil }); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Fatalf("after the other stopped accepting the event: %d deliveries, want 0", n)
	}
	if err := a.DeletePartner(t.Context(), d.PartnerID, now); err != nil {
		t.Fatal(err)
	}
	_, err := storetest.Emit(t.Context(), b, storetest.AppointmentCreated,
		&labhooks.Event{Data: json.RawMessage(`{}`), PartnerID: d.PartnerID, CreatedAt: now})
	if labhooks.ErrorCode(err) != labhooks.ENotFound {
		t.Fatalf("to a partner another process deleted: %v, want %s", err, labhooks.ENotFound)
	}
}
