package storetest

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
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
	// What the per-entity sequence adds to an emit (issue 15): events
	// about no entity, all about one (every emit raises the same counter
	// row, the worst case), and each about its own.
	for _, entities := range []string{"none", "one", "many"} {
		b.Run("CreateEventParallel/entity="+entities, func(b *testing.B) {
			s, _ := benchStore(b, newStore, 1)
			b.SetParallelism(16)
			var n atomic.Int64
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					e := benchEvent(time.Now())
					switch entities {
					case "one":
						e.Entity = "appointment:1"
					case "many":
						e.Entity = fmt.Sprint("appointment:", n.Add(1))
					}
					if _, err := Emit(b.Context(), s, AppointmentCreated, e); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
	// What the audit log adds to a change: the same data link update,
	// without and with its entry appended to the chain in its transaction.
	for _, audited := range []bool{false, true} {
		b.Run(fmt.Sprintf("UpdateDataLink/audited=%v", audited), func(b *testing.B) {
			s, _ := benchStore(b, newStore, 1)
			links, err := s.DataLinks(b.Context(), labhooks.DataLinkFilter{})
			if err != nil || len(links) != 1 {
				b.Fatal(links, err)
			}
			b.ResetTimer()
			for i := range b.N {
				ctx := b.Context()
				if audited {
					ctx = labhooks.WithAudit(ctx, &labhooks.AuditEntry{Time: time.Now(), Actor: labhooks.AuditActor{Type: labhooks.ActorAdmin},
						Action: labhooks.AuditDataLinkUpdate, TargetType: "datalink", TargetID: links[0].ID, PartnerID: links[0].PartnerID,
						Details: labhooks.AuditDetails(map[string]labhooks.AuditChange{"description": {Old: i, New: i + 1}}, nil)})
				}
				_, err := s.UpdateDataLink(ctx, links[0].ID, func(d *labhooks.DataLink) error {
					d.Description = fmt.Sprint(i)
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
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
