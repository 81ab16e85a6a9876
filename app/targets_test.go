package app_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/postgres"
	"github.com/labhooks/labhooks/postgres/pgtest"
)

// countingStore counts an app's calls of Audience and CreateEvent, and the
// CreateEvents that found their audience stale.
type countingStore struct {
	labhooks.Store
	audiences, creates, stale atomic.Int64
}

func (c *countingStore) Audience(ctx context.Context, q labhooks.AudienceQuery) (*labhooks.Audience, error) {
	c.audiences.Add(1)
	return c.Store.Audience(ctx, q)
}

func (c *countingStore) CreateEvent(ctx context.Context, p labhooks.CreateEventParams) (*labhooks.CreateEventResult, error) {
	c.creates.Add(1)
	r, err := c.Store.CreateEvent(ctx, p)
	if errors.Is(err, labhooks.ErrStaleAudience) {
		c.stale.Add(1)
	}
	return r, err
}

// calls returns the counts since the last call, and zeroes them.
func (c *countingStore) calls() (audiences, creates, stale int64) {
	return c.audiences.Swap(0), c.creates.Swap(0), c.stale.Swap(0)
}

// twoProcesses is the application layer in two processes on one PostgreSQL
// schema: a emits (its store counted), b changes partners and data links.
func twoProcesses(t *testing.T) (a, b *bundle, counted *countingStore) {
	t.Helper()
	u := pgtest.NewSchema(t)
	open := func() labhooks.Store {
		s, err := postgres.Open(t.Context(), postgres.Config{URL: u, MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	counted = &countingStore{Store: open()}
	return setupOn(t, counted), setupOn(t, open()), counted
}

// TestEmitSeesOtherProcessChanges emits through one process while another
// changes the data links and partners: the very next emit after each change
// targets what the change implies, although the emitting process caches
// its audience. An emit with nothing changed costs one Audience and one
// CreateEvent; one after a change, a second of each (the first found its
// audience stale).
func TestEmitSeesOtherProcessChanges(t *testing.T) {
	t.Parallel()
	a, b, counted := twoProcesses(t)
	ctx := t.Context()
	lab := b.partner(t, "Central Lab", labhooks.RoleLab)

	emit := func(in app.EmitInput) (*labhooks.CreateEventResult, error) {
		t.Helper()
		if in.EventName == "" {
			in.EventName, in.Data = "sampleReceived", sampleReceived
		}
		return a.app.Emit(ctx, admin, in)
	}
	// wantLinks emits to every lab and wants deliveries to links, after a
	// stale audience (retried) or none.
	wantLinks := func(what string, retried bool, links ...string) *labhooks.CreateEventResult {
		t.Helper()
		res, err := emit(app.EmitInput{})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := deliveryLinks(res); !slices.Equal(got, sorted(links...)) {
			t.Fatalf("%s: deliveries to %v, want %v", what, got, sorted(links...))
		}
		want := [3]int64{1, 1, 0}
		if retried {
			want = [3]int64{2, 2, 1}
		}
		if au, cr, st := counted.calls(); [3]int64{au, cr, st} != want {
			t.Fatalf("%s: %d Audience, %d CreateEvent, %d stale; want %v", what, au, cr, st, want)
		}
		return res
	}

	wantLinks("a lab without links", false)
	wantLinks("again, from the cache", false)
	l1 := b.link(t, lab, "http://127.0.0.1:9/a")
	wantLinks("after another process created a link", true, l1.ID)
	wantLinks("again, from the cache", false, l1.ID)
	l2 := b.link(t, lab, "http://127.0.0.1:9/b", "sampleUpdated")
	wantLinks("after a link filtering the event out", true, l1.ID)
	if _, err := b.app.UpdateDataLink(ctx, admin, l2.ID, labhooks.DataLinkUpdate{EventNames: &[]string{"sampleReceived"}}); err != nil {
		t.Fatal(err)
	}
	wantLinks("after its filter let the event through", true, l1.ID, l2.ID)
	if _, err := b.app.UpdateDataLink(ctx, admin, l1.ID, labhooks.DataLinkUpdate{Enabled: new(false)}); err != nil {
		t.Fatal(err)
	}
	wantLinks("after disabling a link", true, l2.ID)
	if _, err := b.app.UpdateDataLink(ctx, admin, l1.ID, labhooks.DataLinkUpdate{Description: new("only words")}); err != nil {
		t.Fatal(err)
	}
	wantLinks("after a change targeting does not read", false, l2.ID)
	if err := b.app.DeleteDataLink(ctx, admin, l2.ID); err != nil {
		t.Fatal(err)
	}
	wantLinks("after deleting a link", true)

	// Ordering turned on in the other process: the emits after it are in
	// order, the second waiting behind the first.
	if _, err := b.app.UpdateDataLink(ctx, admin, l1.ID, labhooks.DataLinkUpdate{Enabled: new(true), Ordered: new(true)}); err != nil {
		t.Fatal(err)
	}
	first := wantLinks("after enabling it ordered", true, l1.ID)
	second := wantLinks("the next, from the cache", false, l1.ID)
	if !first.Deliveries[0].Ordered || !second.Deliveries[0].Ordered {
		t.Fatalf("deliveries to an ordered link not ordered: %+v, %+v", first.Deliveries[0], second.Deliveries[0])
	}
	d, err := a.store.Delivery(ctx, second.Deliveries[0].ID)
	if err != nil || d.Status != labhooks.DeliveryPending || d.NextAttemptAt != nil {
		t.Fatalf("the second delivery to an ordered link = %+v, %v; want it waiting (pending, not due)", d, err)
	}

	// A partner the emitting process has not seen yet, then its role.
	sampler := b.partner(t, "Sampler", labhooks.RoleSampler)
	l3 := b.link(t, sampler, "http://127.0.0.1:9/c")
	toSampler := app.EmitInput{EventName: "appointmentCreated", PartnerID: sampler.Partner.ID,
		Data: []byte(`{"dashboardUrl":"https://d.example/1","userUrl":"https://u.example/1","appointmentId":1,"locationId":1,` +
			`"datetime":"2020-11-16 10:00:00+00","paymentMethod":"stripe"}`)}
	if res, err := emit(toSampler); err != nil || !slices.Equal(deliveryLinks(res), []string{l3.ID}) {
		t.Fatalf("to a partner another process created: %+v, %v", res, err)
	}
	counted.calls()
	if _, err := b.app.UpdatePartner(ctx, admin, sampler.Partner.ID, labhooks.PartnerUpdate{Role: new(labhooks.RoleLab)}); err != nil {
		t.Fatal(err)
	}
	wantLinks("after a sampler became a lab", true, l1.ID, l3.ID)
	if _, err := emit(toSampler); labhooks.ErrorCode(err) != labhooks.ERoleNotAllowed {
		t.Fatalf("appointmentCreated to the partner now a lab: %v; want %s", err, labhooks.ERoleNotAllowed)
	}
	if err := b.app.DeletePartner(ctx, admin, sampler.Partner.ID); err != nil {
		t.Fatal(err)
	}
	counted.calls()
	wantLinks("after deleting a partner", true, l1.ID)
	if _, err := emit(app.EmitInput{PartnerID: sampler.Partner.ID}); labhooks.ErrorCode(err) != labhooks.ENotFound {
		t.Fatalf("to a partner another process deleted: %v; want %s", err, labhooks.ENotFound)
	}
}

// TestStaleGroupStoresEachOnce emits many events at once through one
// process, just after another added a data link: they share group
// commits, which find their audience stale. Every event is stored once,
// with a delivery to the new link, and a key sent twice is stored once.
func TestStaleGroupStoresEachOnce(t *testing.T) {
	t.Parallel()
	a, b, counted := twoProcesses(t)
	ctx := t.Context()
	lab := b.partner(t, "Central Lab", labhooks.RoleLab)
	l1 := b.link(t, lab, "http://127.0.0.1:9/a")
	for round := range 3 {
		if _, err := a.app.Emit(ctx, admin, app.EmitInput{EventName: "sampleReceived", Data: sampleReceived}); err != nil {
			t.Fatal(err) // the audience cached
		}
		l2 := b.link(t, lab, fmt.Sprintf("http://127.0.0.1:9/%d", round))
		counted.calls()
		const n = 40
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			ids  = map[string]int{}
			errs []error
		)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				in := app.EmitInput{EventName: "sampleReceived", Data: sampleReceived}
				if i%4 < 2 {
					in.IdempotencyKey = fmt.Sprintf("round-%d-key-%d", round, i/4) // i and i+1 send one key
				}
				res, err := a.app.Emit(ctx, admin, in)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				if got := deliveryLinks(res); !slices.Contains(got, l2.ID) || !slices.Contains(got, l1.ID) {
					errs = append(errs, fmt.Errorf("deliveries to %v, want %s and %s among them", got, l1.ID, l2.ID))
				}
				ids[res.Event.ID]++
			})
		}
		close(start)
		wg.Wait()
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		if len(ids) != n-n/4 {
			t.Fatalf("%d events, want %d (one for each key sent twice)", len(ids), n-n/4)
		}
		for id, answers := range ids {
			e, err := a.store.Event(ctx, id)
			if err != nil {
				t.Fatalf("event %s answered but not stored: %v", id, err)
			}
			ds, _, err := a.store.Deliveries(ctx, labhooks.DeliveryFilter{EventID: &e.ID, Limit: 100})
			if err != nil || len(ds) != round+2 {
				t.Fatalf("event %s: %d deliveries, %v; want %d", id, len(ds), err, round+2)
			}
			if answers > 2 || answers == 2 && e.IdempotencyKey == "" {
				t.Fatalf("event %s answered %d times", id, answers)
			}
		}
		if _, _, stale := counted.calls(); stale == 0 {
			t.Fatalf("round %d: no emit found its audience stale", round)
		}
	}
}

