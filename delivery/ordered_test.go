package delivery

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/postgres"
	"github.com/labhooks/labhooks/postgres/pgtest"
	"github.com/labhooks/labhooks/sqlite"
)

// orderedReceiver records what an ordered data link's receiver saw: the
// appointmentId of every request in arrival order, those it stored (200),
// and the most requests it had in flight at once. It answers 500 to the
// first attempt of every third event, so that without ordering the retried
// events would arrive after younger ones.
type orderedReceiver struct {
	mu                 sync.Mutex
	arrived, stored    []int
	tried              map[int]bool
	inFlight, most     int
	hold               time.Duration
	failEveryThirdOnce bool
}

func (o *orderedReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Data struct {
			AppointmentID int `json:"appointmentId"`
		} `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n := body.Data.AppointmentID
	o.mu.Lock()
	o.inFlight++
	o.most = max(o.most, o.inFlight)
	o.arrived = append(o.arrived, n)
	fail := o.failEveryThirdOnce && n%3 == 0 && !o.tried[n]
	o.tried[n] = true
	o.mu.Unlock()
	time.Sleep(o.hold)
	o.mu.Lock()
	o.inFlight--
	if !fail {
		o.stored = append(o.stored, n)
	}
	o.mu.Unlock()
	if fail {
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	w.Write([]byte("ok"))
}

func (o *orderedReceiver) snapshot() (arrived, stored []int, most int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.arrived), slices.Clone(o.stored), o.most
}

// TestOrderedLinkDeliversInEventOrder: a burst of events to an ordered
// data link whose receiver fails the first attempt of every third event
// arrives strictly in event order, one request at a time, every event
// stored once; an unordered link beside it gets its deliveries
// concurrently. On PostgreSQL two engines on two stores (as two processes
// have) share the database, and still no two requests to the ordered link
// are ever in flight at once.
// openStores opens one SQLite store ("sqlite"), or two PostgreSQL stores on
// one new schema ("postgres"), as two processes have; they close when the
// test ends.
func openStores(t *testing.T, name string) []labhooks.Store {
	t.Helper()
	var stores []labhooks.Store
	switch name {
	case "sqlite":
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
	case "postgres":
		url := pgtest.NewSchema(t)
		for range 2 {
			s, err := postgres.Open(t.Context(), postgres.Config{URL: url, MaxConns: 4})
			if err != nil {
				t.Fatal(err)
			}
			stores = append(stores, s)
		}
	}
	for _, s := range stores {
		t.Cleanup(func() { s.Close() })
	}
	return stores
}

func TestOrderedLinkDeliversInEventOrder(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			stores := openStores(t, name)
			b := &engineBundle{store: stores[0], links: map[string][]*labhooks.DataLink{}}
			ord := &orderedReceiver{tried: map[int]bool{}, hold: 5 * time.Millisecond, failEveryThirdOnce: true}
			free := &orderedReceiver{tried: map[int]bool{}, hold: 50 * time.Millisecond}
			ordSrv, freeSrv := httptest.NewServer(ord), httptest.NewServer(free)
			t.Cleanup(ordSrv.Close)
			t.Cleanup(freeSrv.Close)
			po, pf := b.partner(t), b.partner(t)
			ordLink := b.link(t, po, ordSrv.URL)
			if _, err := b.store.UpdateDataLink(t.Context(), ordLink.ID, func(d *labhooks.DataLink) error {
				d.Ordered = true
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			b.link(t, pf, freeSrv.URL)

			for _, s := range stores {
				e := *b
				e.store = s
				e.start(t, EngineConfig{Policy: fastPolicy(20*time.Millisecond, 20*time.Millisecond, 20*time.Millisecond)})
			}
			// The burst, while the engines run; on PostgreSQL each event
			// through the store of one "process" or the other.
			const n = 30
			var wg sync.WaitGroup
			for _, p := range []*labhooks.Partner{po, pf} {
				wg.Go(func() {
					for i := range n {
						e := *b
						e.store = stores[i%len(stores)]
						e.emit(t, p, i)
					}
				})
			}
			wg.Wait()
			waitFor(t, "every event stored by both receivers", func() bool {
				_, os, _ := ord.snapshot()
				_, fs, _ := free.snapshot()
				return len(os) >= n && len(fs) >= n
			})
			arrived, stored, most := ord.snapshot()
			want := make([]int, n)
			for i := range want {
				want[i] = i
			}
			if !slices.Equal(stored, want) {
				t.Fatalf("the ordered link's receiver stored %v; want 0…%d in order, once each", stored, n-1)
			}
			if !slices.IsSorted(arrived) || len(arrived) != n+n/3 {
				t.Fatalf("requests to the ordered link arrived as %v; want in order, each third one twice", arrived)
			}
			if most != 1 {
				t.Fatalf("the ordered link's receiver had %d requests in flight at once; want 1", most)
			}
			if _, _, most := free.snapshot(); most < 2 {
				t.Fatalf("the unordered link's receiver had at most %d request in flight; want its deliveries concurrent", most)
			}
			waitFor(t, "the ordered link's queue to empty", func() bool {
				q, err := b.store.OrderedQueue(context.Background(), ordLink.ID)
				return err == nil && q.Head == "" && q.Waiting == 0
			})
		})
	}
}
