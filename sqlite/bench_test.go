package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/sqlite"

	"github.com/labhooks/labhooks/storetest"
)

// BenchmarkStore measures the hot paths shared by every store.
func BenchmarkStore(b *testing.B) { storetest.Bench(b, newStore) }

// BenchmarkFreshDelivery is a delivery's whole life in the store as the
// engine sees it on SQLite: its event stored by 32 concurrent emitters (a
// group commit), the delivery handed over at insert, and its attempt
// recorded in a batch. Compare with CreateEventParallel plus ClaimAndRecord
// of BenchmarkStore, the same life through a claim.
func BenchmarkFreshDelivery(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "labhooks.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.NewLink(b, s, labhooks.RoleLab)
	jobs := make(chan *labhooks.Job, 4096)
	s.OfferFresh("b", time.Minute, func(js []*labhooks.Job) bool {
		for _, j := range js {
			jobs <- j
		}
		return true
	})
	recorded := make(chan int)
	go func() {
		n := 0
		for j := range jobs {
			rs := []labhooks.AttemptResult{}
			for more := true; more && len(rs) < 256; {
				rs = append(rs, labhooks.AttemptResult{LeaseToken: j.LeaseToken, DataLinkID: j.DataLinkID, Status: labhooks.DeliverySucceeded,
					Attempt: labhooks.Attempt{DeliveryID: j.DeliveryID, StartedAt: time.Now(), StatusCode: 200}})
				select {
				case j, more = <-jobs:
				default:
					more = false
				}
			}
			if err := s.RecordAttempts(context.Background(), rs); err != nil {
				panic(err)
			}
			n += len(rs)
		}
		recorded <- n
	}()
	b.SetParallelism(16) // 32 emitters on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := storetest.Emit(context.Background(), s, storetest.ResultAdded, &labhooks.Event{Data: []byte(`{"resultId":1}`), CreatedAt: time.Now()}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	close(jobs)
	if n := <-recorded; n != b.N {
		b.Fatalf("recorded %d of %d", n, b.N)
	}
}