// alwaysStale is a store whose audience is always stale by the time the
// event is stored, as when the links change faster than emits are stored.
type alwaysStale struct{ countingStore }

func (s *alwaysStale) CreateEvent(ctx context.Context, p labhooks.CreateEventParams) (*labhooks.CreateEventResult, error) {
	s.creates.Add(1)
	return nil, labhooks.ErrStaleAudience
}

// TestEmitGivesUpOnChurn: an emit whose audience proves stale at every try
// is answered EUnavailable (try again) after a bounded number of tries,
// having stored nothing.
func TestEmitGivesUpOnChurn(t *testing.T) {
	t.Parallel()
	store := &alwaysStale{countingStore{Store: stores["sqlite"](t)}}
	b := setupOn(t, store)
	b.link(t, b.partner(t, "Central Lab", labhooks.RoleLab), "http://127.0.0.1:9/a")
	_, err := b.app.Emit(t.Context(), admin, app.EmitInput{EventName: "sampleReceived", Data: sampleReceived, IdempotencyKey: "k"})
	if !errors.Is(err, labhooks.ErrStaleAudience) {
		t.Fatalf("Emit = %v; want ErrStaleAudience", err)
	}
	wantCode(t, err, labhooks.EUnavailable)
	if au, cr, _ := store.calls(); au != 5 || cr != 5 {
		t.Fatalf("%d Audience, %d CreateEvent; want 5 each", au, cr)
	}
	if _, err := b.store.IdempotentEvent(t.Context(), "k"); labhooks.ErrorCode(err) != labhooks.ENotFound {
		t.Fatalf("IdempotentEvent = %v; want nothing stored", err)
	}
}
