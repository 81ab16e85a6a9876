package delivery

import (
	"context"
	"io"
	"net/http"
	"strings"
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

// countingClaims counts a store's claims.
type countingClaims struct {
	labhooks.Store
	claims atomic.Int32
}

func (c *countingClaims) ClaimDeliveries(ctx context.Context, p labhooks.ClaimParams) ([]*labhooks.Job, error) {
	c.claims.Add(1)
	return c.Store.ClaimDeliveries(ctx, p)
}

// flakyOnce answers 500 to the first request whose body holds fail, then
// 200 to every request.
type flakyOnce struct {
	fail   string
	mu     sync.Mutex
	failed bool
}

func (f *flakyOnce) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	fail := !f.failed && strings.Contains(string(body), f.fail)
	f.failed = f.failed || fail
	f.mu.Unlock()
	if fail {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// TestEngineClaimsOnlyWhenAnnounced, on PostgreSQL as serve runs it (claim
// at insert, and NOTIFY for what becomes due otherwise), with a poll far
// longer than the test: deliveries handed over at insert are sent without
// a claim each time slots come back; deliveries another process stores
// (announced) and this engine's own retries are still sent at once.
func TestEngineClaimsOnlyWhenAnnounced(t *testing.T) {
	t.Parallel()
	stores := openStores(t, "postgres")
	counted := &countingClaims{Store: stores[0]}
	b := &engineBundle{store: counted, links: map[string][]*labhooks.DataLink{}}
	f := &flakyOnce{fail: `"appointmentId":200,`}
	srv := httptestServer(t, f)
	p := b.partner(t)
	b.link(t, p, srv.URL)
	b.start(t, EngineConfig{Fresh: stores[0].(labhooks.FreshQueue), Due: stores[0].(labhooks.DueListener),
		PollInterval: time.Minute, Policy: fastPolicy(20 * time.Millisecond)})
	waitFor(t, "the engine's first claim", func() bool { return counted.claims.Load() > 0 })
	time.Sleep(100 * time.Millisecond) // the wake-up of Listen's connection, and its claim

	before := counted.claims.Load()
	var ids []string
	for i := range 40 {
		ids = append(ids, b.emit(t, p, i)[0].ID)
	}
	for _, id := range ids {
		b.waitStatus(t, id, labhooks.DeliverySucceeded)
	}
	if n := counted.claims.Load() - before; n > 4 {
		t.Errorf("the engine claimed %d times for 40 deliveries handed over at insert; want next to none", n)
	}

	// Stored by another process: not handed over here, announced.
	other := *b
	other.store = stores[1]
	announced := other.emit(t, p, 100)[0].ID
	b.waitStatus(t, announced, labhooks.DeliverySucceeded)

	// This engine's own retry, 20 ms on.
	flaky := b.emit(t, p, 200)[0].ID
	d := b.waitStatus(t, flaky, labhooks.DeliverySucceeded)
	if d.AttemptCount != 2 {
		t.Fatalf("the delivery answered 500 once succeeded after %d attempts, want 2", d.AttemptCount)
	}
}
