package postgres_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/postgres"
	"github.com/labhooks/labhooks/postgres/pgtest"
	"github.com/labhooks/labhooks/storetest"
)

// TestEntitySequenceAcrossProcesses emits events about two entities from
// three stores (three pools, as three processes would have) at once, some
// with an idempotency key sent through two stores at the same moment: each
// entity's events are numbered 1…n, each number once, and a replayed key
// takes none.
func TestEntitySequenceAcrossProcesses(t *testing.T) {
	u := pgtest.NewSchema(t)
	stores := []*postgres.Store{open(t, u), open(t, u), open(t, u)}
	setup(t, stores[0])
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seqs = map[string][]int64{} // entity → numbers of the events stored anew
		errs []error
	)
	start := make(chan struct{})
	for i := range 60 {
		wg.Go(func() {
			<-start
			entity := fmt.Sprint("appointment:", i%2)
			key := ""
			if i%4 < 2 {
				key = fmt.Sprint("key-", i/4) // i and i+1 (two stores) send one key at once
			}
			e := &labhooks.Event{Data: json.RawMessage(`{"appointmentId":1}`), IdempotencyKey: key, CreatedAt: time.Now(), Entity: entity}
			if key != "" {
				e.Entity = "appointment:keyed" // both calls of a key ask for the same
			}
			r, err := storetest.Emit(t.Context(), stores[i%3], storetest.AppointmentCreated, e)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			if !r.Replayed {
				seqs[r.Event.Entity] = append(seqs[r.Event.Entity], r.Event.Sequence)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for entity, want := range map[string]int{"appointment:0": 15, "appointment:1": 15, "appointment:keyed": 15} {
		got := slices.Sorted(slices.Values(seqs[entity]))
		if len(got) != want || got[0] != 1 || got[len(got)-1] != int64(want) || len(slices.Compact(slices.Clone(got))) != want {
			t.Errorf("%s: numbers %v; want 1…%d, each once", entity, got, want)
		}
	}
}
