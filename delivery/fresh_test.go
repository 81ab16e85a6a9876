package delivery

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
)

// countingFresh passes a store's hand-overs on, counting what the engine is
// offered and what it gives back.
type countingFresh struct {
	fq                labhooks.FreshQueue
	offered, released atomic.Int32
}

func (c *countingFresh) OfferFresh(owner string, lease time.Duration, offer func([]*labhooks.Job) bool) bool {
	if offer == nil {
		return c.fq.OfferFresh(owner, lease, nil)
	}
	return c.fq.OfferFresh(owner, lease, func(jobs []*labhooks.Job) bool {
		c.offered.Add(int32(len(jobs)))
		return offer(jobs)
	})
}

func (c *countingFresh) Release(jobs []*labhooks.Job) {
	c.released.Add(int32(len(jobs)))
	c.fq.Release(jobs)
}

// tally is a slow receiver that counts each delivery's requests and the
// most attempts in flight, per URL path and in all.
type tally struct {
	mu              sync.Mutex
	byID            map[string]int
	inFlight, most  map[string]int
	total, mostEver int
}

func (ty *tally) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	ty.mu.Lock()
	ty.byID[r.Header.Get("Webhook-Id")]++
	ty.inFlight[r.URL.Path]++
	ty.most[r.URL.Path] = max(ty.most[r.URL.Path], ty.inFlight[r.URL.Path])
	ty.total++
	ty.mostEver = max(ty.mostEver, ty.total)
	ty.mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	ty.mu.Lock()
	ty.inFlight[r.URL.Path]--
	ty.total--
	ty.mu.Unlock()
}

// TestEngineFreshHandOverKeepsCaps: deliveries handed over at insert are
// attempted within MaxInFlight and PerDataLink like claimed ones; those the
// engine has no room for go back to the store and are claimed later; none
// is sent twice.
func TestEngineFreshHandOverKeepsCaps(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testEngineFreshHandOverKeepsCaps(t, &engineBundle{store: openStores(t, name)[0], links: map[string][]*labhooks.DataLink{}})
		})
	}
}

func testEngineFreshHandOverKeepsCaps(t *testing.T, b *engineBundle) {
	ty := &tally{byID: map[string]int{}, inFlight: map[string]int{}, most: map[string]int{}}
	srv := httptestServer(t, ty)
	p, q := b.partner(t), b.partner(t)
	b.link(t, p, srv.URL+"/p")
	b.link(t, q, srv.URL+"/q")
	fresh := &countingFresh{fq: b.store.(labhooks.FreshQueue)}
	const maxInFlight, perLink = 3, 2
	b.start(t, EngineConfig{Fresh: fresh, MaxInFlight: maxInFlight, PerDataLink: perLink, Policy: fastPolicy(time.Second)})
	var ids []string
	for i := range 12 {
		ids = append(ids, b.emit(t, p, i)[0].ID, b.emit(t, q, i)[0].ID)
	}
	for _, id := range ids {
		b.waitStatus(t, id, labhooks.DeliverySucceeded)
	}
	ty.mu.Lock()
	defer ty.mu.Unlock()
	for _, id := range ids {
		if n := ty.byID[id]; n != 1 {
			t.Errorf("delivery %s arrived %d times, want once", id, n)
		}
	}
	if ty.mostEver > maxInFlight {
		t.Errorf("%d attempts in flight at once, more than MaxInFlight = %d", ty.mostEver, maxInFlight)
	}
	for path, m := range ty.most {
		if m > perLink {
			t.Errorf("link %s had %d attempts in flight at once, more than PerDataLink = %d", path, m, perLink)
		}
	}
	if fresh.offered.Load() == 0 {
		t.Error("nothing was handed over at insert: the test no longer tests the hand-over")
	}
	if fresh.released.Load() == 0 {
		t.Error("the engine took every hand-over: the test no longer tests its caps")
	}
}
