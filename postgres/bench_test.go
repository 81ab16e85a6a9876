package postgres_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
	"github.com/labhooks/labhooks/postgres"
)

// benchStore returns a store on a fresh schema with links data links of one
// sampler partner each, and a function that stores n events for every link.
func benchStore(b *testing.B, links int) (*postgres.Store, func(n int)) {
	b.Helper()
	s, err := postgres.Open(b.Context(), postgres.Config{URL: newSchema(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	now := time.Now()
	for i := range links {
		p := &labhooks.Partner{ID: id.New(id.Partner), Name: fmt.Sprint("p", i), Role: labhooks.RoleSampler, CreatedAt: now, UpdatedAt: now}
		if err := s.CreatePartner(b.Context(), p, []byte(p.ID)); err != nil {
			b.Fatal(err)
		}
		d := &labhooks.DataLink{ID: id.New(id.DataLink), PartnerID: p.ID, URL: "https://x.test", Secret: "s", Enabled: true, CreatedAt: now, UpdatedAt: now}
		if err := s.CreateDataLink(b.Context(), d); err != nil {
			b.Fatal(err)
		}
	}
	emit := func(n int) {
		for range n {
			e := &labhooks.Event{ID: id.New(id.Event), EventName: "appointmentCreated", Data: json.RawMessage(`{"appointmentId":1}`), CreatedAt: now}
			if _, err := s.CreateEvent(b.Context(), labhooks.CreateEventParams{Event: e, Roles: []labhooks.Role{labhooks.RoleSampler}, Now: now}); err != nil {
				b.Fatal(err)
			}
		}
	}
	return s, emit
}

// BenchmarkCreateEvent stores one event with one delivery per iteration.
func BenchmarkCreateEvent(b *testing.B) {
	_, emit := benchStore(b, 1)
	b.ResetTimer()
	emit(b.N)
}

// BenchmarkCreateEventParallel stores events from many goroutines at once,
// as concurrent API requests do.
func BenchmarkCreateEventParallel(b *testing.B) {
	s, _ := benchStore(b, 1)
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e := &labhooks.Event{ID: id.New(id.Event), EventName: "appointmentCreated", Data: json.RawMessage(`{"appointmentId":1}`), CreatedAt: time.Now()}
			if _, err := s.CreateEvent(b.Context(), labhooks.CreateEventParams{Event: e, Roles: []labhooks.Role{labhooks.RoleSampler}, Now: time.Now()}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkClaimAndRecord claims deliveries 128 at a time and records a
// success for each: the delivery engine's database work per delivery.
func BenchmarkClaimAndRecord(b *testing.B) {
	s, emit := benchStore(b, 8)
	emit(b.N/8 + 1)
	b.ResetTimer()
	done := 0
	for done < b.N {
		jobs, err := s.ClaimDeliveries(b.Context(), labhooks.ClaimParams{Owner: "b", Now: time.Now(), Lease: time.Minute, Limit: 128, PerDataLink: 16})
		if err != nil {
			b.Fatal(err)
		}
		if len(jobs) == 0 {
			b.Fatalf("nothing to claim after %d", done)
		}
		rs := make([]labhooks.AttemptResult, len(jobs))
		for i, j := range jobs {
			rs[i] = labhooks.AttemptResult{LeaseToken: j.LeaseToken, Status: labhooks.DeliverySucceeded,
				Attempt: labhooks.Attempt{DeliveryID: j.DeliveryID, StartedAt: time.Now(), StatusCode: 200}}
		}
		if err := s.RecordAttempts(b.Context(), rs); err != nil {
			b.Fatal(err)
		}
		done += len(jobs)
	}
}
