package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/labhooks/labhooks/receiver"
)

// TestLatestOnly checks SaveIfNewer on both backends: updates to one entity
// saved in a shuffled order, from concurrent callers, keep the newest; an
// older one is stale once a newer is stored; the labhooks- headers are
// read back typed; and Latest finds the newest.
func TestLatestOnly(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s, reopen := b.open(t)
			occurred := time.Date(2026, 3, 1, 9, 30, 0, 250e6, time.UTC)
			update := func(seq int) *receiver.Event {
				e := event(t, fmt.Sprintf("dlv_%03d", seq), apptBody)
				e.SetMeta(&receiver.Meta{EventID: fmt.Sprintf("evt_%03d", seq), OccurredAt: occurred, Entity: "appointment:123", Sequence: int64(seq)})
				return e
			}
			if stored, stale, err := s.SaveIfNewer(ctx, update(5)); !stored || stale || err != nil {
				t.Fatalf("SaveIfNewer(#5) = %v, %v, %v", stored, stale, err)
			}
			if stored, stale, err := s.SaveIfNewer(ctx, update(3)); stored || !stale || err != nil {
				t.Fatalf("SaveIfNewer(#3 after #5) = %v, %v, %v; want stale", stored, stale, err)
			}
			if stored, stale, err := s.SaveIfNewer(ctx, update(5)); stored || stale || err != nil {
				t.Fatalf("SaveIfNewer(#5 again) = %v, %v, %v; want a duplicate", stored, stale, err)
			}
			if stale, err := s.Stale(ctx, update(4)); !stale || err != nil {
				t.Fatalf("Stale(#4) = %v, %v", stale, err)
			}
			// Plain Save stores an older one, but Latest stays the newest.
			if stored, err := s.Save(ctx, update(2)); !stored || err != nil {
				t.Fatalf("Save(#2) = %v, %v", stored, err)
			}
			order := rand.Perm(30)
			var wg sync.WaitGroup
			var mu sync.Mutex
			storedSeqs := map[int]bool{}
			for _, i := range order {
				wg.Go(func() {
					seq := 6 + i
					stored, _, err := s.SaveIfNewer(ctx, update(seq))
					if err != nil {
						t.Errorf("SaveIfNewer(#%d): %v", seq, err)
					}
					mu.Lock()
					storedSeqs[seq] = stored
					mu.Unlock()
				})
			}
			wg.Wait()
			if !storedSeqs[35] {
				t.Fatalf("the newest update (#35) was not stored: %v", storedSeqs)
			}
			latest, err := reopen().Latest(ctx, "appointment:123")
			if err != nil || latest.Sequence != 35 || latest.ID != "dlv_035" || latest.EventID != "evt_035" ||
				!latest.OccurredAt.Equal(occurred) || latest.Entity != "appointment:123" {
				t.Fatalf("Latest = %+v, %v; want #35 with its headers", latest, err)
			}
			if _, err := s.Latest(ctx, "appointment:999"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Latest of an unknown entity: %v; want ErrNotFound", err)
			}
		})
	}
}
