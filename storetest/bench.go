package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
)

// Bench measures a store's hot paths, the same way for every store:
// emitting events (one caller, and many at once as the API does: the
// audience read and the event stored, as Emit does), and the delivery
// engine's claim-and-record work per delivery.
func Bench(b *testing.B, newStore NewStore) {
	b.Run("CreateEvent", func(b *testing.B) {
		_, emit := benchStore(b, newStore, 1)
		b.ResetTimer()
		emit(b.N)
	})
	b.Run("CreateEventParallel", func(b *testing.B) {
		s, _ := benchStore(b, newStore, 1)
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := Emit(b.Context(), s, AppointmentCreated, benchEvent(time.Now())); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("ClaimAndRecord", func(b *testing.B) {
		s, emit := benchStore(b, newStore, 8)
		emit(b.N/8 + 1)
		b.ResetTimer()
		for done := 0; done < b.N; {
			jobs, err := s.ClaimDeliveries(b.Context(), labhooks.ClaimParams{Owner: "b", Now: time.Now(), Lease: time.Minute, Limit: 128, PerDataLink: 16})
			if err != nil {
				b.Fatal(err)
			}
			if len(jobs) == 0 {
				b.Fatalf("nothing to claim after %d", done)
			}
			rs := make([]labhooks.AttemptResult, len(jobs))
			for i, j := range jobs {
				rs[i] = labhooks.AttemptResult{LeaseToken: j.LeaseToken, DataLinkID: j.DataLinkID, Status: labhooks.DeliverySucceeded,
					Attempt: labhooks.Attempt{DeliveryID: j.DeliveryID, StartedAt: time.Now(), StatusCode: 200}}
			}
			if err := s.RecordAttempts(b.Context(), rs); err != nil {
				b.Fatal(err)
			}
			done += len(jobs)
		}
	})
}

func benchEvent(now time.Time) *labhooks.Event {
	return &labhooks.Event{Data: json.RawMessage(`{"appointmentId":1}`), CreatedAt: now}
}

// benchStore returns a store with links data links, one sampler partner
// each, and a function that stores n events, each for every link.
func benchStore(b *testing.B, newStore NewStore, links int) (labhooks.Store, func(n int)) {
	b.Helper()
	s := setup(b, newStore).s
	now := time.Now()
	for i := range links {
		pid := id.New(id.Partner)
		p := &labhooks.Partner{ID: pid, Name: fmt.Sprint("p", i), Role: labhooks.RoleSampler, KeyHash: []byte(pid), CreatedAt: now, UpdatedAt: now}
		if err := s.CreatePartner(b.Context(), p); err != nil {
			b.Fatal(err)
		}
		d := &labhooks.DataLink{ID: id.New(id.DataLink), PartnerID: p.ID, URL: "https://x.test", Secret: "s", Enabled: true, CreatedAt: now, UpdatedAt: now}
		if err := s.CreateDataLink(b.Context(), d); err != nil {
			b.Fatal(err)
		}
	}
	emit := func(n int) {
		for range n {
			if _, err := Emit(b.Context(), s, AppointmentCreated, benchEvent(now)); err != nil {
				b.Fatal(err)
			}
		}
	}
	return s, emit
}
